"""Streaming CSV reader: a file as blocks of numbered records, never the whole file in memory.

It strips the BOM, normalises the header, turns CRLF into LF, joins quoted fields that span
lines (RFC 4180) and sets aside lines that are not UTF-8 or hold a NUL byte. A block without a
quote is just its lines (numbered from `first_line`); others carry each record's number.

Why our own reader rather than pyarrow's or polars' CSV readers: the quarantine needs each bad
row's line number and raw text, and rows with a wrong field count must be set aside rather than
abort the file; neither reader gives that per row. The common path costs a decode and a split
per block; the engine then checks the block's lines vectorised (polars over the list of lines).
"""

from __future__ import annotations

import csv
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from backoffice.ingest.spec import normalise_header

DEFAULT_CHUNK_BYTES = 1 << 20
DEFAULT_MAX_LINE_BYTES = 1 << 20  # the `INGEST_MAX_LINE_BYTES` setting's default
KEPT_PREFIX_BYTES = 4096  # what the quarantine keeps of a line (its first 4 KiB)
BOM = b"\xef\xbb\xbf"


class FileFormatError(Exception):
    """The file cannot be imported at all (bad header): nothing of it is written."""


class NotARegularFile(FileFormatError):
    """The path is a directory, a FIFO, a socket or a device: never opened for reading."""


def open_regular(path: Path) -> BinaryIO:
    """`path` opened for reading if it is a regular file; `NotARegularFile` otherwise.

    Opened without blocking (a FIFO's open would wait for a writer for ever) and checked on
    the descriptor itself (the path may change in between), then read as a plain file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise NotARegularFile(f"{path.name} is a directory, not a file") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = (
                "a directory"
                if stat.S_ISDIR(mode)
                else "not a regular file (FIFO, socket or device)"
            )
            raise NotARegularFile(f"{path.name} is {kind}")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def bounded(raw: str, limit: int = KEPT_PREFIX_BYTES) -> tuple[str, int]:
    """(the first `limit` bytes of `raw`, whole characters only; its length in bytes)."""
    if len(raw) * 4 <= limit:  # short: no need to encode it to know
        return raw, len(raw.encode())
    data = raw.encode()
    if len(data) <= limit:
        return raw, len(data)
    return data[:limit].decode("utf-8", errors="ignore"), len(data)


@dataclass(slots=True)
class Reject:
    """A line refused, with its number, raw text and reason."""

    line: int
    raw: str
    reason: str


@dataclass(slots=True)
class Block:
    """Records of a stretch of the file; `numbers` is None when they are consecutive lines."""

    first_line: int
    records: list[str]
    numbers: list[int] | None = None
    rejects: list[Reject] = field(default_factory=list)
    bytes_read: int = 0

    def number(self, index: int) -> int:
        """The line number of record `index` (where it starts)."""
        return self.numbers[index] if self.numbers is not None else self.first_line + index


class CsvChunker:
    """Iterate over a CSV file block by block; computes the file's sha256 on the way.

    No record is held whole past `max_line_bytes`: a longer header refuses the file
    (`FileFormatError`), a longer record (a line, or a quoted field running over lines) is
    rejected with its first 4 KiB and its length, and reading goes on at the next line.
    """

    def __init__(
        self,
        stream: BinaryIO,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        self.stream = stream
        self.chunk_bytes = chunk_bytes
        self.max_line_bytes = max_line_bytes
        self.sha256 = hashlib.sha256()
        self.header: list[str] = []
        self.bytes_read = 0
        self._line = 0  # number of the last line consumed
        self._buffer = b""

    def _read(self) -> bytes:
        data = self.stream.read(self.chunk_bytes)
        self.sha256.update(data)
        self.bytes_read += len(data)
        return data

    def read_header(self) -> list[str]:
        """Read and normalise the header line (BOM, case, spaces).

        Raises `FileFormatError` for an empty file (a truncated export), a blank or missing
        header, and a header longer than `max_line_bytes`.
        """
        while b"\n" not in self._buffer:
            if len(self._buffer) > self.max_line_bytes:
                raise FileFormatError(
                    f"the header is longer than {self.max_line_bytes} bytes (INGEST_MAX_LINE_BYTES)"
                )
            data = self._read()
            if not data:
                break
            self._buffer += data
        first, sep, rest = self._buffer.partition(b"\n")
        if len(first) > self.max_line_bytes:
            raise FileFormatError(
                f"the header is longer than {self.max_line_bytes} bytes (INGEST_MAX_LINE_BYTES)"
            )
        self._buffer = rest
        first = first.removeprefix(BOM).rstrip(b"\r")
        self._line = 1
        if not first.strip():
            if not self.bytes_read:
                raise FileFormatError("the file is empty (0 bytes): a truncated export?")
            if sep and rest.strip():
                raise FileFormatError("the first line (the header) is blank")
            raise FileFormatError("the file has no header line")
        try:
            names = next(csv.reader([first.decode("utf-8")]))
        except UnicodeDecodeError as exc:
            raise FileFormatError("the header is not valid UTF-8") from exc
        self.header = [normalise_header(n) for n in names]
        return self.header

    def blocks(self) -> Iterator[Block]:
        """The rest of the file, block by block (call `read_header` first)."""
        while True:
            data = self._read()
            final = not data
            self._buffer += data
            if final:
                raw, self._buffer = self._buffer, b""
            else:
                cut = self._buffer.rfind(b"\n")
                raw, self._buffer = self._buffer[: cut + 1], self._buffer[cut + 1 :]
            if raw:
                block, leftover = self._split(raw, final)
                if len(raw) > self.max_line_bytes:
                    self._bound(block)
                self._buffer = leftover + self._buffer
                block.bytes_read = self.bytes_read - len(self._buffer)
                yield block
            if final:
                return
            if len(self._buffer) > self.max_line_bytes:  # one record, still unfinished
                yield self._long_record()

    def _long_record(self) -> Block:
        """The record in the buffer passed `max_line_bytes`: reject it and skip to its end.

        The buffer holds the record's start (the lines of a quoted field still open, then the
        unfinished line); only its first 4 KiB are kept while the rest is read and dropped.
        """
        lines = self._buffer.count(b"\n") + 1
        prefix = self._buffer[:KEPT_PREFIX_BYTES]
        length = len(self._buffer)
        self._buffer = b""
        while True:
            data = self._read()
            end = data.find(b"\n")
            if end >= 0 or not data:
                length += end if end >= 0 else 0
                self._buffer = data[end + 1 :] if end >= 0 else b""
                break
            length += len(data)
        number = self._line + 1
        self._line += lines
        reject = self._too_long(number, prefix, length)
        return Block(number, [], [], [reject], self.bytes_read - len(self._buffer))

    def _bound(self, block: Block) -> None:
        """Reject the block's records longer than `max_line_bytes` (whole ones, read at once)."""
        limit = self.max_line_bytes
        sizes = {
            i: size
            for i, record in enumerate(block.records)
            if len(record) * 4 > limit and (size := len(record.encode())) > limit
        }
        if not sizes:
            return
        numbers = [block.number(i) for i in range(len(block.records))]
        for i, size in sizes.items():
            block.rejects.append(self._too_long(numbers[i], block.records[i].encode(), size))
        block.records = [r for i, r in enumerate(block.records) if i not in sizes]
        block.numbers = [n for i, n in enumerate(numbers) if i not in sizes]

    def _too_long(self, number: int, prefix: bytes, length: int) -> Reject:
        text = prefix[:KEPT_PREFIX_BYTES].decode("utf-8", errors="ignore")
        reason = (
            f"line longer than {self.max_line_bytes} bytes (INGEST_MAX_LINE_BYTES):"
            f" {length} bytes, its first {len(text.encode())} kept"
        )
        return Reject(number, text, reason)

    def _split(self, raw: bytes, final: bool) -> tuple[Block, bytes]:
        if b"\r" in raw:
            raw = raw.replace(b"\r\n", b"\n")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        if text and '"' not in text and "\x00" not in text:
            lines = text.split("\n")
            if not lines[-1]:
                lines.pop()
            block = Block(self._line + 1, lines)
            self._line += len(lines)
            return block, b""
        return self._split_slow(raw, final)

    def _split_slow(self, raw: bytes, final: bool) -> tuple[Block, bytes]:
        lines = raw.split(b"\n")
        if not lines[-1]:
            lines.pop()
        block = Block(self._line + 1, [], [])
        numbers: list[int] = []
        pending: list[bytes] = []
        start = 0
        for index, line in enumerate(lines):
            number = self._line + 1 + index
            if pending:
                pending.append(line)
                if b"\n".join(pending).count(b'"') % 2:
                    continue
                self._add(block, numbers, b"\n".join(pending), start)
                pending = []
            elif line.count(b'"') % 2:
                pending, start = [line], number
            else:
                self._add(block, numbers, line, number)
        consumed = len(lines)
        leftover = b""
        if pending:
            if final:  # an unterminated quote runs to the end of the file
                text = b"\n".join(pending)[:KEPT_PREFIX_BYTES].decode("utf-8", errors="replace")
                block.rejects.append(Reject(start, text, "unterminated quoted field"))
            elif sum(len(p) + 1 for p in pending) > self.max_line_bytes:
                # a quoted field that runs on past the bound: rejected, reading goes on after
                record = b"\n".join(pending)
                block.rejects.append(self._too_long(start, record, len(record)))
            else:
                consumed -= len(pending)
                leftover = b"\n".join(pending) + b"\n"
        self._line += consumed
        block.numbers = numbers
        return block, leftover

    @staticmethod
    def _add(block: Block, numbers: list[int], record: bytes, number: int) -> None:
        try:
            text = record.decode("utf-8")
        except UnicodeDecodeError:
            raw = record.decode("utf-8", errors="replace")
            block.rejects.append(Reject(number, raw, "line is not valid UTF-8"))
            return
        if "\x00" in text:
            block.rejects.append(
                Reject(number, text.replace("\x00", "\\0"), "line holds a NUL byte")
            )
            return
        block.records.append(text)
        numbers.append(number)
