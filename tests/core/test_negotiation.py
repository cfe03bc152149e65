"""Content negotiation: the offered type the Accept header prefers."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.core.negotiation import NotAcceptable, negotiate

OFFERED = ("application/json", "text/csv", "application/pdf")


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("text/csv", "text/csv"),
        ("application/pdf", "application/pdf"),
        ("Application/PDF", "application/pdf"),
        ("text/*", "text/csv"),
        ("application/*", "application/json"),
        ("text/csv;q=0.5, application/pdf", "application/pdf"),
        ("text/csv, application/pdf", "text/csv"),  # a tie: the route's order
        ("application/json;q=0, */*", "text/csv"),
        ("*/*;q=0.1, application/pdf;q=0.2", "application/pdf"),
        ("text/html, text/csv;q=0.9", "text/csv"),
        ("garbage", "application/json"),  # unparsable: the default
        ("text/csv;q=2", "application/json"),
        ("text/csv;q=x", "application/json"),
    ],
)
def test_negotiate(accept: str | None, chosen: str) -> None:
    assert negotiate(accept, OFFERED) == chosen


@pytest.mark.parametrize("accept", ["text/html", "image/*", "*/*;q=0", "text/csv;q=0, image/png"])
def test_nothing_acceptable_is_a_406(accept: str) -> None:
    with pytest.raises(NotAcceptable) as refused:
        negotiate(accept, OFFERED)
    assert refused.value.status_code == 406


@given(st.text(max_size=300))
def test_any_header_gets_an_offered_type_or_a_406(accept: str) -> None:
    with contextlib.suppress(NotAcceptable):
        assert negotiate(accept, OFFERED) in OFFERED
