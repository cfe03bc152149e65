"""The demo's billing plans, so that a customer of `make run` has plans to choose from."""

from __future__ import annotations

from decimal import Decimal

from backoffice.core.db import Database
from backoffice.savings.accounting import queries
from backoffice.savings.accounting.rules import validate_plan

# In this order, so that on a fresh database "Save 10%" is plan 1 (the README's walkthrough).
# The third pays interest (2% a year) and locks savings in for 30 days.
DEMO_PLANS = (
    ("Save 10%", "percentage", Decimal(10), 0, Decimal(0)),
    ("Save 5 a credit", "flat-amount", Decimal(5), 0, Decimal(0)),
    ("Save 20% at 2%, 30 days locked", "percentage", Decimal(20), 30, Decimal("0.02")),
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
            for name, kind, value, lock_in_days, rate in DEMO_PLANS:
                terms = validate_plan(kind, value)
                if await queries.insert_plan(
                    session, name, terms, lock_in_days=lock_in_days, interest_rate=rate
                ):
                    created += 1
    finally:
        await database.dispose()
    return created
