"""A file sent to the inbox (an upload): it lands whole and checked, under its name, or not at all.

The bytes go to a temporary file in the inbox itself (a name no dataset's pattern matches, so
no import reads it half-written), are checked as the import checks a file (its name, a header
naming the dataset's columns, not empty) and only then take their name, by a hard link that
never replaces a file already there. Whatever is refused leaves nothing behind.

Blocking (file system calls): an async caller runs these in a thread.
"""

from __future__ import annotations

import fnmatch
import os
import secrets
from pathlib import Path
from typing import BinaryIO

from backoffice.core.errors import DomainError
from backoffice.ingest.files import checked_header, max_line_bytes
from backoffice.ingest.pipeline import ImportRefused, check_name
from backoffice.ingest.reader import CsvChunker, FileFormatError, open_regular
from backoffice.ingest.spec import Dataset

PARTIAL_PREFIX = ".upload-"  # a file being received: hidden, and never `<dataset>_*.csv`


class FileRefused(DomainError):
    """The file cannot go to the inbox: `message` says why, in plain words."""

    status_code = 422
    code = "file_refused"


class FileTooLarge(DomainError):
    """The file is larger than the inbox takes."""

    status_code = 413
    code = "file_too_large"


def refuse_bad_name(dataset: Dataset, name: str) -> None:
    """`FileRefused` unless the import takes a file named `name` (its pattern, a real date)."""
    # The import reads what its directory glob lists (`files.order_files`), then checks the name.
    if Path(name).name != name or not fnmatch.fnmatchcase(name, dataset.file_pattern):
        raise FileRefused(f"The file must be named {dataset.file_name_hint}.")
    try:
        check_name(dataset, name)
    except ImportRefused as exc:
        raise FileRefused(
            f"The file must be named {dataset.file_name_hint}, with YYYYMMDD a real day"
            " (the day it holds)."
        ) from exc


def size_text(size: int) -> str:
    """`536870912` -> `512 MiB`; `1000` -> `1,000 bytes`."""
    if size >= 1 << 20 and size % (1 << 20) == 0:
        return f"{size >> 20:,} MiB"
    return f"{size:,} bytes"


class Landing:
    """A file being received into `inbox` as `name`, at most `max_bytes` long.

    `write` its bytes in order, then `finish` (checked, named) or `discard` (nothing left).
    """

    def __init__(self, dataset: Dataset, inbox: Path, name: str, max_bytes: int) -> None:
        refuse_bad_name(dataset, name)
        self.dataset = dataset
        self.inbox = inbox
        self.name = name
        self.max_bytes = max_bytes
        self.size = 0
        self.partial = inbox / f"{PARTIAL_PREFIX}{secrets.token_hex(8)}.part"
        self._file: BinaryIO | None = None

    def open(self) -> None:
        """Create the inbox if need be and the temporary file (never an existing one)."""
        self.inbox.mkdir(parents=True, exist_ok=True)
        self._file = self.partial.open("xb")

    def write(self, data: bytes) -> None:
        """Append `data`; `FileTooLarge` (and nothing kept) past `max_bytes`."""
        assert self._file is not None, "open() first"
        self.size += len(data)
        if self.size > self.max_bytes:
            self.discard()
            raise FileTooLarge(f"The file is larger than {size_text(self.max_bytes)}.")
        self._file.write(data)

    def finish(self) -> Path:
        """Check the file and give it its name in the inbox; `FileRefused` (nothing kept) if not."""
        assert self._file is not None, "open() first"
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            if self.size == 0:
                raise FileRefused("The file is empty (0 bytes): a truncated export?")
            self._check_header()
            final = self.inbox / self.name
            try:
                os.link(self.partial, final)  # never replaces a file of that name
            except FileExistsError:
                raise FileRefused(
                    f"{self.name} is already in the inbox: a day's file is sent once."
                ) from None
            return final
        finally:
            self.discard()

    def discard(self) -> None:
        """Close and remove the temporary file (the named one, if any, stays)."""
        if self._file is not None and not self._file.closed:
            self._file.close()
        self.partial.unlink(missing_ok=True)

    def _check_header(self) -> None:
        try:
            with open_regular(self.partial) as stream:
                chunker = CsvChunker(stream, max_line_bytes=max_line_bytes())
                checked_header(self.dataset, chunker.read_header())
        except FileFormatError as exc:
            raise FileRefused(f"This is not a {self.dataset.name} file: {exc}.") from exc
