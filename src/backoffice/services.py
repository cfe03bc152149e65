"""The platform's databases, one per service that keeps data (core.databases says how each resolves)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from backoffice.core.config import Settings
from backoffice.core.databases import DatabaseSpec, refuse_shared, resolve_url
from backoffice.core.embedded import MAIN_DATABASE
from backoffice.core.migrations import MAIN_SCRIPTS
from backoffice.core.natsauth import NatsUser
from backoffice.savings import permissions

MAIN = DatabaseSpec("main", MAIN_DATABASE, "", MAIN_SCRIPTS)
SAVINGS_USERS = DatabaseSpec(
    "savings-users", "savings_users", "savings_users_", "backoffice.savings.users:migrations"
)
SAVINGS_ACCOUNTING = DatabaseSpec(
    "savings-accounting",
    "savings_accounting",
    "savings_accounting_",
    "backoffice.savings.accounting:migrations",
)
DATABASES = {spec.service: spec for spec in (MAIN, SAVINGS_USERS, SAVINGS_ACCOUNTING)}

# The NATS users of what each `backoffice serve SERVICE` serves (savings.permissions).
NATS_USERS: dict[str, tuple[NatsUser, ...]] = {
    "all": permissions.NATS_USERS,
    "savings-users": (permissions.USERS,),
    "savings-accounting": (permissions.ACCOUNTING,),
    "savings-gateway": (permissions.GATEWAY,),
}


def databases_for(
    settings: Settings, specs: Sequence[DatabaseSpec], given: Mapping[str, str]
) -> dict[str, str]:
    """The URLs of `specs`' databases: `given` ones as they are, the others resolved.

    Raises:
        StartupRefused: two of them would share a database, or one cannot be created.
    """
    urls = {spec.service: given.get(spec.service) or resolve_url(settings, spec) for spec in specs}
    refuse_shared(urls)
    return urls
