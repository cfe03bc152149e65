"""The `backoffice` command line."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from backoffice.core.auth import cli as accounts_cli
from backoffice.core.auth.logins_cli import app as logins_app
from backoffice.core.config import SERVICES, StartupRefused, get_settings
from backoffice.core.console import cli_console
from backoffice.merchants.cli import app as merchants_app
from backoffice.savings.cli import app as savings_app
from backoffice.transactions.cli import app as transactions_app

# Alembic, FastAPI and SQLAlchemy are imported by the commands that use them: a command that
# needs none of them (a merchant import, `--help`) starts in a fraction of the time.

app = typer.Typer(help="backoffice: run the platform and its jobs.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)


def _published_passwords() -> frozenset[str]:
    """The demo's published passwords, refused for any account `backoffice accounts` sets."""
    from backoffice.demo import published_logins

    return frozenset(published_logins().values())


app.add_typer(accounts_cli.build(_published_passwords), name="accounts")
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(logins_app, name="logins")
app.add_typer(merchants_app, name="merchants")
app.add_typer(savings_app, name="savings")
app.add_typer(transactions_app, name="transactions")
console = cli_console()


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help=f"What to serve: {', '.join(SERVICES)}")] = "all",
    host: Annotated[
        str | None, typer.Option(help="Interface to bind [default: HOST or 127.0.0.1]")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on [default: PORT or 8000]")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Serve every context in one ASGI app, or one savings service alone.

    Each service uses its own database (embedded PostgreSQL when its URL and DATABASE_URL are
    unset) and NATS_URL (an embedded NATS when unset).
    """
    import os

    from backoffice.app import SERVICE_DATABASES
    from backoffice.core import serving
    from backoffice.core.databases import resolve_url
    from backoffice.core.embedded import start_nats
    from backoffice.core.natsauth import (
        PASSWORDS_FILE,
        ensure_passwords,
        password_setting,
        refuse_insecure,
    )
    from backoffice.core.startup import check_before_serving
    from backoffice.demo import published_logins
    from backoffice.services import MAIN, NATS_USERS, databases_for

    if service not in SERVICES:
        raise typer.BadParameter(f"{service!r} is none of: {', '.join(SERVICES)}")
    settings = get_settings()
    # The port first: one taken is one line at once, before any database or broker starts.
    sock = serving.bind(host or settings.host, port or settings.port)
    specs = SERVICE_DATABASES[service]
    given = {}
    if MAIN in specs:  # refused first, in one line (not uvicorn's traceback), creating nothing
        given[MAIN.service] = resolve_url(settings, MAIN)
        check_before_serving(settings, given[MAIN.service], published_logins())
    users = NATS_USERS[service]
    refuse_insecure(settings, [user.name for user in users])  # production: NATS credentials, TLS
    urls = databases_for(settings, specs, given)
    # Workers and the app factory find the same databases, broker and service.
    os.environ["BACKOFFICE_SERVICE"] = service
    for spec in specs:
        os.environ[spec.variable] = urls[spec.service]
    if settings.nats_url is None:  # the home's embedded one, shared with other `serve`s
        os.environ["NATS_URL"] = start_nats(settings.home, NATS_USERS["all"])
        store = settings.home.resolve() / "nats"
        passwords = ensure_passwords(store / PASSWORDS_FILE, [user.name for user in users])
        for user in users:  # the passwords it made, for the services served here only
            os.environ[password_setting(user.name)] = passwords[user.name]
    get_settings.cache_clear()
    bound_host, bound_port = sock.getsockname()[:2]
    base = f"http://{bound_host}:{bound_port}"

    def announce() -> None:  # once the port listens and the app has started
        pages = f"  console: {base}/console/" if service == "all" else ""
        console.print(
            f"[green]serving {service}[/] {base}{pages}  API docs: {base}/docs"
            f" (ReDoc: {base}/redoc)",
            soft_wrap=True,
        )

    serving.run(
        sock,
        announce,
        workers=workers,
        app="backoffice.app:create_app",
        factory=True,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


DATABASE_NAMES = "main, savings-users, savings-accounting"


def _database_urls(service: str) -> dict[str, str]:
    """The URL of `service`'s database, or of every one for `all` (refusing any shared one)."""
    from backoffice.services import DATABASES, databases_for

    if service != "all" and service not in DATABASES:
        raise typer.BadParameter(f"{service!r} is none of: all, {DATABASE_NAMES}")
    specs = list(DATABASES.values()) if service == "all" else [DATABASES[service]]
    return databases_for(get_settings(), specs, {})


@db_app.command("upgrade")
def db_upgrade(
    service: Annotated[
        str, typer.Argument(help=f"The service whose database to migrate: all, {DATABASE_NAMES}")
    ] = "all",
    revision: Annotated[
        str, typer.Option(help="Target revision of that service's history (default: every head)")
    ] = "heads",
) -> None:
    """Apply the migrations of SERVICE's database (each service has a history of its own)."""
    from backoffice.core import migrations
    from backoffice.services import DATABASES

    if service == "all" and revision != "heads":
        raise typer.BadParameter("a --revision belongs to one service's history: name the service")
    for name, url in _database_urls(service).items():
        migrations.upgrade(url, revision, scripts=DATABASES[name].scripts)
        console.print(f"[green]{name}: database at {revision}[/]")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target, e.g. base or -1")],
    service: Annotated[
        str, typer.Option(help=f"The service whose database to revert: {DATABASE_NAMES}")
    ] = "main",
) -> None:
    """Revert SERVICE's database (default: the main one) down to REVISION."""
    from backoffice.core import migrations
    from backoffice.services import DATABASES

    if service == "all":
        raise typer.BadParameter(f"downgrade one service at a time: {DATABASE_NAMES}")
    url = _database_urls(service)[service]
    migrations.downgrade(url, revision, scripts=DATABASES[service].scripts)
    console.print(f"[yellow]{service}: database at {revision}[/]")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL and NATS that `make run` left running under BACKOFFICE_HOME."""
    from backoffice.core.embedded import stop_nats, stop_postgres

    home = get_settings().home
    for name, stopped in (("PostgreSQL", stop_postgres(home)), ("NATS", stop_nats(home))):
        console.print(f"[green]embedded {name} stopped[/]" if stopped else f"{name}: not running")


@db_app.command("url")
def db_url(
    service: Annotated[str, typer.Argument(help=f"Whose database: {DATABASE_NAMES}")] = "main",
) -> None:
    """Print SERVICE's database URL (starting the embedded server if needed)."""
    if service == "all":
        raise typer.BadParameter(f"one service at a time: {DATABASE_NAMES}")
    typer.echo(_database_urls(service)[service])


@demo_app.command("load")
def demo_load() -> None:
    """Load the demo data; running it twice creates nothing the second time."""
    from backoffice.core.auth.service import Authenticator, find_demo_credentials
    from backoffice.core.db import Database
    from backoffice.demo import load_demo, published_logins
    from backoffice.savings.accounting.demo import load_demo_plans
    from backoffice.services import SAVINGS_ACCOUNTING

    settings = get_settings()
    logins = published_logins()
    urls = _database_urls("all")

    async def run() -> tuple[dict[str, int], list[str]]:
        database = Database(urls["main"])
        auth = Authenticator(settings)
        try:
            async with database.unit_of_work() as session:
                created = await load_demo(session, auth)
            created["savings plans"] = await load_demo_plans(urls[SAVINGS_ACCOUNTING.service])
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
        errors = cli_console(stderr=True)
        errors.print(
            f"backoffice: {exc}", style="red", markup=False, highlight=False, soft_wrap=True
        )
        raise SystemExit(2) from None
