"""The projections of an account's events: the rows a save writes beside them.

- `ledger_entries`: one row per movement of money (`aggregate.Movement`), with the running
  balances after it and the account's entry number (`seq`);
- `plan_changes`: one row per plan put in force, with the terms interest and lock-in read;
- `accounts`: the account's current profile, plan, state and interest posted so far;
- `processed_messages`: the consumer's message whose effect the save is.

The rows are plain statements (`recorder.Row`) passed to `Application.save`; the recorder runs
them in the events' transaction, so a save records all of them or none. Their instants are the
save's booking instant (`backoffice.booked_at`, set by `recorder.py`), which only the database knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from backoffice.savings.accounting.aggregate import Account, Movement
from backoffice.savings.accounting.recorder import Row

# `current_setting('backoffice.booked_at')`: the save's booking instant (see `recorder.py`).
_INSERT_ENTRY = (
    "INSERT INTO ledger_entries (entry_id, account_id, seq, kind, at, amount, main, savings,"
    " main_balance, savings_balance, originator_version, idempotency_key, request_hash,"
    " reverses, reason, period, reversed_by) VALUES (%s, %s, %s, %s,"
    " current_setting('backoffice.booked_at')::timestamptz,"
    " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_INSERT_PLAN_CHANGE = (
    "INSERT INTO plan_changes (account_id, originator_version, at, plan_id, interest_rate,"
    " lock_in_days) VALUES (%s, %s, current_setting('backoffice.booked_at')::timestamptz,"
    " %s, %s, %s)"
)
_UPSERT_ACCOUNT = (
    "INSERT INTO accounts (account_id, email, full_name, plan_id, opened_at, closed_at,"
    " token_version, interest_through) VALUES (%s, %s, %s, %s,"
    " current_setting('backoffice.booked_at')::timestamptz,"
    " CASE WHEN %s THEN current_setting('backoffice.booked_at')::timestamptz END, %s, %s)"
    " ON CONFLICT (account_id) DO UPDATE SET email = EXCLUDED.email,"
    " full_name = EXCLUDED.full_name, plan_id = EXCLUDED.plan_id,"
    " closed_at = coalesce(accounts.closed_at, EXCLUDED.closed_at),"
    " token_version = EXCLUDED.token_version, interest_through = EXCLUDED.interest_through"
)
# Events that change nothing of the account's row (its balances live in the ledger).
_MOVES_ONLY = (Account.Credited, Account.Withdrawn, Account.Transferred, Account.Reversed)
_INSERT_PROCESSED = "INSERT INTO processed_messages (consumer, msg_id) VALUES (%s, %s)"


@dataclass(frozen=True, slots=True)
class ProcessedMessage:
    """A message a consumer has handled (its effect commits with this record)."""

    consumer: str
    msg_id: str


def processed_row(processed: ProcessedMessage) -> Row:
    """The row that records a handled message."""
    return Row(_INSERT_PROCESSED, (processed.consumer, processed.msg_id))


def rows_for(account: Account) -> list[Row]:
    """The projection rows of an account's pending (not yet saved) events, in their order.

    An entry per movement with the running balances after it, a plan change per plan assigned,
    and the account's row if any pending event other than a movement is among them.
    """
    pending = list(account.pending_events)
    moves: list[tuple[int, Movement]] = []
    for e in pending:
        movement = getattr(e, "movement", None)
        if movement is not None:
            moves.append((e.originator_version, movement))
    # The aggregate already holds the balances and the count after every pending event: walk
    # back to where they stood before the first one, then forward one entry at a time.
    main = account.main - sum((m.main for _, m in moves), Decimal(0))
    savings = account.savings - sum((m.savings for _, m in moves), Decimal(0))
    seq = account.entries - len(moves)
    rows = []
    for version, m in moves:
        main += m.main
        savings += m.savings
        seq += 1
        rows.append(
            Row(
                _INSERT_ENTRY,
                (
                    m.entry_id,
                    account.id,
                    seq,
                    m.kind,
                    m.amount,
                    m.main,
                    m.savings,
                    main,
                    savings,
                    version,
                    m.idempotency_key,
                    m.request_hash,
                    m.reverses,
                    m.reason,
                    m.period,
                    m.by,
                ),
            )
        )
    for e in pending:
        if isinstance(e, Account.PlanAssigned):
            rows.append(
                Row(
                    _INSERT_PLAN_CHANGE,
                    (account.id, e.originator_version, e.plan_id, e.interest_rate, e.lock_in_days),
                )
            )
    if any(not isinstance(e, _MOVES_ONLY) for e in pending):
        rows.append(
            Row(
                _UPSERT_ACCOUNT,
                (
                    account.id,
                    account.email,
                    account.full_name,
                    account.plan_id,
                    account.is_closed,
                    account.token_version,
                    account.interest_through,
                ),
            )
        )
    return rows
