"""Which files an import reads, in which order, and how it reads them whole (their sha256).

Also the checks a file must pass before the import reads it: its name (`refused_name`) and its
header (`checked_header`, `read_checked_header`), so that a file handed over another way (the
console's upload) is held to the loader's own rules before it reaches the inbox.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from backoffice.ingest.reader import CsvChunker, FileFormatError, open_regular
from backoffice.ingest.spec import Dataset

# `import_runs.file_name` is a varchar(255), and a folder entry's name at most 255 bytes.
MAX_NAME_LENGTH = 255


def sha256_of(path: Path) -> str:
    """The file's sha256, read in 1 MiB blocks (`NotARegularFile` for a FIFO, a directory)."""
    digest = hashlib.sha256()
    with open_regular(path) as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def max_line_bytes() -> int:
    """The `INGEST_MAX_LINE_BYTES` setting."""
    from backoffice.core.config import get_settings

    return get_settings().ingest_max_line_bytes


def file_rank(dataset: Dataset, name: str, today: str | None = None) -> str:
    """When a file is applied: the date its name carries, else the day it arrives (`YYYYMMDD`)."""
    return dataset.file_date(name) or today or datetime.now(UTC).strftime("%Y%m%d")


def order_files(dataset: Dataset, paths: Iterable[Path]) -> list[Path]:
    """Files in import order (date, then name: `file_rank`); directories expanded.

    A directory's entries matching the dataset's pattern are all listed, files or not, so that
    a directory or a FIFO named like a file is refused with a reason rather than passed over.
    """
    files: set[Path] = set()
    for path in paths:
        if path.is_dir():
            files.update(path.glob(dataset.file_pattern))
        else:
            files.add(path)
    today = datetime.now(UTC).strftime("%Y%m%d")
    return sorted(files, key=lambda p: (file_rank(dataset, p.name, today), p.name))


def newer_import(dataset: Dataset, name: str, imported: Iterable[str]) -> str | None:
    """The newest imported file dated after `name` (undated names are the newest so far)."""
    key = dataset.file_date(name)
    if key is None:
        return None
    newer = sorted(n for n in imported if (dataset.file_date(n) or "") > key)
    return newer[-1] if newer else None


def refused_name(dataset: Dataset, name: str) -> str | None:
    """Why a file named `name` would not be imported from the inbox, or None if it would.

    A plain file name (no folder, not hidden, printable, at most 255 bytes) that the inbox's
    glob (`file_pattern`) finds, and that carries a date if the dataset needs one.
    """
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return "A file name in readable text."
    if not 0 < size <= MAX_NAME_LENGTH:  # a folder entry's limit, in bytes
        return f"A file name is 1 to {MAX_NAME_LENGTH} bytes long."
    if "/" in name or "\\" in name or name in (".", "..") or not name.isprintable():
        return "A file name, without a folder or unusual characters."
    if name.startswith("."):
        return "A file name that does not start with a dot (the inbox ignores hidden files)."
    if not fnmatch.fnmatchcase(name, dataset.file_pattern):
        return f"The inbox only takes files named {dataset.file_name_hint}."
    if dataset.dated_names and dataset.file_date(name) is None:
        return (
            f"Name the file {dataset.file_name_hint}, with YYYYMMDD a real day (the day it holds)."
        )
    return None


def checked_header(dataset: Dataset, header: list[str]) -> list[str]:
    """`header` if it names each of the dataset's columns once; `FileFormatError` otherwise."""
    expected = set(dataset.column_names)
    if len(set(header)) != len(header):
        raise FileFormatError(f"the header repeats a column: {header}")
    missing, unknown = expected - set(header), set(header) - expected
    if missing or unknown:
        raise FileFormatError(
            f"the header does not match: missing {sorted(missing)}, unknown {sorted(unknown)}"
        )
    return header


def read_checked_header(dataset: Dataset, path: Path, max_line: int) -> list[str]:
    """The file's header, read as the import reads it and checked (`FileFormatError`).

    An empty file, a header longer than `max_line` bytes, or one that does not name the
    dataset's columns is refused; only the header line is read.
    """
    with open_regular(path) as stream:
        chunker = CsvChunker(stream, chunk_bytes=64 * 1024, max_line_bytes=max_line)
        return checked_header(dataset, chunker.read_header())
