"""The inbox: an uploaded file lands whole and checked under its name, or leaves nothing."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.ingest.files import order_files, refused_name
from backoffice.ingest.inbox import FileRefused, InboxUnavailable, Landing
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from backoffice.transactions.dataset import TRANSACTIONS
from tests.merchants.conftest import FIXTURES

GOOD = (FIXTURES / "activities_20240101.csv").read_bytes()
MAX_LINE = 4096


def _land(inbox: Path, name: str, content: bytes, dataset=MERCHANT_ACTIVITIES) -> Path:
    landing = Landing(dataset, inbox, name, MAX_LINE)
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


def test_a_transactions_export_lands_the_same_way(tmp_path):
    content = b"transaction_id,user_id,amount,transaction_date\nT-1,1,1.00,2019-11-07\n"
    path = _land(tmp_path, "bank_20191107.csv", content, TRANSACTIONS)
    assert path.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["bank_20191107.csv"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty (0 bytes)"),
        (b"\n\n", "no header line"),
        (b"a,b\n1,2\n", "the header does not match"),
        (GOOD.replace(b"merchant_id", b"event_id", 1), "repeats a column"),
        (b"x" * (MAX_LINE + 10) + b"\n", f"longer than {MAX_LINE} bytes"),
    ],
)
def test_a_file_the_import_would_refuse_leaves_nothing(tmp_path, content, message):
    with pytest.raises(FileRefused, match=re.escape(message)):
        _land(tmp_path, "activities_20240101.csv", content)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "name", ["activities.csv", "activities_20241340.csv", ".activities_20240101.csv", "a/b.csv"]
)
def test_a_name_the_import_would_refuse_is_refused_before_any_file(tmp_path, name):
    with pytest.raises(FileRefused) as refused:
        Landing(MERCHANT_ACTIVITIES, tmp_path / "inbox", name, MAX_LINE)
    assert refused.value.message == refused_name(MERCHANT_ACTIVITIES, name)
    assert not (tmp_path / "inbox").exists()


def test_a_file_already_there_is_never_replaced(tmp_path):
    (tmp_path / "activities_20240101.csv").write_bytes(b"first")
    with pytest.raises(FileRefused, match="already in the inbox"):
        _land(tmp_path, "activities_20240101.csv", GOOD)
    assert [p.name for p in tmp_path.iterdir()] == ["activities_20240101.csv"]
    assert (tmp_path / "activities_20240101.csv").read_bytes() == b"first"


@pytest.mark.parametrize("dataset", [MERCHANT_ACTIVITIES, TRANSACTIONS])
def test_the_partial_file_is_never_one_an_import_reads(tmp_path, dataset):
    landing = Landing(dataset, tmp_path, "activities_20240101.csv", MAX_LINE)
    landing.open()
    landing.write(GOOD[:50])
    assert landing.partial.name.startswith(".upload-") and landing.partial.name.endswith(".part")
    assert order_files(dataset, [tmp_path]) == []  # the glob the inbox imports use
    landing.discard()
    assert list(tmp_path.iterdir()) == []


def test_an_inbox_that_cannot_be_made_is_unavailable_and_nothing_is_touched(tmp_path):
    blocker = tmp_path / "inbox"
    blocker.write_bytes(b"a file where the folder should be")
    landing = Landing(MERCHANT_ACTIVITIES, blocker, "activities_20240101.csv", MAX_LINE)
    with pytest.raises(InboxUnavailable, match="cannot take the file now"):
        landing.open()
    landing.discard()  # nothing of ours to remove
    assert blocker.read_bytes() == b"a file where the folder should be"


@given(st.dates(min_value=date(1000, 1, 1)).map(lambda d: d.strftime("%Y%m%d")))
def test_every_real_day_is_a_name_the_merchants_inbox_takes(day):
    assert refused_name(MERCHANT_ACTIVITIES, f"activities_{day}.csv") is None
