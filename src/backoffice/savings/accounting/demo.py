"""The demo's billing plans, so that a customer of `make run` has plans to choose from."""

from __future__ import annotations

from decimal import Decimal

from backoffice.core.db import Database
from backoffice.savings.accounting import queries
from backoffice.savings.accounting.rules import validate_plan

# In this order, so that on a fresh database "Save 10%" is plan 1 (the README's walkthrough).
DEMO_PLANS = (
    ("Save 10%", "percentage", Decimal(10)),
    ("Save 5 a credit", "flat-amount", Decimal(5)),
)


async def load_demo_plans(url: str) -> int:
    """Create the demo's plans in the accounting database at `url`; a name taken is skipped.

    Returns:
        How many plans were created (0 the second time).
    """
    database = Database(url, pool_size=1, max_overflow=0)
    created = 0
    try:
        async with database.unit_of_work() as session:
            for name, kind, value in DEMO_PLANS:
                if await queries.insert_plan(session, name, validate_plan(kind, value)):
                    created += 1
    finally:
        await database.dispose()
    return created
