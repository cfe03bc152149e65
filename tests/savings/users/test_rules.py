"""The pure rules of customers' fields, with hypothesis."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from backoffice.core.errors import ValidationFailed
from backoffice.savings.users.rules import (
    EMAIL_MAX_LENGTH,
    FULL_NAME_MAX_LENGTH,
    normalise_email,
    normalise_full_name,
)

LOCAL = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Zs", "Zl", "Zp", "Cs")))
ATOM = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)


def _field_error(exc: pytest.ExceptionInfo[ValidationFailed], field: str) -> None:
    assert exc.value.status_code == 422
    assert exc.value.errors is not None
    assert [e["field"] for e in exc.value.errors] == [field]
    assert exc.value.errors[0]["code"] == "validation_error"


EMAILISH = st.builds(lambda local, domain, tld: f"{local}@{domain}.{tld}", LOCAL, LOCAL, LOCAL)


@given(st.one_of(st.text(max_size=300), EMAILISH))
@example("Ada@Example.COM")
@example("\uff21\uff24\uff21@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.\uff43\uff4f\uff4d")
@example("İ@example.com")
def test_a_normalised_email_is_a_fixed_point_or_the_input_is_refused(raw: str) -> None:
    try:
        email = normalise_email(raw)
    except ValidationFailed as exc:
        assert exc.errors is not None and exc.errors[0]["field"] == "email"
        return
    assert normalise_email(email) == email
    assert email == email.lower()
    assert unicodedata.is_normalized("NFKC", email)
    assert email.count("@") == 1
    local, _, domain = email.partition("@")
    assert local and "." in domain
    assert len(email) <= EMAIL_MAX_LENGTH
    assert not any(c.isspace() for c in email)


@given(
    local=st.text("abcXYZ019._+-", min_size=1, max_size=30),
    labels=st.lists(ATOM, min_size=2, max_size=4),
    padding=st.sampled_from(["", " ", "\t", "  \n"]),
)
def test_case_and_surrounding_whitespace_do_not_matter(
    local: str, labels: list[str], padding: str
) -> None:
    email = f"{local}@{'.'.join(labels)}"
    assert normalise_email(f"{padding}{email.upper()}{padding}") == email.lower()
    assert normalise_email(email.swapcase()) == normalise_email(email)


def test_full_width_letters_fold_to_ascii() -> None:
    assert (
        normalise_email(
            "  \uff21\uff24\uff21@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.\uff43\uff4f\uff4d "
        )
        == "ada@example.com"
    )


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ada",
        "@example.com",
        "ada@",
        "ada@example",
        "ada@@example.com",
        "a@b@example.com",
        "ada lovelace@example.com",
        "ada@exa\tmple.com",
        "ada\x00@example.com",
        "a" * 250 + "@b.co",
    ],
)
def test_malformed_emails_are_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalise_email(raw)
    _field_error(caught, "email")


NAME = st.text(
    st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=FULL_NAME_MAX_LENGTH
)


@given(NAME, st.sampled_from(["", " ", "\n\t "]))
def test_full_names_are_stripped(name: str, padding: str) -> None:
    assume(name.strip())
    assert normalise_full_name(padding + name + padding) == name.strip()


@pytest.mark.parametrize(
    "raw", ["", "   ", "x" * (FULL_NAME_MAX_LENGTH + 1), "Ada\x00Lovelace", "Ada\x1bLovelace"]
)
def test_bad_full_names_are_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalise_full_name(raw)
    _field_error(caught, "full_name")
