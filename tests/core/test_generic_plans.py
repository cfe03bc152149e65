"""The statement pool plans each statement once (`plan_cache_mode = force_generic_plan`).

So every `Sql` statement it runs must read only the rows it needs under its generic plan, the
plan that cannot see the parameters (a LIMIT parameter, for one, is guessed at a tenth of the
rows). Each statement runs under EXPLAIN ANALYZE, with that plan, on a database whose tables
are big enough that reading them whole would show: the rows read from the tables that grow
with use must stay a handful.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from backoffice.core import migrations
from backoffice.core.db import Sql
from backoffice.core.embedded import driver_url
from backoffice.expenses import statements as expenses
from backoffice.org import hierarchy
from backoffice.payroll import service as payroll
from tests.live import scratch_database

GROWING = {"employees", "expenses", "expense_approvals", "expense_audit_events"}
# What a statement may read from those tables: a page of 20 with its chains, not the table.
MAX_ROWS_READ = 100

# 20,000 employees in two companies, one in a thousand a head (level 1); employee 1 logs in as
# account 1. 30,000 expenses of company 1: employee 1 approved the first 20,000 and the last
# 10,000 wait for them (one busy approver, as the demo's Manager, whose inbox starts late).
FILL = """
INSERT INTO accounts (username, password_hash, role) VALUES ('busy', 'x', 'staff');
INSERT INTO countries (iso_code, name, currency) VALUES ('US', 'United States', 'USD');
INSERT INTO companies (name) VALUES ('Big'), ('Other');
INSERT INTO teams (company_id, name) VALUES (1, 'One'), (2, 'Two');
INSERT INTO hierarchy_levels (company_id, team_id, level_number, level_name)
    VALUES (1, 1, 1, 'Head'), (2, 2, 1, 'Head'), (1, 1, 2, 'Staff'), (2, 2, 2, 'Staff');
INSERT INTO employees (full_name, job_title, country_iso, salary, company_id, team_id, level_id)
    SELECT 'Person ' || g, 'Engineer', 'US', 1000 + g, 1 + g % 2, 1 + g % 2,
        CASE WHEN g % 1000 < 2 THEN 1 + g % 2 ELSE 3 + g % 2 END
    FROM generate_series(0, 19999) AS g;
UPDATE employees SET account_id = 1 WHERE id = 1;
INSERT INTO expense_policies (company_id, category, name, min_amount, max_amount)
    VALUES (1, 'equipment', 'Equipment', 0, 1000);
INSERT INTO approval_steps (policy_id, step_order, required_level, team_scope)
    VALUES (1, 1, 1, 'submitter');
INSERT INTO expenses (company_id, submitter_id, policy_id, amount, description, status,
        completed_at)
    SELECT 1, 3 + (g % 5000) * 2, 1, 10, 'x',
        CASE WHEN g <= 20000 THEN 'approved' ELSE 'pending' END,
        CASE WHEN g <= 20000 THEN now() END
    FROM generate_series(1, 30000) AS g;
INSERT INTO expense_approvals (expense_id, step_id, step_number, approver_id, approver_level,
        is_required, is_actionable, status, decided_at)
    SELECT id, 1, 1, 1, 1, true, status = 'pending', status, completed_at FROM expenses;
INSERT INTO expense_inbox_counts (approver_id, waiting) VALUES (1, 10000);
INSERT INTO expense_audit_events (expense_id, action, to_status, actor_account_id, actor_username)
    SELECT id, 'submitted', 'pending', 1, 'busy' FROM expenses;
ANALYZE;
"""

_ACTOR = {
    "actor_account_id": 1,
    "actor_username": "busy",
    "actor_employee_id": 1,
    "on_behalf_of_id": None,
}
_INBOX = json.dumps([{"approver_id": 1, "delta": -1}])
# Parameters for every statement the statement pool runs, on the data above.
PARAMETERS: dict[str, dict[str, Any]] = {
    "CLAIM": {"account_id": 1, "policy_id": 1},
    "APPROVER_POOL": {"company_id": 1, "team_id": 1, "policy_id": 1},
    "DECISION_INPUT": {"account_id": 1, "expense_id": 29500},
    "EXPENSE_WITH_CHAIN": {"account_id": 1, "expense_id": 29500},
    "MY_INBOX": {"account_id": 1, "limit": 20, "offset": 0},
    "INBOX_ITEMS": {"approver_id": 1, "limit": 20, "offset": 0},
    "INBOX_TOTAL": {"approver_id": 1},
    "AUDIT_EVENTS": {"expense_id": 29500},
    "RECORD_SUBMISSION": {
        "company_id": 1,
        "submitter_id": 3,
        "policy_id": 1,
        "amount": Decimal("12.50"),
        "description": "x",
        "status": "pending",
        "done": False,
        "link_status": "pending",
        "links": json.dumps(
            [
                {
                    "step_id": 1,
                    "step_number": 1,
                    "approver_id": 1,
                    "approver_level": 1,
                    "is_required": True,
                    "is_actionable": True,
                }
            ]
        ),
        "events": json.dumps([{"action": "submitted", "to_status": "pending"}]),
        "inbox": json.dumps([{"approver_id": 1, "delta": 1}]),
        **_ACTOR,
    },
    "RECORD_DECISION": {
        "expense_id": 29500,
        "version": 0,
        "steps": json.dumps(
            [{"step_number": 1, "status": "approved", "is_actionable": False, "decided": True}]
        ),
        "expense_status": "approved",
        "events": json.dumps([{"action": "step_approved", "to_status": "approved"}]),
        "inbox": _INBOX,
        **_ACTOR,
    },
    "_BY_ID": {"employee_id": 15000},
    "_BY_ACCOUNT": {"account_id": 1},
    "employee_breakdown": {"employee_id": 15000, "as_of": dt.date(2026, 1, 1)},
}


def _driver_statements() -> dict[str, Sql]:
    found = {"employee_breakdown": payroll._employee_breakdown_sql()}
    for module in (expenses, hierarchy):
        found |= {name: value for name, value in vars(module).items() if isinstance(value, Sql)}
    return found


STATEMENTS = _driver_statements()


@pytest.fixture(scope="module")
def big_database_url(server_url: str) -> Iterator[str]:
    for url in scratch_database(server_url, "backoffice_plans"):
        migrations.upgrade(url)
        yield url


@pytest.fixture(scope="module")
async def conn(big_database_url: str) -> AsyncIterator[Any]:
    connection = await asyncpg.connect(
        driver_url(big_database_url, None),
        server_settings={"plan_cache_mode": "force_generic_plan"},
    )
    await connection.execute(FILL)
    yield connection
    await connection.close()


def _literal(value: Any) -> str:
    """A SQL literal PostgreSQL casts to the prepared statement's parameter type."""
    if value is None:
        return "NULL"
    if isinstance(value, list):
        value = "{" + ",".join(str(v) for v in value) + "}"
    return "'" + str(value).replace("'", "''") + "'"


def _rows_read(node: dict[str, Any]) -> int:
    """Rows the plan node and its children read from the growing tables."""
    own = 0
    if node.get("Relation Name") in GROWING:
        loops = node.get("Actual Loops", 1)
        own = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * loops
    return round(own) + sum(_rows_read(child) for child in node.get("Plans", []))


def test_every_driver_statement_has_parameters() -> None:
    assert sorted(STATEMENTS) == sorted(PARAMETERS)


@pytest.mark.parametrize("name", sorted(STATEMENTS))
async def test_generic_plan_reads_a_handful_of_rows(conn: Any, name: str) -> None:
    statement = STATEMENTS[name]
    values = ", ".join(_literal(v) for v in statement.args(PARAMETERS[name]))
    transaction = conn.transaction()  # the writes are undone
    await transaction.start()
    try:
        # EXECUTE of a prepared statement: the plan the statement pool's connections would use.
        await conn.execute(f"PREPARE checked AS {statement.text}")
        explained = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE checked({values})")
    finally:
        await transaction.rollback()
        await conn.execute("DEALLOCATE checked")
    plan = json.loads(explained)[0]["Plan"] if isinstance(explained, str) else explained[0]["Plan"]
    assert _rows_read(plan) <= MAX_ROWS_READ, json.dumps(plan, indent=1)
