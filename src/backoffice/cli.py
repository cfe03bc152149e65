"""The `backoffice` command line."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from backoffice.core.config import StartupRefused, get_settings
from backoffice.core.embedded import resolve_database_url
from backoffice.merchants.cli import app as merchants_app
from backoffice.transactions.cli import app as transactions_app

# Alembic, FastAPI and SQLAlchemy are imported by the commands that use them: a command that
# needs none of them (a merchant import, `--help`) starts in a fraction of the time.

app = typer.Typer(help="backoffice: run the platform and its jobs.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(merchants_app, name="merchants")
app.add_typer(transactions_app, name="transactions")
console = Console()


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind [default: HOST or 127.0.0.1]")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on [default: PORT or 8000]")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Serve every context in one ASGI app (embedded PostgreSQL when DATABASE_URL is unset)."""
    import os

    import uvicorn

    from backoffice.core.startup import check_before_serving
    from backoffice.demo import published_logins

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    url = resolve_database_url(settings)
    check_before_serving(settings, url, published_logins())  # one line, not uvicorn's traceback
    os.environ["DATABASE_URL"] = url  # workers and the app factory find the same database
    base = f"http://{host}:{port}"
    console.print(
        f"[green]serving[/] {base}  API docs: {base}/docs (ReDoc: {base}/redoc)", soft_wrap=True
    )
    uvicorn.run(
        "backoffice.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "heads") -> None:
    """Apply migrations up to REVISION (default: every head)."""
    from backoffice.core import migrations

    migrations.upgrade(resolve_database_url(get_settings()), revision)
    console.print(f"[green]database at {revision}[/]")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target, e.g. base or -1")]) -> None:
    """Revert migrations down to REVISION."""
    from backoffice.core import migrations

    migrations.downgrade(resolve_database_url(get_settings()), revision)
    console.print(f"[yellow]database at {revision}[/]")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL that `make run` left running under BACKOFFICE_HOME."""
    from backoffice.core.embedded import stop_postgres

    stopped = stop_postgres(get_settings().home)
    console.print("[green]embedded PostgreSQL stopped[/]" if stopped else "not running")


@db_app.command("url")
def db_url() -> None:
    """Print the main database URL (starting the embedded server if needed)."""
    typer.echo(resolve_database_url(get_settings()))


@demo_app.command("load")
def demo_load() -> None:
    """Load the demo data; running it twice creates nothing the second time."""
    from backoffice.core.auth.service import Authenticator, find_demo_credentials
    from backoffice.core.db import Database
    from backoffice.demo import load_demo, published_logins

    settings = get_settings()
    logins = published_logins()

    async def run() -> tuple[dict[str, int], list[str]]:
        database = Database(resolve_database_url(settings))
        auth = Authenticator(settings)
        try:
            async with database.unit_of_work() as session:
                created = await load_demo(session, auth)
            async with database.sessionmaker() as session:
                return created, await find_demo_credentials(session, auth, logins)
        finally:
            await database.dispose()

    created, working = asyncio.run(run())
    table = Table("part", "created", title="demo data")
    for part, count in created.items():
        table.add_row(part, str(count))
    console.print(table)
    # The logins that work now (a changed password is not printed), in the loader's order.
    pairs = [f"{name}/{logins[name]}" for name in logins if name in working]
    console.print(
        "demo logins (username/password):", ", ".join(pairs), highlight=False, soft_wrap=True
    )


def main() -> None:
    """Entry point of the `backoffice` console script.

    A refusal to start (bad settings, demo logins in production) is one line on stderr saying
    what to do, and exit status 2: it is the operator's to fix, a traceback would only hide it.
    """
    try:
        app()
    except StartupRefused as exc:
        errors = Console(stderr=True)
        errors.print(
            f"backoffice: {exc}", style="red", markup=False, highlight=False, soft_wrap=True
        )
        raise SystemExit(2) from None
