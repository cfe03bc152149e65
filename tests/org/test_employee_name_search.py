"""The employee name search: served by the trigram index, same answers as a substring match.

The plans are checked on a small table with sequential scans switched off (`SET LOCAL
enable_seqscan = off`): the question is whether the index can serve the filter at all, which
the planner would otherwise not bother with on a few rows. The figures at 1,000,000
employees are in docs/benchmarks.md.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.pagination import PageParams
from backoffice.org import employees
from backoffice.org.models import Employee
from tests.payroll.factories import make_country, make_employee

INDEX = "ix_employees_full_name_trgm"
NAMES = (
    "Asha Smith",
    "SMITHERS Jones",
    "Kenji Sato",
    "Zoë Ångström",
    "Under_Score Lee",
    "UnderXScore Lee",
    "Fifty 50% Khan",
    "Back\\Slash Wong",
    "Öskar Smith-Mith",
)


async def _plan(session: AsyncSession, statement: Select[Any]) -> str:
    """EXPLAIN of `statement`, its values written in (as the driver's SQL)."""
    connection = await session.connection()
    sql = str(statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    rows = await connection.exec_driver_sql(f"EXPLAIN {sql}")
    return "\n".join(row[0] for row in rows)


def _page_and_count(name: str) -> tuple[Select[Any], Select[Any]]:
    """The statements `list_employees` runs for a name search: a page and its count."""
    filtered = employees._filtered(name=name)
    page = filtered.order_by(Employee.id).limit(50)
    return page, select(func.count()).select_from(filtered.subquery())


async def test_the_trigram_index_is_on_the_bare_full_name(session):
    definition = await session.scalar(
        text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"), {"name": INDEX}
    )
    assert definition is not None, "migration 0015 did not create the index"
    assert "USING gin (full_name gin_trgm_ops)" in definition, definition


@pytest.mark.parametrize("name", ["smith", "SMITH", "Kenji Sa", "der_sc", "fifty 50%", "ÅNGSTR"])
async def test_a_search_with_a_trigram_can_read_the_index(session, name):
    await make_country(session, "IN")
    for full_name in NAMES:
        await make_employee(session, full_name=full_name)
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    await session.execute(text("SET LOCAL enable_indexscan = off"))  # not the id order's B-tree
    page, count = _page_and_count(name)
    for statement in (page, count):
        plan = await _plan(session, statement)
        assert f"Bitmap Index Scan on {INDEX}" in plan, plan


@pytest.mark.parametrize("name", ["sm", "S", "a b", "%_", "--x"])
async def test_a_search_without_a_trigram_never_reads_the_index(session, name):
    """No trigram in the text: the index could only hand back every row to recheck."""
    await make_country(session, "IN")
    await make_employee(session, full_name="Asha Smith")
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    await session.execute(text("SET LOCAL enable_indexscan = off"))
    for statement in _page_and_count(name):
        plan = await _plan(session, statement)
        assert INDEX not in plan, plan
        assert "Seq Scan on employees" in plan, plan


@pytest.mark.parametrize(
    "name",
    [
        "smith",
        "SMITH",
        "mith",
        "sm",
        "s",
        "ZOË",
        "ångström",
        "Ång",
        "der_Sc",
        "der_",
        "_",
        "%",
        "50%",
        "0% k",
        "\\",
        "k\\s",
        "ack\\sl",
        "Lee",
        "e",
        " ",
        "nobody",
    ],
)
async def test_results_are_a_substring_match_in_any_case(session, name):
    """Both ways of writing the filter find exactly the names holding the text, any case;
    `%`, `_` and `\\` in the text are themselves."""
    await make_country(session, "IN")
    for full_name in NAMES:
        await make_employee(session, full_name=full_name)
    await session.execute(text("SET LOCAL enable_seqscan = off"))  # the index wherever it can
    rows, info = await employees.list_employees(
        session, PageParams(limit=200), [Employee.full_name.asc()], name=name
    )
    expected = sorted(n for n in NAMES if name.lower() in n.lower())
    assert sorted(e.full_name for e in rows) == expected
    assert info.total == len(expected)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(alphabet="aAsSmMiItThHöÖkK %_\\-5", min_size=1, max_size=6))
async def test_any_text_finds_exactly_the_names_holding_it(session, name):
    """Whichever way `contains` writes the filter (with or without a trigram), the rows are
    the names holding the text in any case, wildcards and backslashes as themselves."""
    if not await session.scalar(select(func.count()).select_from(Employee)):
        await make_country(session, "IN")
        for full_name in NAMES:
            await make_employee(session, full_name=full_name)
    await session.execute(text("SET LOCAL enable_seqscan = off"))  # the index wherever it can
    rows, info = await employees.list_employees(
        session, PageParams(limit=200), [Employee.full_name.asc()], name=name
    )
    expected = sorted(n for n in NAMES if name.lower() in n.lower())
    assert sorted(e.full_name for e in rows) == expected
    assert info.total == len(expected)
