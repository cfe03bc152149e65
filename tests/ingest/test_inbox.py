"""The inbox: an uploaded file lands whole and checked under its name, or leaves nothing."""

from __future__ import annotations

import re
import string
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.ingest.inbox import FileRefused, FileTooLarge, Landing, refuse_bad_name, size_text
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from tests.merchants.conftest import FIXTURES

GOOD = (FIXTURES / "activities_20240101.csv").read_bytes()


def _land(inbox: Path, name: str, content: bytes, max_bytes: int = 1 << 20) -> Path:
    landing = Landing(MERCHANT_ACTIVITIES, inbox, name, max_bytes)
    landing.open()
    for start in range(0, len(content), 100):
        landing.write(content[start : start + 100])
    return landing.finish()


def test_a_good_file_lands_whole_under_its_name(tmp_path):
    inbox = tmp_path / "inbox"  # made on first use
    path = _land(inbox, "activities_20240101.csv", GOOD)
    assert path == inbox / "activities_20240101.csv"
    assert path.read_bytes() == GOOD
    assert [p.name for p in inbox.iterdir()] == ["activities_20240101.csv"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty (0 bytes)"),
        (b"\n\n", "no header line"),
        (b"a,b\n1,2\n", "the header does not match"),
        (GOOD.replace(b"merchant_id", b"event_id", 1), "repeats a column"),
    ],
)
def test_a_file_the_import_would_refuse_leaves_nothing(tmp_path, content, message):
    with pytest.raises(FileRefused, match=re.escape(message)):
        _land(tmp_path, "activities_20240101.csv", content)
    assert list(tmp_path.iterdir()) == []


def test_a_file_over_the_limit_leaves_nothing(tmp_path):
    with pytest.raises(FileTooLarge, match="larger than 500 bytes"):
        _land(tmp_path, "activities_20240101.csv", GOOD, max_bytes=500)
    assert list(tmp_path.iterdir()) == []


def test_a_file_already_there_is_never_replaced(tmp_path):
    (tmp_path / "activities_20240101.csv").write_bytes(b"first")
    with pytest.raises(FileRefused, match="already in the inbox"):
        _land(tmp_path, "activities_20240101.csv", GOOD)
    assert [p.name for p in tmp_path.iterdir()] == ["activities_20240101.csv"]
    assert (tmp_path / "activities_20240101.csv").read_bytes() == b"first"


def test_the_partial_file_is_never_one_the_import_reads(tmp_path):
    landing = Landing(MERCHANT_ACTIVITIES, tmp_path, "activities_20240101.csv", 1 << 20)
    landing.open()
    landing.write(GOOD[:50])
    assert [p.name for p in tmp_path.glob(MERCHANT_ACTIVITIES.file_pattern)] == []
    landing.discard()
    assert list(tmp_path.iterdir()) == []


@given(st.dates(min_value=date(1000, 1, 1)).map(lambda d: d.strftime("%Y%m%d")))
def test_every_real_day_is_a_name_the_inbox_takes(day):
    refuse_bad_name(MERCHANT_ACTIVITIES, f"activities_{day}.csv")


@given(st.text(alphabet=string.printable, max_size=40))
def test_a_name_is_taken_only_if_the_import_would_take_it(name):
    takes = MERCHANT_ACTIVITIES.file_date(name) is not None
    try:
        refuse_bad_name(MERCHANT_ACTIVITIES, name)
    except FileRefused:
        assert not takes
    else:
        assert takes and "/" not in name


def test_sizes_read_plainly():
    assert size_text(512 << 20) == "512 MiB"
    assert size_text(1000) == "1,000 bytes"
