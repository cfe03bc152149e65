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
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from backoffice.ingest.spec import normalise_header

DEFAULT_CHUNK_BYTES = 1 << 20
BOM = b"\xef\xbb\xbf"


class FileFormatError(Exception):
    """The file cannot be imported at all (bad header): nothing of it is written."""


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
    """Iterate over a CSV file block by block; computes the file's sha256 on the way."""

    def __init__(self, stream: BinaryIO, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        self.stream = stream
        self.chunk_bytes = chunk_bytes
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
        """Read and normalise the header line (BOM, case, spaces); [] for an empty file."""
        while b"\n" not in self._buffer:
            data = self._read()
            if not data:
                break
            self._buffer += data
        first, sep, rest = self._buffer.partition(b"\n")
        self._buffer = rest
        first = first.removeprefix(BOM).rstrip(b"\r")
        self._line = 1
        if not first.strip():
            if sep and rest.strip():
                raise FileFormatError("the first line (the header) is blank")
            return []
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
                if cut < 0:
                    continue
                raw, self._buffer = self._buffer[: cut + 1], self._buffer[cut + 1 :]
            if raw:
                block, leftover = self._split(raw, final)
                self._buffer = leftover + self._buffer
                block.bytes_read = self.bytes_read - len(self._buffer)
                yield block
            if final:
                return

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
                text = b"\n".join(pending).decode("utf-8", errors="replace")
                block.rejects.append(Reject(start, text, "unterminated quoted field"))
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
