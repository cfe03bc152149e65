"""The customer's token version in accounting: raised by the users' events, checked by every
command on the account (credits and plans against the loaded account, reads by its row)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.core.db import Database
from backoffice.savings.accounting.errors import AccountClosed, AccountNotFound, TokenRefused
from backoffice.savings.accounting.rules import token_is_good
from backoffice.savings.accounting.service import AccountingService
from tests.savings.accounting.test_service import account_row, opened, plan

NOW = datetime(2100, 1, 1, tzinfo=UTC)


@given(st.integers(1, 10**6), st.booleans(), st.integers(1, 10**6))
def test_a_token_is_good_from_the_accounts_version_on_while_it_is_open(
    account_version: int, closed: bool, token_version: int
) -> None:
    good = token_is_good(account_version, closed, token_version)
    assert good == (not closed and token_version >= account_version)
    assert not token_is_good(account_version, True, token_version)


async def _commands(service: AccountingService, user: uuid.UUID, version: int, plan_id: int):
    """Each customer command with a token of this version."""
    return [
        lambda: service.credit(
            user,
            Decimal("10"),
            idempotency_key=uuid.uuid4().hex,
            request_hash="h",
            token_version=version,
        ),
        lambda: service.assign_plan(user, plan_id, token_version=version),
        lambda: service.balance(user, NOW, token_version=version),
        lambda: service.transactions(
            user, NOW.replace(year=2000), NOW, limit=10, offset=0, token_version=version
        ),
        lambda: service.list_plans(user, token_version=version),
    ]


async def test_a_password_change_refuses_older_tokens_everywhere(
    service: AccountingService, database: Database
) -> None:
    user = await opened(service)
    plan_id = await plan(service, "percentage", "10")
    for command in await _commands(service, user, 1, plan_id):
        await command()
    first = await service.credit(
        user, Decimal("1"), idempotency_key="before", request_hash="h", token_version=1
    )
    assert await service.update_profile(user, f"{user}@example.com", "Ann", token_version=3)
    row = await account_row(database, user)
    assert row is not None and row.token_version == 3
    for command in await _commands(service, user, 2, plan_id):
        with pytest.raises(TokenRefused) as caught:
            await command()
        assert (caught.value.status_code, caught.value.code) == (401, "unauthorized")
    # Not even a replay of a credit made before: a stale token learns nothing.
    with pytest.raises(TokenRefused):
        await service.credit(
            user, Decimal("1"), idempotency_key="before", request_hash="h", token_version=2
        )
    for command in await _commands(service, user, 3, plan_id):
        await command()
    replay = await service.credit(
        user, Decimal("1"), idempotency_key="before", request_hash="h", token_version=4
    )
    assert replay == first, "a newer token than accounting knows is good (its event is late)"


async def test_the_version_only_rises_and_a_same_event_changes_nothing(
    service: AccountingService, database: Database
) -> None:
    user = await opened(service)
    assert await service.update_profile(user, f"{user}@example.com", "Ann", token_version=5)
    assert not await service.update_profile(user, f"{user}@example.com", "Ann", token_version=5)
    assert not await service.update_profile(user, f"{user}@example.com", "Ann", token_version=2)
    assert await service.update_profile(user, "new@example.com", "Ann", token_version=2)
    row = await account_row(database, user)
    assert row is not None and (row.email, row.token_version) == ("new@example.com", 5)
    late = uuid.uuid4()  # `updated` before `created`: opened with the version at once
    assert await service.update_profile(late, "late@example.com", "Late", token_version=4)
    with pytest.raises(TokenRefused):
        await service.balance(late, NOW, token_version=3)


async def test_a_closed_account_refuses_its_customers_token(service: AccountingService) -> None:
    user = await opened(service)
    plan_id = await plan(service, "percentage", "10")
    assert await service.close_account(user)
    for command in await _commands(service, user, 1, plan_id):
        with pytest.raises(TokenRefused):
            await command()
    with pytest.raises(AccountClosed):  # a trusted caller still learns why
        await service.credit(user, Decimal("1"), idempotency_key="k", request_hash="h")


async def test_an_account_not_opened_yet_is_not_found_but_the_plans_are_listed(
    service: AccountingService,
) -> None:
    user = uuid.uuid4()
    plan_id = await plan(service, "percentage", "10")
    commands = await _commands(service, user, 1, plan_id)
    for command in commands[:4]:
        with pytest.raises(AccountNotFound):
            await command()
    assert plan_id in [p["id"] for p in await commands[4]()]
