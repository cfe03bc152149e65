"""The password rule: common passwords, the account's own names and blank ones are refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.core.auth.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    WeakPassword,
    check_password,
    common_passwords,
    password_problem,
)


def test_the_list_holds_at_least_ten_thousand_passwords() -> None:
    assert len(common_passwords()) >= 10_000
    assert {"password", "123456", "qwerty", "letmein"} <= common_passwords()


@pytest.mark.parametrize("password", ["password", "Password", "PASSWORD1", "iloveyou", "qwerty123"])
def test_common_passwords_are_refused_in_any_case(password: str) -> None:
    assert password_problem(password) == "The password is one of the most common passwords"


@pytest.mark.parametrize("password", ["        ", "\t\t\t\t\t\t\t\t", " \u00a0 \u2003    "])
def test_whitespace_only_is_refused(password: str) -> None:
    assert password_problem(password) == "The password must not be empty or whitespace only"


@pytest.mark.parametrize(
    ("password", "identities"),
    [
        ("ada.lovelace@example.com", ["ada.lovelace@example.com"]),
        ("Ada.Lovelace", ["ada.lovelace@example.com"]),
        ("  operator-7 ", ["operator-7"]),
    ],
)
def test_the_accounts_own_names_are_refused(password: str, identities: list[str]) -> None:
    assert password_problem(password, identities=identities) == (
        "The password must not be the username or the email"
    )


def test_length_bounds() -> None:
    assert password_problem("x7#q" * 1) == f"The password must be at least {MIN_LENGTH} characters"
    assert password_problem("x7#qzv!e" * 200) == (
        f"The password must be at most {MAX_LENGTH} characters"
    )


def test_check_password_names_the_field() -> None:
    with pytest.raises(WeakPassword) as caught:
        check_password("password", field="new_password")
    assert caught.value.status_code == 422
    assert caught.value.errors == [
        {
            "field": "new_password",
            "message": "The password is one of the most common passwords",
            "code": "weak_password",
        }
    ]


@given(st.text(alphabet="abcdefghjkmnpqrstuvwxyz23456789#%", min_size=16, max_size=40))
def test_long_random_passwords_pass_unless_listed(password: str) -> None:
    problem = password_problem(password, identities=["someone@example.com"])
    assert problem is None or password.casefold() in common_passwords()
