"""The streaming reader: records, line numbers, quoting, BOM, CRLF, bad bytes, any chunk size."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.ingest.reader import CsvChunker, FileFormatError


def _read(data: bytes, chunk: int = 1 << 20):
    chunker = CsvChunker(io.BytesIO(data), chunk)
    header = chunker.read_header()
    records, rejects = [], []
    for block in chunker.blocks():
        records += [(block.number(i), r) for i, r in enumerate(block.records)]
        rejects += [(r.line, r.reason) for r in block.rejects]
    return header, records, rejects, chunker.sha256.hexdigest()


def test_header_is_normalised_and_the_bom_dropped():
    header, records, _, _ = _read(b"\xef\xbb\xbf Event ID ,MERCHANT-Tier\r\na,b\r\n")
    assert header == ["event_id", "merchant_tier"]
    assert records == [(2, "a,b")]


def test_bad_bytes_are_set_aside_with_their_line_number():
    _, records, rejects, _ = _read(b"h1,h2\nok,1\n\xff\xfe,2\nnul\x00,3\n")
    assert records == [(2, "ok,1")]
    assert rejects == [(3, "line is not valid UTF-8"), (4, "line holds a NUL byte")]


def test_an_unterminated_quote_is_rejected_at_the_end():
    _, records, rejects, _ = _read(b'h1,h2\nok,1\n"open,2\nmore,3\n')
    assert records == [(2, "ok,1")]
    assert rejects == [(3, "unterminated quoted field")]


def test_a_blank_first_line_is_a_bad_header():
    with pytest.raises(FileFormatError):
        _read(b"\n\na,b\n")


cell = st.text(st.characters(codec="utf-8", exclude_characters="\x00\r"), max_size=8)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.lists(cell, min_size=2, max_size=2), max_size=30),
    chunk=st.integers(1, 64),
    crlf=st.booleans(),
)
def test_any_csv_reads_back_record_by_record_at_any_chunk_size(rows, chunk, crlf):
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if crlf else "\n").writerows([["a", "b"], *rows])
    data = out.getvalue().encode()
    _, records, rejects, digest = _read(data, chunk)
    assert rejects == []
    parsed = [next(csv.reader(io.StringIO(r, newline=""))) for _, r in records]
    assert parsed == rows  # two cells always write a comma: no row is a blank line
    numbers = [n for n, _ in records]
    assert numbers == sorted(numbers) and (not numbers or numbers[0] == 2)
    assert digest == hashlib.sha256(data).hexdigest()
