"""A savings customer's way in: sign-in with their customer login, and sign-up.

Both go through the savings gateway's own functions (`savings.gateway.service`): the same
throttled login as `POST /api/v1/savings/login`, the same signup (and password rule) as
`POST /api/v1/savings/signup`. A customer's console session lives as long as their token, and
carries it: every page of theirs sends it to the savings services, which may refuse it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.access import CUSTOMER_SIGN_IN, Visitor
from backoffice.console.savings_forms import FormProblems, fields, new_key, parse, posted_key
from backoffice.console.signin import begin, open_session, read_sign_in_form, sign_in_page
from backoffice.console.web import field_errors, local_path, redirect
from backoffice.core.auth.throttle import LoginThrottled
from backoffice.core.auth.websessions import Customer
from backoffice.core.db import DbSession
from backoffice.core.errors import DomainError
from backoffice.core.routing import ApiRouter
from backoffice.savings.gateway import service
from backoffice.savings.gateway.schemas import LoginCreate, SignupCreate
from backoffice.savings.tokens import TokenVerifier

SIGN_UP = "/console/savings/sign-up"
HOME = "/console/savings/"
MAX_EMAIL = 254
WRONG = "Wrong email or password."

router = ApiRouter(include_in_schema=False)

_LOGIN = TypeAdapter(LoginCreate)
_SIGNUP = TypeAdapter(SignupCreate)


def _sign_in_form(request: Request, **page: Any) -> Response:
    return sign_in_page(
        request,
        heading="Sign in to your savings",
        action=CUSTOMER_SIGN_IN,
        login_field="email",
        login_label="Email",
        login_type="email",
        login_max=MAX_EMAIL,
        other={"url": SIGN_UP, "label": "New here? Open a savings account"},
        **page,
    )


def _sign_up_form(request: Request, **page: Any) -> Response:
    page.setdefault("values", {"email": "", "full_name": ""})
    page.setdefault("key", new_key())
    return sign_in_page(request, template="savings/sign_up.html", sign_up=SIGN_UP, **page)


async def _log_in(
    request: Request, session: DbSession, email: str, password: str, target: str, notice: str
) -> Response:
    """Log in through the gateway (throttled) and start the customer's console session."""
    token = await service.log_in(request, LoginCreate(email=email, password=password))
    verifier: TokenVerifier = request.app.state.savings_tokens
    claims = verifier.verify(token.access_token)
    customer = Customer(str(claims.user_id), claims.email, token.access_token)
    lifetime = timedelta(seconds=token.expires_in)
    cookie = await begin(request, session, customer=customer, lifetime=lifetime)
    return open_session(request, redirect(target, notice=notice or None), cookie)


@router.get(CUSTOMER_SIGN_IN)
async def customer_sign_in_form(request: Request, who: Visitor, next: str = "") -> Response:
    """The customer sign-in form (a signed-in customer goes straight on)."""
    target = local_path(next, HOME)
    if who is not None and who.customer is not None:
        return redirect(target)
    return _sign_in_form(request, next=target, login_value="")


@router.post(CUSTOMER_SIGN_IN)
async def customer_sign_in(request: Request, session: DbSession) -> Response:
    """Check the email and password (throttled), start a session, go on."""
    form = await read_sign_in_form(request)
    values = fields(form, "email", "password", "next")
    email, password = values["email"].strip(), values["password"]
    target = local_path(values["next"], HOME)
    page: dict[str, Any] = {"next": target, "login_value": email[:MAX_EMAIL]}
    errors = {}
    if not email:
        errors["email"] = "Enter your email."
    if not password:
        errors["password"] = "Enter your password."  # noqa: S105 - a message
    if not errors:
        try:
            parse(_LOGIN, {"email": email, "password": password})
        except FormProblems as problems:
            errors = problems.errors
    if errors:
        return _sign_in_form(request, status_code=422, errors=errors, **page)
    try:
        return await _log_in(request, session, email, password, target, "")
    except LoginThrottled as locked:
        seconds = (locked.headers or {}).get("Retry-After", "1")
        message = f"Too many failed sign-ins. Try again in {seconds} seconds."
        return _sign_in_form(
            request, status_code=429, errors={"form": message}, retry_after=seconds, **page
        )
    except DomainError as error:
        if error.status_code != 401:
            raise  # the services are down: the error page says so
        return _sign_in_form(request, status_code=401, errors={"form": WRONG}, **page)


@router.get(SIGN_UP)
async def sign_up_form(request: Request, who: Visitor) -> Response:
    """The sign-up form (a signed-in customer goes to their savings)."""
    if who is not None and who.customer is not None:
        return redirect(HOME)
    return _sign_up_form(request)


@router.post(SIGN_UP)
async def sign_up(request: Request, session: DbSession) -> Response:
    """Make the customer (the password rule checked by the users service), then sign them in.

    The form's idempotency key makes a double submit one customer, signed in either way.
    """
    form = await read_sign_in_form(request)
    values = fields(form, "email", "full_name", "password")
    key = posted_key(form) or new_key()
    shown = {"email": values["email"][:MAX_EMAIL], "full_name": values["full_name"][:200]}
    try:
        body = parse(_SIGNUP, values)
        made = await service.sign_up(request, body, key)
    except FormProblems as problems:
        return _sign_up_form(
            request, status_code=422, errors=problems.errors, values=shown, key=key
        )
    except DomainError as error:
        if error.status_code not in (409, 422):
            raise
        errors = field_errors(error, "email" if error.code == "email_taken" else "form")
        if error.code == "email_taken":
            errors = {"email": "A customer with this email already exists: sign in instead."}
        return _sign_up_form(request, status_code=422, errors=errors, values=shown, key=key)
    welcome = f"Welcome, {made.full_name}: your savings account is open."
    return await _log_in(request, session, made.email, values["password"], HOME, welcome)
