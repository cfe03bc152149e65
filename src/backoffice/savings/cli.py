"""`backoffice savings ...`: the savings jobs an operator runs by hand.

`post-interest [--through YYYY-MM-DD]` posts every account's monthly interest due through that day
(yesterday, UTC, by default)
(`backoffice.savings.tasks.post_interest`, as the monthly DAG does), with a progress bar in a
terminal. Killed and run again, it posts nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from backoffice.core.console import cli_console
from backoffice.core.errors import ValidationFailed
from backoffice.ingest.console import errors, fail

app = typer.Typer(help="Savings accounts: interest.", no_args_is_help=True)
console = cli_console()


@app.command("post-interest")
def post_interest_command(
    through: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="Post every month that ends on or before this day (YYYY-MM-DD, a day ended)"
            " [default: yesterday, UTC]",
        ),
    ] = None,
) -> None:
    """Post the monthly interest of every account due (idempotent: run again, nothing twice)."""
    from backoffice.savings.tasks import post_interest

    progress = Progress(
        TextColumn("interest"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    task = progress.add_task("accounts", total=None)
    try:
        with progress:
            done = post_interest(
                None if through is None else through.date().isoformat(),
                started=lambda total: progress.update(task, total=total),
                advance=lambda count: progress.advance(task, count),
            )
    except ValidationFailed as error:
        raise fail(error.message) from None
    raise typer.Exit(report(done))


def report(done: dict[str, Any]) -> int:
    """Print what a posting run did (and what it could not); its exit status."""
    paid = Decimal(done["cents"]) / 100
    console.print(
        f"interest through {done['through']}: {done['accounts']} accounts,"
        f" {done['months']} months settled, {done['entries']} entries, {paid:.2f} paid",
        highlight=False,
    )
    if not done["failed"]:
        return 0
    errors.print(f"{done['failed']} accounts not posted: see the log", style="red")
    return 1
