"""The vectorised sorting of a block (polars) agrees line by line with the rules in Python."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.ingest.classify import KEY, Classifier
from backoffice.ingest.reader import Block, Reject
from backoffice.ingest.spec import SEPARATOR, Dataset, fast_line_pattern
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES

UUIDS = ["6f1c2a3b-1d2e-4f50-8a9b-0c1d2e3f4a5b", "6F1C2A3B-1D2E-4F50-8A9B-0C1D2E3F4A5B",
         "0b7e2f1a-9c3d-4e5f-8a6b-7c8d9e0f1a2b", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"]  # fmt: skip
PAIRS = [("POS", "TRANSFER"), ("KYC", "TIER_UPGRADE"), ("BILLS", "WATER"), ("SAVINGS", "DEPOSIT")]
# Mostly clean values (so that most lines take the fast path), with every kind of defect.
good = {
    "event_id": UUIDS,
    "merchant_id": ["MRC-000001", "MRC-123456"],
    "event_timestamp": ["2024-01-31T23:59:59", "2024-03-10T12:30:00"],
    "amount": ["0", "10.5", "123.45", "1234567.8"],
    "status": ["SUCCESS", "FAILED", "PENDING"],
    "channel": ["POS", "APP"],
    "region": ["LAGOS", "", "ÎLE-É"],
    "merchant_tier": ["STARTER", "PREMIUM"],
}
bad = {
    "event_id": ["not-a-uuid", ""],
    "merchant_id": ["MRC-1", "mrc-000001", ""],
    "event_timestamp": [
        "2024-02-29T10:00:00",
        "2024-02-30T10:00:00",
        "2024-03-10T12:30:00.250",
        "NOT-A-DATE",
        "",
    ],
    "amount": ["1.005", "-5.00", "INVALID", "1e3", "", "1234567890123"],
    "status": ["REVERSED", ""],
    "channel": ["FAX", ""],
    "region": ["KANO, NORTH", 'A "B"', "tab\there"],
    "merchant_tier": ["GOLD", ""],
}
bad_pairs = [("POS", "TIER_UPGRADE"), ("LOANS", "DEPOSIT"), ("pos", "TRANSFER"), ("", "")]


def _field(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from(good[name] * 8 + bad[name])


def _csv(values: list[str]) -> str:
    return ",".join(f'"{v.replace(chr(34), chr(34) * 2)}"' if ("," in v or '"' in v) else v
                    for v in values)  # fmt: skip


line = st.builds(
    lambda e, m, t, pair, a, s, c, r, tier: _csv([e, m, t, *pair, a, s, c, r, tier]),
    _field("event_id"), _field("merchant_id"), _field("event_timestamp"),
    st.sampled_from(PAIRS * 8 + bad_pairs), _field("amount"), _field("status"),
    _field("channel"), _field("region"), _field("merchant_tier"),
)  # fmt: skip
too_long, too_short = line.map(lambda t: t + ",X"), line.map(lambda t: t.rsplit(",", 1)[0])
lines = st.lists(
    st.one_of(line, line, line, too_long, too_short, st.sampled_from(["", "a,b"])), max_size=40
)


def _loader(dataset: Dataset) -> Classifier:
    return Classifier(dataset, dataset.column_names, with_parts=bool(dataset.rollups))


def _by_python(dataset: Dataset, records: list[str]) -> tuple[list[str], list[str], int]:
    """(clean lines kept, slow keys kept, duplicates) the way the rules read in Python."""
    columns = dataset.columns
    pattern = re.compile(fast_line_pattern(columns).pattern)
    pairs = [(i, j, c.pairs) for j, c in enumerate(columns) if c.parent
             for i in [dataset.column_names.index(c.parent)]]  # fmt: skip
    loader = _loader(dataset)
    seen: set[str] = set()
    fast: list[str] = []
    slow: list[str] = []
    duplicates = 0
    for number, text in enumerate(records, 1):
        if not text:
            continue
        found = pattern.fullmatch(text)
        if found and all((found.group(i + 1), found.group(j + 1)) in ok for i, j, ok in pairs):
            key, is_fast = found.group(1).lower(), True
        else:
            outcome = loader._check(text, number)
            if isinstance(outcome, Reject):
                continue
            key, is_fast = outcome[0].lower(), False
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        (fast if is_fast else slow).append(text if is_fast else key)
    return fast, slow, duplicates


@settings(max_examples=200, deadline=None)
@given(records=lines)
def test_vectorised_sorting_equals_the_rules_line_by_line(records):
    dataset = MERCHANT_ACTIVITIES
    parsed = _loader(dataset).classify(Block(1, records))

    fast, slow_keys, duplicates = _by_python(dataset, records)
    got = parsed.fast_data.decode().split("\n")[:-1] if parsed.fast_data else []
    assert got == fast
    assert parsed.slow_keys == slow_keys
    assert parsed.duplicates == duplicates
    assert parsed.read == sum(1 for r in records if r)
    assert parsed.read == len(got) + len(parsed.slow_rows) + len(parsed.rejects) + duplicates
    assert parsed.fast[KEY].to_list() == [t.split(",", 1)[0].lower() for t in fast]
    keys = parsed.probe_keys.split(SEPARATOR) if parsed.probe_keys else []
    assert sorted(keys) == sorted([*parsed.fast[KEY].to_list(), *slow_keys])  # each kept key once
    assert parsed.keys is not None and parsed.keys.to_list() == keys
