"""The shared input types: each one's document (JSON Schema) and validator accept the same input."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Annotated, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from backoffice.core.money import MAX_MONEY, Money, Percent, PositiveMoney
from backoffice.core.types import NFKC_UNSAFE, Email, Id, IdParam, Text


def accepts(adapter: TypeAdapter[Any], value: Any) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


def ecma(pattern: str) -> re.Pattern[str]:
    """`pattern` as JSON Schema reads it: its `$` is the end of the text (Python's `\\Z`)."""
    return re.compile(pattern.removesuffix("$") + r"\Z" if pattern.endswith("$") else pattern)


def string_pattern(adapter: TypeAdapter[Any]) -> re.Pattern[str]:
    schema = adapter.json_schema()
    branch = next((b for b in schema.get("anyOf", []) if b["type"] == "string"), schema)
    return ecma(branch["pattern"])


DECIMAL_TEXT = st.text(alphabet="0123456789.-+e _\u0661 ", max_size=16)


@pytest.mark.parametrize("money", [PositiveMoney, Money, Percent])
@given(text=DECIMAL_TEXT)
def test_a_decimal_text_is_accepted_exactly_when_the_document_admits_it(money, text):
    adapter = TypeAdapter(money)
    assert bool(string_pattern(adapter).search(text)) == accepts(adapter, text)


@given(cents=st.integers(1, int(MAX_MONEY * 100)))
def test_every_positive_amount_in_cents_is_admitted_and_accepted(cents):
    adapter = TypeAdapter(PositiveMoney)
    text = str(Decimal(cents) / 100)
    assert string_pattern(adapter).search(text)
    assert adapter.validate_python(text) == Decimal(cents) / 100


def test_zero_is_refused_where_an_amount_must_be_positive():
    adapter = TypeAdapter(PositiveMoney)
    for zero in ("0", "0.0", "0.00", 0, 0.0):
        assert not accepts(adapter, zero)
    assert accepts(TypeAdapter(Money), "0")


NAME = TypeAdapter(Annotated[str, Text(max_length=20)])
PROSE = TypeAdapter(Annotated[str, Text(max_length=20, required=False, lines=True)])


@pytest.mark.parametrize("adapter", [NAME, PROSE])
@given(text=st.text(max_size=24))
def test_a_text_is_accepted_exactly_when_the_document_admits_it(adapter, text):
    schema = adapter.json_schema()
    admitted = (
        bool(ecma(schema["pattern"]).search(text))
        and schema["minLength"] <= len(text) <= schema["maxLength"]
    )
    assert admitted == accepts(adapter, text)


def test_a_name_loses_its_surrounding_spaces_once_accepted():
    assert NAME.validate_python("  Ada Lovelace ") == "Ada Lovelace"
    assert PROSE.validate_python("\n line one\ntwo \t") == "line one\ntwo"


def test_the_nfkc_unsafe_list_is_unicode_s():
    """Every character whose NFKC form holds a space, a control character or an `@`."""
    unsafe = re.compile(f"[{NFKC_UNSAFE}]")
    for code in range(0x110000):
        char = chr(code)
        if 0xD800 <= code < 0xE000 or unicodedata.category(char) == "Cc" or char.isspace():
            continue
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", char).lower())
        if folded == char:
            continue
        risky = any(c.isspace() or unicodedata.category(c) == "Cc" or c == "@" for c in folded)
        assert risky == bool(unsafe.match(char)), hex(code)


@given(email=st.emails())
def test_an_ordinary_email_is_admitted_and_kept_in_lower_case(email):
    adapter = TypeAdapter(Email)
    if len(email) <= 254:
        assert adapter.validate_python(email) == email.lower()


def test_an_id_is_a_json_integer_and_an_integral_float_is_one():
    body, param = TypeAdapter(Id), TypeAdapter(IdParam)
    assert body.validate_python(7.0) == 7
    for refused in ("7", True, 7.5, 0, 2**31):
        assert not accepts(body, refused)
    assert param.validate_python("7") == 7
    assert param.validate_python("7.0") == 7
    for refused in ("07", "+7", " 7", "7.5", "7.00", "7e0", "0", "\u0667"):
        assert not accepts(param, refused)
