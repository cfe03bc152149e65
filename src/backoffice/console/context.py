"""The console as a context of the app: its pages, their error pages, and `/` leading to it.

Pages are outside the OpenAPI document and the API's error envelope: an error on a console
route is a page (`core.envelope.ErrorStyle.PAGE`, drawn by `web.error_page`), a 401 the way
to the sign-in page. Each section of the console is a router of its own, listed here.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request

from backoffice.console import (
    accounts,
    accounts_forms,
    approvals,
    approvals_expenses,
    assets,
    home,
    logins,
    merchants,
    merchants_upload,
    payroll,
    payroll_countries,
    savings_account,
    savings_accounts,
    savings_ledger,
    savings_plans,
    savings_signin,
    savings_statements,
    signin,
    transactions,
    transactions_upload,
)
from backoffice.console.access import Visitor
from backoffice.console.web import error_page
from backoffice.core.contexts import Context, Routes
from backoffice.core.envelope import ErrorStyle
from backoffice.core.errors import NotFound
from backoffice.core.routing import ApiRouter

# Any other console path: a 404 page (declared last, so that every section's routes come first).
fallback = ApiRouter(include_in_schema=False)


@fallback.get("/console/{rest:path}")
async def not_found(request: Request, who: Visitor, rest: str) -> None:
    """No such page (the visitor is looked up, so that the page still shows the navigation)."""
    raise NotFound("There is no such page here.")


# The login locks' fixed paths come before an account's page (`/console/accounts/{account_id}`).
SECTIONS = (
    assets.router,
    signin.router,
    home.router,
    approvals.router,
    approvals_expenses.router,
    logins.router,
    accounts.router,
    accounts_forms.router,
    merchants.router,
    merchants_upload.router,
    savings_signin.router,
    savings_account.router,
    savings_ledger.router,
    savings_statements.router,
    savings_plans.router,
    savings_accounts.router,
    payroll.router,
    payroll_countries.router,
    transactions.router,
    transactions_upload.router,
)


def _setup(app: FastAPI) -> None:
    app.state.error_page = error_page
    app.state.home = "/console/"


def context() -> Context:
    """The console's pages, in order, then the fallback 404."""
    routers = [Routes(router, ErrorStyle.PAGE) for router in (*SECTIONS, fallback)]
    return Context("console", routers=routers, setup=_setup)
