"""Column rules as plain functions."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from backoffice.ingest.spec import (
    choice_column,
    decimal_column,
    fast_line_pattern,
    normalise_header,
    utc_timestamp_column,
    uuid_column,
)

amount = decimal_column("amount")
when = utc_timestamp_column("ts")


@given(st.decimals(min_value=0, max_value=10**11, places=4))
def test_amounts_round_half_up_to_cents(value):
    stored, problem = amount.validate(str(value), {})
    assert problem is None
    assert Decimal(stored) == value.quantize(Decimal("0.01"), ROUND_HALF_UP)


def test_amount_defects_are_flagged_and_stored_as_zero():
    assert amount.validate("", {}) == ("0", "amount_missing")
    assert amount.validate("INVALID", {}) == ("0", "amount_not_a_number")
    assert amount.validate("1e5", {}) == ("0", "amount_not_a_number")
    assert amount.validate("-0.01", {}) == ("0", "amount_negative")
    assert amount.validate("1234567890123", {}) == ("0", "amount_not_a_number")


def test_timestamps():
    assert when.validate("2024-01-01T00:00:23", {}) == ("2024-01-01T00:00:23", None)
    assert when.validate("2024-02-29T10:00:00", {}) == ("2024-02-29T10:00:00", None)
    assert when.validate("2023-02-29T10:00:00", {}) == ("", "ts_invalid")
    assert when.validate("NOT-A-DATE", {}) == ("", "ts_invalid")
    assert when.validate("2024-01-01 00:00:23", {}) == ("", "ts_invalid")
    assert when.validate("2024-01-01T00:00:23Z", {}) == ("", "ts_invalid")
    assert when.validate("", {}) == ("", "ts_missing")


def test_choices_and_pairs():
    product = choice_column("product", ["POS", "KYC"])
    kind = choice_column("kind", ["A", "B"], parent="product", allowed={"POS": ["A"], "KYC": ["B"]})
    tier = choice_column("tier", ["GOLD"], on_invalid="flag")
    assert product.validate("pos", {}) == ("", "product is unknown")
    assert product.validate("", {}) == ("", "product is missing")
    assert kind.validate("B", {"product": "POS"}) == ("", "kind is unknown for its product")
    assert kind.validate("B", {"product": "KYC"}) == ("B", None)
    assert tier.validate("SILVER", {}) == ("", "tier_unknown")


def test_uuid_and_fast_line():
    column = uuid_column("id")
    assert column.validate("8A380D57-6B3D-40E1-B505-AEB1D462CAC3", {})[1] is None
    assert column.validate("8a380d576b3d40e1b505aeb1d462cac3", {}) == ("", "id is not a UUID")
    line = fast_line_pattern([column, amount])
    assert line.fullmatch("8a380d57-6b3d-40e1-b505-aeb1d462cac3,10.5")
    assert not line.fullmatch("8a380d57-6b3d-40e1-b505-aeb1d462cac3,10.555")


@given(st.text(max_size=20))
def test_header_normalisation_is_idempotent(name):
    once = normalise_header(name)
    assert normalise_header(once) == once
    assert once == once.lower() and " " not in once
