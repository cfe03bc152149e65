"""Who may see a console page: the signed-in visitor and the checks each page declares.

A page declares what it needs as a parameter (`Staff`, `Reader`, `Writer`, `Updater`,
`Admin`, `SavingsCustomer`); anyone else gets the sign-in page (nobody signed in) or a 403
page. The navigation shows only what the visitor may open, and `access_of` reads a route's
declared access back for the console's auth matrix (tests/console).

A visitor is looked up in the request's transaction: the session record and its account in
one statement (`core.auth.websessions`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.routing import APIRoute

from backoffice.core.auth import websessions
from backoffice.core.auth.service import Permission, Principal
from backoffice.core.auth.websessions import Customer, SignedIn
from backoffice.core.config import Settings
from backoffice.core.db import DbSession
from backoffice.core.errors import Forbidden, Unauthorized

COOKIE = "backoffice_console"
STAFF_SIGN_IN = "/console/sign-in"
CUSTOMER_SIGN_IN = "/console/savings/sign-in"
STATE_KEY = "console_visitor"


class Access(StrEnum):
    """What a page requires of its visitor."""

    PUBLIC = "public"
    STAFF = "staff"  # any platform account
    EMPLOYEE = "employee"  # a platform account linked to an employee (claims and decisions)
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    ADMIN = "admin"
    CUSTOMER = "customer"  # a savings customer


# Each access check and what it requires (filled as the checks are declared below).
ACCESS_CHECKS: dict[Callable[..., Any], Access] = {}


async def visitor(request: Request, session: DbSession) -> SignedIn | None:
    """The signed-in visitor of this request, or None (once per request)."""
    token = request.cookies.get(COOKIE)
    found = None
    if token and len(token) <= 128:
        settings: Settings = request.app.state.settings
        idle = timedelta(minutes=settings.console_idle_minutes)
        found = await websessions.current(session, token, idle=idle)
    request.state.console_visitor = found  # STATE_KEY
    return found


Visitor = Annotated[SignedIn | None, Depends(visitor)]


def signed_in(request: Request) -> SignedIn | None:
    """The visitor a page's checks found (None before they ran, or nobody signed in)."""
    found: SignedIn | None = request.scope.get("state", {}).get(STATE_KEY)
    return found


class SignInRequired(Unauthorized):
    """Nobody is signed in: the error page is the way to `location`, a sign-in page."""

    def __init__(self, location: str) -> None:
        super().__init__("Sign in to continue")
        self.headers = {"Location": location}


def _sign_in_first(request: Request, page: str) -> SignInRequired:
    back = request.url.path if request.method == "GET" else ""
    return SignInRequired(f"{page}?{urlencode({'next': back})}" if back else page)


async def staff(request: Request, who: Visitor) -> Principal:
    """A platform account of any role."""
    if who is None:
        raise _sign_in_first(request, STAFF_SIGN_IN)
    if who.principal is None:
        raise Forbidden(
            "This page is for the back office's staff; you are signed in as a customer."
        )
    return who.principal


ACCESS_CHECKS[staff] = Access.STAFF
Staff = Annotated[Principal, Depends(staff)]


def _requiring(permission: Permission, access: Access) -> Any:
    async def check(principal: Staff) -> Principal:
        if not principal.can(permission):
            raise Forbidden(f"Your role ({principal.role.value}) may not open this page.")
        return principal

    check.__name__ = f"requires_{access.value}"
    ACCESS_CHECKS[check] = access
    return Depends(check)


Reader = Annotated[Principal, _requiring(Permission.READ, Access.READ)]
Writer = Annotated[Principal, _requiring(Permission.CREATE, Access.CREATE)]
Updater = Annotated[Principal, _requiring(Permission.UPDATE, Access.UPDATE)]
Admin = Annotated[Principal, _requiring(Permission.MANAGE_ACCOUNTS, Access.ADMIN)]


async def savings_customer(request: Request, who: Visitor) -> Customer:
    """A savings customer signed in with their customer login."""
    if who is None:
        raise _sign_in_first(request, CUSTOMER_SIGN_IN)
    if who.customer is None:
        raise Forbidden("This page is for savings customers; sign out and sign in with one.")
    return who.customer


ACCESS_CHECKS[savings_customer] = Access.CUSTOMER
SavingsCustomer = Annotated[Customer, Depends(savings_customer)]


def access_of(route: APIRoute) -> Access:
    """The strictest access check a route declares (PUBLIC when none)."""
    found: list[Access] = []
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if dependant.call in ACCESS_CHECKS:
            found.append(ACCESS_CHECKS[dependant.call])
        pending.extend(dependant.dependencies)
    order = list(Access)
    return max(found, key=order.index, default=Access.PUBLIC)


@dataclass(frozen=True)
class NavItem:
    """A section of the console in the navigation."""

    label: str
    url: str
    access: Access


NAVIGATION = (
    NavItem("Home", "/console/", Access.STAFF),
    NavItem("Approvals", "/console/approvals/", Access.STAFF),
    NavItem("Payroll", "/console/payroll/", Access.READ),
    NavItem("Merchants", "/console/merchants/", Access.READ),
    NavItem("Transactions", "/console/transactions/", Access.READ),
    NavItem("Savings plans", "/console/savings/plans", Access.ADMIN),
    NavItem("Accounts", "/console/accounts/", Access.ADMIN),
    NavItem("My savings", "/console/savings/", Access.CUSTOMER),
)
_PERMISSION = {
    Access.READ: Permission.READ,
    Access.CREATE: Permission.CREATE,
    Access.UPDATE: Permission.UPDATE,
    Access.ADMIN: Permission.MANAGE_ACCOUNTS,
}


def may_open(who: SignedIn | None, access: Access) -> bool:
    """Whether `who` passes `access` (what the navigation and the pages' links show)."""
    if access is Access.PUBLIC:
        return True
    if who is None:
        return False
    if access is Access.CUSTOMER:
        return who.customer is not None
    if who.principal is None:
        return False
    # Whether a login is linked to an employee is known only by asking its context: a link
    # to such a page is shown to any staff account, and the page says why it cannot act.
    return access in (Access.STAFF, Access.EMPLOYEE) or who.principal.can(_PERMISSION[access])


def navigation(who: SignedIn | None) -> list[NavItem]:
    """The sections `who` may open."""
    return [item for item in NAVIGATION if may_open(who, item.access)]
