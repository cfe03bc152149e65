"""The ledger's invariants over random sequences of operations and plan changes (issue 20).

A model of the account, written here from the issue's rules, says which operations go through
and what the balances are then: credits split by the plan in force, withdrawals and transfers
only of what a balance holds, a sum that came into savings under a plan with a lock-in never
leaving (everything here came in seconds ago) while sums saved under a plan without one may,
a reversal once per entry and never below zero, a month's interest once. After
each operation the service must agree with the model; at the end every balance at an entry's
instant equals folding the stored events up to it, and every read answered along the way is
answered the same again.

Hypothesis runs in a worker thread and sends each step to the session's event loop (as
test_properties.py does).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.core.errors import DomainError
from backoffice.savings.accounting.aggregate import Account
from backoffice.savings.accounting.errors import EntryNotReversible
from backoffice.savings.accounting.rules import CreditTooSmall, InsufficientFunds, SavingsLocked
from backoffice.savings.accounting.service import AccountingService

T = TypeVar("T")
CENT = Decimal("0.01")
FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)

# Round sums often, so that amounts meet balances and flat amounts exactly, not only by chance.
round_sums = st.sampled_from([Decimal(v) for v in ("0.01", "1.00", "5.00", "20.00")])
money = st.one_of(
    round_sums, st.decimals(min_value=Decimal("0.01"), max_value=Decimal("300"), places=2)
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("credit"), money),
        st.tuples(st.just("withdraw"), money),
        st.tuples(st.just("to_savings"), money),
        st.tuples(st.just("to_main"), money),
        st.tuples(st.just("reverse"), st.floats(min_value=0, max_value=1)),
        st.tuples(st.just("interest"), st.one_of(st.just(Decimal(0)), money)),
        st.tuples(
            st.just("percentage"),
            st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=2),
            st.sampled_from([0, 30]),
        ),
        st.tuples(
            st.just("flat-amount"),
            st.one_of(
                round_sums, st.decimals(min_value=Decimal("0.01"), max_value=Decimal(50), places=2)
            ),
            st.sampled_from([0, 30]),
        ),
    ),
    min_size=1,
    max_size=20,
)


@dataclass
class Entry:
    """What the model knows of an entry: its id and its changes to the two balances."""

    entry_id: Any
    kind: str
    main: Decimal
    savings: Decimal
    reversed: bool = False


@dataclass
class Model:
    """The account as the issue's rules say it stands."""

    main: Decimal = Decimal(0)
    savings: Decimal = Decimal(0)
    plan: tuple[str, Decimal] | None = None
    lock_in_days: int = 0
    locked: Decimal = Decimal(0)  # what came into savings under a plan with a lock-in
    credits: Decimal = Decimal(0)
    withdrawals: Decimal = Decimal(0)
    interest: Decimal = Decimal(0)
    reversed: Decimal = Decimal(0)  # what the reversals took back (a signed total change)
    entries: list[Entry] = field(default_factory=list)
    months: int = 0  # interest months posted so far, from January 2001

    def split(self, amount: Decimal) -> tuple[Decimal, Decimal] | None:
        """(main, savings) of a credit, or None when a flat plan refuses it."""
        if self.plan is None:
            return amount, Decimal(0)
        kind, value = self.plan
        if kind == "flat-amount":
            return None if amount <= value else (amount - value, value)
        saved = (amount * value / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        return amount - saved, saved

    def book(self, made: dict[str, Any], main: Decimal, savings: Decimal) -> None:
        assert (made["main"], made["savings"]) == (main, savings), made
        self.main += main
        self.savings += savings
        if savings > 0 and self.lock_in_days:
            self.locked += savings  # locked for days: longer than this test runs
        self.entries.append(Entry(made["entry_id"], made["kind"], main, savings))


def replayed(service: AccountingService, user: uuid.UUID, at: datetime) -> tuple[Decimal, ...]:
    """(main, savings) from folding the stored events up to `at`, checked against the library."""
    events = [
        e
        for e in service.store.events.get(user)
        if isinstance(e, Account.Event) and e.timestamp <= at
    ]
    main = savings = Decimal(0)
    for e in events:
        if isinstance(e, Account.Credited | Account.Reversed):
            main, savings = main + e.main, savings + e.savings
        elif isinstance(e, Account.Withdrawn):
            main -= e.amount
        elif isinstance(e, Account.Transferred):
            moved = e.amount if e.source == "main" else -e.amount
            main, savings = main - moved, savings + moved
        elif isinstance(e, Account.InterestPosted):
            savings += e.amount
    if events:
        account = service.store.get_account(user, version=events[-1].originator_version)
        assert (account.main, account.savings) == (main, savings)
    return main, savings


async def test_the_ledger_invariants_hold_over_any_sequence(service: AccountingService) -> None:
    loop = asyncio.get_running_loop()

    def run(coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=60)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(ops=operations)
    def check(ops: list[tuple[Any, ...]]) -> None:
        user = uuid.uuid4()
        run(service.open_account(user, f"{user}@example.com", "Ann"))
        model = Model()
        answered: list[tuple[datetime, dict[str, Any]]] = []
        listed: list[tuple[datetime, list[dict[str, Any]]]] = []
        for op in ops:
            step(run, service, user, model, op)
            now = run(service.balance(user))
            # The invariants: the service agrees with the model, and the model adds up.
            assert (now["main"], now["savings"]) == (model.main, model.savings), op
            assert model.main >= 0 and model.savings >= 0
            assert now["total"] == (
                model.credits - model.withdrawals + model.interest + model.reversed
            )
            answered.append((now["at"], now))
            listed.append((now["at"], transactions(run, service, user, now["at"])))
        entries = transactions(run, service, user, datetime.now(UTC) + timedelta(days=1))
        assert [e["entry_id"] for e in entries] == [e.entry_id for e in model.entries]
        for entry in entries:
            assert entry["main_balance"] >= 0 and entry["savings_balance"] >= 0
            at = entry["at"]
            found = run(service.balance(user, at))
            assert (found["main"], found["savings"]) == replayed(service, user, at)
            assert (found["main"], found["savings"]) == (
                entry["main_balance"],
                entry["savings_balance"],
            )
        # Every read at an instant, once answered, never changes.
        for at, before in answered:
            assert run(service.balance(user, at)) == before
        for at, before_list in listed:
            assert transactions(run, service, user, at) == before_list
        # A month's closing balances are the next month's opening ones.
        today = datetime.now(UTC)
        last = (today.replace(day=1) - timedelta(days=1)).date()
        this = run(service.statement(user, today.year, today.month, limit=1, offset=0))
        previous = run(service.statement(user, last.year, last.month, limit=1, offset=0))
        assert previous["closing"] == this["opening"]

    await asyncio.to_thread(check)


def transactions(run: Any, service: AccountingService, user: uuid.UUID, to: datetime) -> Any:
    items, total = run(service.transactions(user, FAR_PAST, to, limit=1000, offset=0))
    assert len(items) == total
    return items


def step(
    run: Any, service: AccountingService, user: uuid.UUID, model: Model, op: tuple[Any, ...]
) -> None:
    """Do one operation through the service, and check its outcome against the model."""
    what, value = op[0], op[1]
    key = uuid.uuid4().hex
    if what in ("percentage", "flat-amount"):
        made = run(service.create_plan(f"p {key}", what, value, lock_in_days=op[2]))
        run(service.assign_plan(user, made["id"]))
        model.plan, model.lock_in_days = (what, value), op[2]
    elif what == "credit":
        parts = model.split(value)
        made = attempt(run, service.credit(user, value, idempotency_key=key, request_hash="c"))
        if parts is None:
            assert isinstance(made, CreditTooSmall)
            return
        model.book(made, *parts)
        model.credits += value
    elif what == "withdraw":
        made = attempt(run, service.withdraw(user, value, idempotency_key=key, request_hash="w"))
        if value > model.main:
            assert isinstance(made, InsufficientFunds)
            return
        model.book(made, -value, Decimal(0))
        model.withdrawals += value
    elif what in ("to_savings", "to_main"):
        source = "main" if what == "to_savings" else "savings"
        made = attempt(
            run, service.transfer(user, source, value, idempotency_key=key, request_hash="t")
        )
        held = model.main if source == "main" else model.savings
        if value > held:
            assert isinstance(made, InsufficientFunds)
            return
        if source == "savings" and value > model.savings - model.locked:
            # Sums saved under a lock-in came in seconds ago: they are all still locked.
            assert isinstance(made, SavingsLocked)
            return
        moved = -value if source == "main" else value
        model.book(made, moved, -moved)
    elif what == "reverse":
        reversal(run, service, model, value)
    else:
        year, month = 2001 + model.months // 12, model.months % 12 + 1
        model.months += 1
        assert run(service.post_month(user, year, month, value))
        if value:
            made = transactions(run, service, user, datetime.now(UTC) + timedelta(days=1))[-1]
            assert (made["kind"], made["period"]) == ("interest", f"{year:04d}-{month:02d}")
            model.book(made, Decimal(0), value)
            model.interest += value


def reversal(run: Any, service: AccountingService, model: Model, where: float) -> None:
    """Reverse an earlier entry picked by `where` (0..1), if there is one."""
    if not model.entries:
        return
    entry = model.entries[min(int(where * len(model.entries)), len(model.entries) - 1)]
    made = attempt(
        run,
        service.reverse(
            entry.entry_id, "test", by="admin", idempotency_key=uuid.uuid4().hex, request_hash="r"
        ),
    )
    if entry.kind == "reversal" or entry.reversed:
        assert isinstance(made, EntryNotReversible)
        return
    if model.main - entry.main < 0 or model.savings - entry.savings < 0:
        assert isinstance(made, InsufficientFunds)
        return
    assert made["reverses"] == entry.entry_id
    model.book(made, -entry.main, -entry.savings)
    model.reversed -= entry.main + entry.savings
    entry.reversed = True


def attempt(run: Any, call: Coroutine[Any, Any, dict[str, Any]]) -> Any:
    """The call's answer, or the domain error it raised (returned, for the model to judge)."""
    try:
        return run(call)
    except DomainError as error:
        return error
