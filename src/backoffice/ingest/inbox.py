"""A file sent to an inbox (an upload): it lands whole and checked, under its name, or not at all.

The bytes go to a temporary file in the inbox itself, named `.upload-<random>.part`: hidden, and
matched by no dataset's pattern (`*.csv` for transactions, `activities_*.csv` for merchants: the
globs of `files.order_files`), so no import reads it half-written. It is checked with the
loader's own functions (`files.refused_name` before anything is written; then not empty, and
`files.read_checked_header`) and only then takes its name, by a hard link that never replaces a
file already there. Whatever is refused leaves nothing behind.

Blocking (file system calls): an async caller runs `open`, `write` and `finish` in a thread.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import BinaryIO

from backoffice.core.errors import DomainError
from backoffice.ingest.files import read_checked_header, refused_name
from backoffice.ingest.reader import FileFormatError
from backoffice.ingest.spec import Dataset

PARTIAL_PREFIX = ".upload-"  # a file being received: hidden, and never a dataset's `*.csv`
PARTIAL_SUFFIX = ".part"


class FileRefused(DomainError):
    """The file cannot go to the inbox: `message` says why, in plain words."""

    status_code = 422
    code = "file_refused"


class InboxUnavailable(DomainError):
    """The inbox cannot take a file now (missing, read-only, full): nothing of it was kept."""

    status_code = 503
    code = "inbox_unavailable"

    def __init__(self, exc: OSError) -> None:
        super().__init__(
            f"The inbox cannot take the file now ({exc.strerror or type(exc).__name__})."
            " Nothing was kept; tell the people who run the server."
        )


class Landing:
    """A file of `dataset` being received into `inbox` as `name`.

    `open`, `write` its bytes in order, then `finish` (checked, named) or `discard` (nothing
    left). A name the import would not take is refused at once (`FileRefused`), before any file
    exists; `max_line` bounds the header line as the import bounds it.
    """

    def __init__(self, dataset: Dataset, inbox: Path, name: str, max_line: int) -> None:
        problem = refused_name(dataset, name)
        if problem is not None:
            raise FileRefused(problem)
        self.dataset = dataset
        self.inbox = inbox
        self.name = name
        self.max_line = max_line
        self.size = 0
        self.partial = inbox / f"{PARTIAL_PREFIX}{secrets.token_hex(8)}{PARTIAL_SUFFIX}"
        self._file: BinaryIO | None = None

    def open(self) -> None:
        """Create the inbox if need be and the temporary file (never an existing one)."""
        try:
            self.inbox.mkdir(parents=True, exist_ok=True)
            self._file = self.partial.open("xb")
        except OSError as exc:
            raise InboxUnavailable(exc) from exc

    def write(self, data: bytes) -> None:
        """Append `data` (`InboxUnavailable`, and nothing kept, if the disk refuses it)."""
        assert self._file is not None, "open() first"
        try:
            self._file.write(data)
            self._file.flush()  # in the file as it arrives, not in a buffer of ours
        except OSError as exc:
            self.discard()
            raise InboxUnavailable(exc) from exc
        self.size += len(data)

    def finish(self) -> Path:
        """Check the file and give it its name in the inbox; `FileRefused` (nothing kept) if not.

        The temporary file is gone afterwards either way.
        """
        assert self._file is not None, "open() first"
        try:
            self._file.flush()
            os.fsync(self._file.fileno())  # on disk before it has its name: no half file
            self._file.close()
            if self.size == 0:
                raise FileRefused("The file is empty (0 bytes): a truncated export?")
            try:
                read_checked_header(self.dataset, self.partial, self.max_line)
            except FileFormatError as exc:
                raise FileRefused(f"This is not a {self.dataset.name} export: {exc}.") from exc
            final = self.inbox / self.name
            try:
                os.link(self.partial, final)  # never replaces a file of that name
            except FileExistsError:
                raise FileRefused(
                    f"A file named {self.name} is already in the inbox, waiting for its import"
                    " or imported: a day's file is sent once (give another day's its own name)."
                ) from None
            return final
        except OSError as exc:
            raise InboxUnavailable(exc) from exc
        finally:
            self.discard()

    def discard(self) -> None:
        """Close and remove the temporary file (the named one, if any, stays)."""
        if self._file is None:
            return  # never made (or `open` failed): nothing of ours is there
        if not self._file.closed:
            self._file.close()
        self.partial.unlink(missing_ok=True)
