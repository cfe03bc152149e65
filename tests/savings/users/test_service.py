"""The users service's functions on a real database, inside a rolled-back transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.errors import Unauthorized, ValidationFailed
from backoffice.savings.subjects import USER_CREATED, USER_DELETED, USER_UPDATED
from backoffice.savings.tokens import TokenSigner, TokenVerifier
from backoffice.savings.users import service
from backoffice.savings.users.models import OUTBOX, Customer
from backoffice.savings.users.passwords import Hasher

PASSWORD = "correct-horse-battery"


async def _outbox(session: AsyncSession) -> list[Any]:
    rows = await session.execute(select(OUTBOX).order_by(OUTBOX.c.id))
    return list(rows.all())


async def _signup(
    session: AsyncSession, hasher: Hasher, email: str = "Ada@Example.com"
) -> Customer:
    return await service.create_customer(
        session, hasher, email=email, password=PASSWORD, full_name="  Ada Lovelace "
    )


def _is_aware_iso(value: str) -> bool:
    at = datetime.fromisoformat(value)
    return at.tzinfo is not None


async def test_create_stores_normalised_fields_and_a_hash(
    users_session: AsyncSession, hasher: Hasher
) -> None:
    customer = await _signup(users_session, hasher)
    assert customer.email == "ada@example.com"
    assert customer.full_name == "Ada Lovelace"
    assert customer.password_hash.startswith("$argon2id$")
    assert PASSWORD not in customer.password_hash
    assert await hasher.verify(customer.password_hash, PASSWORD)
    assert customer.created_at is not None and customer.updated_at is not None
    assert await service.get_customer(users_session, customer.id) is customer


async def test_create_enqueues_one_created_event(
    users_session: AsyncSession, hasher: Hasher
) -> None:
    customer = await _signup(users_session, hasher)
    [row] = await _outbox(users_session)
    assert row.subject == USER_CREATED
    assert uuid.UUID(row.msg_id)
    assert set(row.payload) == {"user_id", "email", "full_name", "token_version", "at"}
    assert row.payload["token_version"] == 1
    assert row.payload["user_id"] == str(customer.id)
    assert row.payload["email"] == "ada@example.com"
    assert row.payload["full_name"] == "Ada Lovelace"
    assert _is_aware_iso(row.payload["at"])


@pytest.mark.parametrize(
    "variant",
    ["ada@example.com", "ADA@EXAMPLE.COM", "  Ada@Example.Com\t", "\uff21\uff24\uff21@example.com"],
)
async def test_a_taken_email_in_any_case_or_padding_is_a_conflict(
    users_session: AsyncSession, hasher: Hasher, variant: str
) -> None:
    await _signup(users_session, hasher)
    with pytest.raises(service.EmailTaken) as caught:
        await _signup(users_session, hasher, email=variant)
    assert (caught.value.status_code, caught.value.code) == (409, "email_taken")
    # (The handler's transaction then rolls back: the handler tests check what is left.)


async def test_create_refuses_bad_fields_before_writing(
    users_session: AsyncSession, hasher: Hasher
) -> None:
    for fields, field in [
        ({"email": "nope", "password": PASSWORD, "full_name": "A"}, "email"),
        ({"email": "a@b.co", "password": "short", "full_name": "A"}, "password"),
        ({"email": "a@b.co", "password": PASSWORD, "full_name": " "}, "full_name"),
    ]:
        with pytest.raises(ValidationFailed) as caught:
            await service.create_customer(users_session, hasher, **fields)
        assert caught.value.errors is not None
        assert caught.value.errors[0]["field"] == field
    assert await _outbox(users_session) == []


async def test_unknown_ids_are_not_found(users_session: AsyncSession, hasher: Hasher) -> None:
    missing = uuid.uuid4()
    with pytest.raises(service.CustomerNotFound) as caught:
        await service.get_customer(users_session, missing)
    assert (caught.value.status_code, caught.value.code) == (404, "customer_not_found")
    with pytest.raises(service.CustomerNotFound):
        await service.update_customer(users_session, hasher, missing, full_name="X")
    with pytest.raises(service.CustomerNotFound):
        await service.delete_customer(users_session, missing)
    assert await _outbox(users_session) == []


async def test_update_renormalises_the_email_and_takes_a_new_password(
    users_session: AsyncSession, hasher: Hasher, signer: TokenSigner
) -> None:
    customer = await _signup(users_session, hasher)
    updated = await service.update_customer(
        users_session,
        hasher,
        customer.id,
        email="  Countess@Example.ORG ",
        full_name=" Augusta Ada King ",
        password="a-whole-new-secret",
    )
    assert (updated.email, updated.full_name) == ("countess@example.org", "Augusta Ada King")
    created, changed = await _outbox(users_session)
    assert created.subject == USER_CREATED
    assert changed.subject == USER_UPDATED
    assert changed.payload["user_id"] == str(customer.id)
    assert changed.payload["email"] == "countess@example.org"
    assert changed.payload["full_name"] == "Augusta Ada King"
    assert changed.payload["token_version"] == 2 == updated.token_version
    assert _is_aware_iso(changed.payload["at"])

    with pytest.raises(Unauthorized):
        await service.authenticate(
            users_session, hasher, signer, email="countess@example.org", password=PASSWORD
        )
    token, _ = await service.authenticate(
        users_session, hasher, signer, email="COUNTESS@example.org", password="a-whole-new-secret"
    )
    assert token


async def test_update_of_one_field_keeps_the_others(
    users_session: AsyncSession, hasher: Hasher
) -> None:
    customer = await _signup(users_session, hasher)
    old_hash = customer.password_hash
    updated = await service.update_customer(users_session, hasher, customer.id, full_name="Ada")
    assert (updated.email, updated.full_name, updated.password_hash) == (
        "ada@example.com",
        "Ada",
        old_hash,
    )
    assert [row.subject for row in await _outbox(users_session)] == [USER_CREATED, USER_UPDATED]


async def test_update_with_no_field_changes_nothing_and_announces_nothing(
    users_session: AsyncSession, hasher: Hasher
) -> None:
    customer = await _signup(users_session, hasher)
    same = await service.update_customer(users_session, hasher, customer.id)
    assert same.email == "ada@example.com"
    assert len(await _outbox(users_session)) == 1


async def test_update_to_a_taken_email_is_a_conflict(
    users_session: AsyncSession, hasher: Hasher
) -> None:
    await _signup(users_session, hasher)
    other = await _signup(users_session, hasher, email="grace@example.com")
    with pytest.raises(service.EmailTaken):
        await service.update_customer(users_session, hasher, other.id, email=" ADA@example.com")


async def test_update_refuses_a_bad_field(users_session: AsyncSession, hasher: Hasher) -> None:
    customer = await _signup(users_session, hasher)
    with pytest.raises(ValidationFailed):
        await service.update_customer(users_session, hasher, customer.id, password="short")
    assert len(await _outbox(users_session)) == 1


async def test_delete_removes_the_customer_and_enqueues_deleted(
    users_session: AsyncSession, hasher: Hasher
) -> None:
    customer = await _signup(users_session, hasher)
    await service.delete_customer(users_session, customer.id)
    with pytest.raises(service.CustomerNotFound):
        await service.get_customer(users_session, customer.id)
    _, deleted = await _outbox(users_session)
    assert deleted.subject == USER_DELETED
    assert set(deleted.payload) == {"user_id", "at"}
    assert deleted.payload["user_id"] == str(customer.id)
    assert _is_aware_iso(deleted.payload["at"])
    # The email is free again.
    again = await _signup(users_session, hasher)
    assert again.id != customer.id


async def test_authenticate_issues_a_token_for_the_customer(
    users_session: AsyncSession, hasher: Hasher, signer: TokenSigner, verifier: TokenVerifier
) -> None:
    customer = await _signup(users_session, hasher)
    token, expires_in = await service.authenticate(
        users_session, hasher, signer, email=" ADA@example.com ", password=PASSWORD
    )
    assert expires_in == signer.ttl_seconds
    claims = verifier.verify(token)
    assert (claims.user_id, claims.email) == (customer.id, "ada@example.com")


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("ada@example.com", "wrong-password"),
        ("nobody@example.com", PASSWORD),
        ("not an email", PASSWORD),
        ("nobody@example.com", "not-a-real-password"),  # the dummy hash's own password
    ],
)
async def test_bad_credentials_all_get_the_same_answer(
    users_session: AsyncSession, hasher: Hasher, signer: TokenSigner, email: str, password: str
) -> None:
    await _signup(users_session, hasher)
    with pytest.raises(Unauthorized) as caught:
        await service.authenticate(users_session, hasher, signer, email=email, password=password)
    assert caught.value.message == service.INVALID_CREDENTIALS
    assert caught.value.status_code == 401


async def test_the_hasher_refuses_a_garbage_hash(hasher: Hasher) -> None:
    assert not await hasher.verify("not-an-argon2-hash", PASSWORD)
    assert not await hasher.verify(None, "not-a-real-password")


@pytest.mark.parametrize(
    ("email", "password", "reason"),
    [
        ("ada@example.com", "password123", "most common"),
        ("ada@example.com", "Qwertyuiop", "most common"),
        ("ada.lovelace@example.com", "ADA.LOVELACE@example.com", "the username or the email"),
        ("ada.lovelace@example.com", "Ada.Lovelace", "the username or the email"),
        ("ada@example.com", "          ", "whitespace only"),
    ],
)
async def test_signup_refuses_common_passwords_and_the_customers_own_email(
    users_session: AsyncSession, hasher: Hasher, email: str, password: str, reason: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await service.create_customer(
            users_session, hasher, email=email, password=password, full_name="Ada"
        )
    assert caught.value.code == "weak_password"
    assert caught.value.errors is not None
    assert caught.value.errors[0]["field"] == "password"
    assert reason in caught.value.message
    assert await _outbox(users_session) == []


async def test_a_new_password_is_held_to_the_same_rule_with_the_current_or_new_email(
    users_session: AsyncSession, hasher: Hasher
) -> None:
    customer = await _signup(users_session, hasher, email="grace.hopper@example.com")
    for fields in (
        {"password": "iloveyou"},
        {"password": "Grace.Hopper"},  # the current email's local part
        {"email": "countess@example.org", "password": "countess@example.org"},
    ):
        with pytest.raises(ValidationFailed) as caught:
            await service.update_customer(users_session, hasher, customer.id, **fields)
        assert caught.value.code == "weak_password"
    assert len(await _outbox(users_session)) == 1, "only the signup's event"


async def test_a_token_is_good_until_the_password_changes_or_the_customer_goes(
    users_session: AsyncSession, hasher: Hasher, signer: TokenSigner, verifier: TokenVerifier
) -> None:
    customer = await _signup(users_session, hasher)
    token, _ = await service.authenticate(
        users_session, hasher, signer, email="ada@example.com", password=PASSWORD
    )
    claims = verifier.verify(token)
    assert claims.version == 1
    assert await service.customer_of(users_session, claims) is customer
    await service.update_customer(users_session, hasher, customer.id, full_name="Ada King")
    assert await service.customer_of(users_session, claims) is customer, "a name is no password"
    await service.update_customer(users_session, hasher, customer.id, password="fresh-secret-42")
    with pytest.raises(Unauthorized):
        await service.customer_of(users_session, claims)
    fresh, _ = await service.authenticate(
        users_session, hasher, signer, email="ada@example.com", password="fresh-secret-42"
    )
    assert (await service.customer_of(users_session, verifier.verify(fresh))).token_version == 2
    await service.delete_customer(users_session, customer.id)
    with pytest.raises(Unauthorized):
        await service.customer_of(users_session, verifier.verify(fresh))
