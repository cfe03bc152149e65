"""The savings jobs a scheduler runs: the same code as the CLI's, in the project's virtualenv.

`dags/savings_interest.py` calls `post_interest` through Airflow's `@task.external_python`;
`backoffice savings post-interest` calls it too (with a progress bar), so there is one path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Any

from backoffice.core.config import get_settings
from backoffice.services import SAVINGS_ACCOUNTING, databases_for


def accounting_url() -> str:
    """The accounting database's URL, as `make run` and the services resolve it."""
    return databases_for(get_settings(), [SAVINGS_ACCOUNTING], {})[SAVINGS_ACCOUNTING.service]


def post_interest(
    through: str | None = None,
    *,
    started: Callable[[int], None] | None = None,
    advance: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Post the interest of every account due through `through` (`YYYY-MM-DD`, a day ended).

    Args:
        through: the last day to post through (None: yesterday, by the database's clock).
        started: told how many accounts are due, before any is posted.
        advance: told how many accounts each batch finished.

    Returns:
        through (the day posted through), accounts, months, entries, cents (the interest
        paid, in cents) and failed.

    Raises:
        ValueError: `through` is not a date.
        ValidationFailed: `through` has not ended yet.
    """
    from backoffice.savings.accounting.posting import due_total, yesterday
    from backoffice.savings.accounting.posting import post_interest as post
    from backoffice.savings.accounting.service import AccountingService

    given = None if through is None else date.fromisoformat(through)

    async def run() -> dict[str, Any]:
        service = await AccountingService.open(accounting_url())
        try:
            day = given or await yesterday(service)
            if started is not None:
                started(await due_total(service, day))
            done = await post(service, day, advance=advance or (lambda _: None))
        finally:
            await service.close()
        return {
            "through": day.isoformat(),
            "accounts": done.accounts,
            "months": done.months,
            "entries": done.entries,
            "cents": int(done.amount * 100),
            "failed": len(done.failed),
        }

    result: dict[str, Any] = asyncio.run(run())
    return result
