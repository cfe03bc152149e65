"""The reads of an account: balances at an instant, entries in a range, a month's statement.

Every read up to an instant first waits for the saves that could still be booked at or before
it (`queries.settle`): once an instant has passed, the answer up to it never changes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.errors import ValidationFailed
from backoffice.savings.accounting import queries
from backoffice.savings.accounting.errors import AccountNotFound
from backoffice.savings.accounting.interest import next_month
from backoffice.savings.accounting.models import ENTRY_KINDS
from backoffice.savings.accounting.plumbing import ServiceBase, aware


def _balances(found: tuple[Decimal, Decimal]) -> dict[str, Decimal]:
    main, savings = found
    return {"main": main, "savings": savings, "total": main + savings}


class Reads(ServiceBase):
    """The service's reads of an account (mixed into `service.AccountingService`)."""

    async def _settled(
        self, session: AsyncSession, user_id: UUID, token_version: int | None
    ) -> datetime:
        if token_version is not None:
            await self._check_token(session, user_id, token_version, missing_ok=False)
        return await queries.settle(session, user_id)

    async def balance(
        self, user_id: UUID, at: datetime | None = None, *, token_version: int | None = None
    ) -> dict[str, Any]:
        """The balances right after the last entry at or before `at` (zeros if none).

        Once `at` has passed (by the database's clock) the answer never changes. An instant
        still to come gets the entries booked so far.

        Args:
            user_id: the account's user.
            at: the instant, to the microsecond, included; None: now (the database's clock,
                returned as `at`: asked again with it, the answer is the same).
            token_version: the version of the customer's token (None: not checked).

        Returns:
            at, main, savings and total (main + savings).

        Raises:
            AccountNotFound: the account was never opened.
            TokenRefused: the customer's token (its version given) is no longer good.
        """
        async with self._session() as session:
            now = await self._settled(session, user_id, token_version)
            at = now if at is None else aware(at)
            found = await queries.balance_at(session, user_id, at)
        if found is None:
            raise AccountNotFound()
        return {"at": at, **_balances(found)}

    async def transactions(
        self,
        user_id: UUID,
        from_: datetime,
        to: datetime | None = None,
        *,
        kind: str | None = None,
        limit: int,
        offset: int,
        token_version: int | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the user's entries in [from_, to), oldest first.

        Once `to` has passed, the entries before it never change (as for `balance`).

        Args:
            user_id: the account's user.
            from_: the first instant, included.
            to: the end, excluded; None: now (the database's clock).
            kind: only the entries of this kind (None: every kind).
            limit: the page's size.
            offset: entries to skip.
            token_version: the version of the customer's token (None: not checked).

        Returns:
            The page's entries (entry_id, kind, amount, main, savings, the balances after, at,
            and what each kind adds) and the range's total.

        Raises:
            ValidationFailed: an unknown kind.
            AccountNotFound: the account was never opened.
            TokenRefused: the customer's token (its version given) is no longer good.
        """
        if kind is not None and kind not in ENTRY_KINDS:
            raise ValidationFailed.field("kind", f"kind must be one of {', '.join(ENTRY_KINDS)}")
        async with self._session() as session:
            now = await self._settled(session, user_id, token_version)
            end = now if to is None else aware(to)
            items, total = await queries.entries_between(
                session, user_id, aware(from_), end, kind=kind, limit=limit, offset=offset
            )
            missing = total == 0 and not await queries.account_exists(session, user_id)
        if missing:
            raise AccountNotFound()
        return [item.as_dict() for item in items], total

    async def statement(
        self,
        user_id: UUID,
        year: int,
        month: int,
        *,
        limit: int,
        offset: int,
        at: datetime | None = None,
        token_version: int | None = None,
    ) -> dict[str, Any]:
        """A month's statement (UTC): opening and closing balances, interest, a page of entries.

        The month's entries are those booked in [its first instant, the next month's). For the
        month still running, the closing balances and the entries are those booked so far, or
        up to `at`: the pages of one statement read with the first page's `as_of` agree.

        Returns:
            month ("YYYY-MM"), starts, ends, as_of (what the closing balances and the entries
            run up to), holder (the account's name), opening, closing (main, savings, total
            each), interest_earned, entries (the page) and total (the month's entries).

        Raises:
            ValidationFailed: a month not started yet (on `month`).
            AccountNotFound: the account was never opened.
            TokenRefused: the customer's token (its version given) is no longer good.
        """
        starts = datetime(year, month, 1, tzinfo=UTC)
        ends = datetime(*next_month(year, month), 1, tzinfo=UTC)
        async with self._session() as session:
            now = await self._settled(session, user_id, token_version)
            if starts > now:
                raise ValidationFailed.field("month", "the month has not started yet")
            upto = min(ends, now, now if at is None else aware(at))
            summary = await queries.account_summary(session, user_id)
            if summary is None:
                raise AccountNotFound()
            opening = await queries.balance_at(session, user_id, starts, before=True)
            closing = await queries.balance_at(session, user_id, upto, before=True)
            entries, total = await queries.entries_between(
                session, user_id, starts, upto, limit=limit, offset=offset
            )
            interest = await queries.interest_between(session, user_id, starts, upto)
        assert opening is not None and closing is not None  # the account exists
        return {
            "month": f"{year:04d}-{month:02d}",
            "starts": starts,
            "ends": ends,
            "as_of": upto,
            "holder": summary["full_name"],
            "opening": _balances(opening),
            "closing": _balances(closing),
            "interest_earned": interest,
            "entries": [entry.as_dict() for entry in entries],
            "total": total,
        }

    async def account(self, user_id: UUID) -> dict[str, Any]:
        """An account as an operator sees it: profile, plan, status, balances now.

        Returns:
            user_id, email, full_name, plan_id, status ("open" or "closed"), opened_at,
            closed_at, interest_through, and the balances: at, main, savings, total.

        Raises:
            AccountNotFound: the account was never opened.
        """
        async with self._session() as session:
            summary = await queries.account_summary(session, user_id)
            if summary is None:
                raise AccountNotFound()
            now = await queries.settle(session, user_id)
            found = await queries.balance_at(session, user_id, now)
        assert found is not None
        return {**summary, "balances": {"at": now, **_balances(found)}}
