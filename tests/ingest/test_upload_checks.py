"""The checks a file passes before it reaches an inbox: its name, and its header."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.ingest.files import order_files, read_checked_header, refused_name
from backoffice.ingest.reader import FileFormatError
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from backoffice.transactions.dataset import TRANSACTIONS

names = st.one_of(
    st.text(max_size=300),
    st.builds(lambda stem, day: f"{stem}_{day}.csv", st.text(max_size=260), st.integers(0, 10**8)),
)


@settings(max_examples=300, deadline=None)
@given(names)
def test_a_name_taken_is_one_the_inbox_import_finds(name):
    """Whatever a name refused_name takes, the loader's inbox glob picks that file up."""
    if refused_name(TRANSACTIONS, name) is not None:
        return
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / name).write_bytes(b"")
        assert [p.name for p in order_files(TRANSACTIONS, [Path(folder)])] == [name]


@pytest.mark.parametrize(
    "name",
    ["", "a.txt", "a.CSV", ".a_20240101.csv", "../a_20240101.csv", "a/b.csv", "a\\b.csv",
     "tab\t_20240101.csv", "x" * 252 + ".csv", "é" * 126 + ".csv"],
)  # fmt: skip
def test_names_the_inbox_would_not_take_are_refused(name):
    assert refused_name(TRANSACTIONS, name) is not None


def test_a_dataset_that_needs_a_dated_name_says_so():
    assert refused_name(MERCHANT_ACTIVITIES, "activities.csv") is not None
    assert refused_name(MERCHANT_ACTIVITIES, "activities_20240230.csv") is not None  # no such day
    assert refused_name(MERCHANT_ACTIVITIES, "activities_20240229.csv") is None
    assert refused_name(TRANSACTIONS, "anything.csv") is None  # applied as it arrives


def test_the_header_is_read_and_checked_as_the_import_does(tmp_path):
    good = tmp_path / "good.csv"
    good.write_bytes(b"\xef\xbb\xbfTransaction_ID, user_id ,AMOUNT,transaction_date\r\n1,2,3,4\r\n")
    assert read_checked_header(TRANSACTIONS, good, 4096) == [
        "transaction_id",
        "user_id",
        "amount",
        "transaction_date",
    ]
    for content, problem in [
        (b"", "empty"),
        (b"transaction_id,user_id,amount\n", "missing ['transaction_date']"),
        (b"transaction_id,user_id,amount,transaction_date,user_id\n", "repeats"),
        (b"x" * 5000 + b"\n", "longer than 4096 bytes"),
    ]:
        bad = tmp_path / "bad.csv"
        bad.write_bytes(content)
        with pytest.raises(FileFormatError, match=problem.replace("[", r"\[").replace("]", r"\]")):
            read_checked_header(TRANSACTIONS, bad, 4096)
