"""Signing in and out: the staff sign-in page, and what a customer's sign-in shares with it.

Staff sign in with their platform account, through the same throttled password check as HTTP
Basic (`core.auth.dependencies.password_login`): a locked account or address is told when to
try again. A sign-in starts a new server-side session with a new cookie (HttpOnly,
SameSite=Lax, Secure in production) and ends the browser's previous one.

The sign-in form itself is protected from login CSRF (another site signing the browser in as
someone else) by a token bound to a cookie of its own, since there is no session yet.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.access import COOKIE, CUSTOMER_SIGN_IN, STAFF_SIGN_IN, Visitor
from backoffice.console.web import CsrfFailed, local_path, read_form, redirect, render, same_origin
from backoffice.core.auth import websessions
from backoffice.core.auth.dependencies import password_login
from backoffice.core.auth.service import Principal
from backoffice.core.auth.throttle import LoginThrottled
from backoffice.core.auth.websessions import Customer
from backoffice.core.config import Settings
from backoffice.core.db import DbSession
from backoffice.core.errors import Unauthorized
from backoffice.core.routing import ApiRouter

FORM_COOKIE = "backoffice_console_signin"
MAX_USERNAME = 150
MAX_PASSWORD = 1024

router = ApiRouter(include_in_schema=False)


def form_token(settings: Settings, cookie: str) -> str:
    """The sign-in form's CSRF token for the browser holding `cookie`."""
    key = hashlib.sha256(settings.secret_key.encode() + b"|console-sign-in").digest()
    return hmac.new(key, cookie.encode(), hashlib.sha256).hexdigest()


def sign_in_page(
    request: Request,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    template: str = "signin.html",
    **page: Any,
) -> Response:
    """A sign-in form (`page`: heading, action, login field...), with its CSRF cookie.

    Another form posted before anyone is signed in (a customer's sign-up) is drawn from its own
    `template` with the same `form_token`, and read back with `read_sign_in_form`.
    """
    settings: Settings = request.app.state.settings
    cookie = request.cookies.get(FORM_COOKIE) or ""
    fresh = len(cookie) != 43
    if fresh:
        cookie = secrets.token_urlsafe(32)
    retry = page.pop("retry_after", None)
    response = render(
        request,
        template,
        status_code=status_code,
        errors=errors or {},
        form_token=form_token(settings, cookie),
        headers={"Retry-After": str(retry)} if retry else None,
        **page,
    )
    if fresh:
        response.set_cookie(
            FORM_COOKIE,
            cookie,
            path="/console",
            httponly=True,
            samesite="lax",
            secure=settings.is_production,
        )
    return response


async def read_sign_in_form(request: Request) -> FormData:
    """The posted sign-in form, once its token matches the browser's sign-in cookie."""
    settings: Settings = request.app.state.settings
    cookie = request.cookies.get(FORM_COOKIE)
    if not cookie or not same_origin(request):
        raise CsrfFailed()
    return await read_form(request, form_token(settings, cookie))


def open_session(request: Request, response: Response, token: str) -> Response:
    """Give the browser its new session's cookie, and forget its sign-in form cookie."""
    settings: Settings = request.app.state.settings
    response.set_cookie(
        COOKIE,
        token,
        path="/console",
        httponly=True,
        samesite="lax",
        secure=settings.is_production,
    )
    response.delete_cookie(FORM_COOKIE, path="/console")
    return response


async def begin(
    request: Request,
    session: DbSession,
    *,
    principal: Principal | None = None,
    customer: Customer | None = None,
    lifetime: timedelta | None = None,
) -> str:
    """Start a session for the signed-in `principal` or `customer`; its cookie token."""
    settings: Settings = request.app.state.settings
    longest = timedelta(hours=settings.console_session_hours)
    await websessions.purge(session)  # expired records go as new ones come (an index range)
    token, _ = await websessions.start(
        session,
        lifetime=min(lifetime or longest, longest),
        principal=principal,
        customer=customer,
        replacing=request.cookies.get(COOKIE),
    )
    return token


def _staff_page(request: Request, **page: Any) -> Response:
    return sign_in_page(
        request,
        heading="Sign in to the back office",
        action=STAFF_SIGN_IN,
        login_field="username",
        login_label="Username",
        login_type="text",
        login_max=MAX_USERNAME,
        other={"url": CUSTOMER_SIGN_IN, "label": "Saving with us? Sign in as a savings customer"},
        **page,
    )


@router.get(STAFF_SIGN_IN)
async def staff_sign_in_form(request: Request, who: Visitor, next: str = "") -> Response:
    """The staff sign-in form (a signed-in account goes straight on)."""
    target = local_path(next)
    if who is not None and who.principal is not None:
        return redirect(target)
    return _staff_page(request, next=target, login_value="")


@router.post(STAFF_SIGN_IN)
async def staff_sign_in(request: Request, session: DbSession) -> Response:
    """Check the password (throttled), start a session, go where the visitor was going."""
    form = await read_sign_in_form(request)
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    target = local_path(str(form.get("next") or ""))
    page: dict[str, Any] = {"next": target, "login_value": username[:MAX_USERNAME]}
    if not username or not password:
        errors = {}
        if not username:
            errors["username"] = "Enter your username."
        if not password:
            errors["password"] = "Enter your password."  # noqa: S105 - a message
        return _staff_page(request, status_code=422, errors=errors, **page)
    if len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD or "\x00" in username:
        return _staff_page(
            request, status_code=401, errors={"form": "Wrong username or password."}, **page
        )
    try:
        principal = await password_login(
            request, request.app.state.auth, request.app.state.auth_sessions, username, password
        )
    except LoginThrottled as locked:
        seconds = (locked.headers or {}).get("Retry-After", "1")
        message = f"Too many failed sign-ins. Try again in {seconds} seconds."
        return _staff_page(
            request, status_code=429, errors={"form": message}, retry_after=seconds, **page
        )
    except Unauthorized:
        return _staff_page(
            request, status_code=401, errors={"form": "Wrong username or password."}, **page
        )
    token = await begin(request, session, principal=principal)
    return open_session(request, redirect(target), token)


@router.post("/console/sign-out")
async def sign_out(request: Request, who: Visitor, session: DbSession) -> Response:
    """End the session at once; a copy of its cookie signs nobody in."""
    page = CUSTOMER_SIGN_IN if who is not None and who.customer is not None else STAFF_SIGN_IN
    if who is not None:
        await read_form(request, who.csrf_token)
        await websessions.end(session, request.cookies.get(COOKIE, ""))
    response = redirect(page, notice="You are signed out.")
    response.delete_cookie(COOKIE, path="/console")
    return response
