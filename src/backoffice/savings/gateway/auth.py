"""Who calls the gateway: a customer (their own bearer token) or a platform operator.

A customer token is verified with the users service's public key, with no call to it. An
operator signs in as everywhere on the platform (Basic, or a core bearer token, which needs no
database either); their credentials are valid here but name no savings account. Each check is
declared with the schemes it takes (`credentials`), so the route guard runs it before the body
is read and the OpenAPI document says which credentials each operation wants.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backoffice.core.auth.dependencies import PLATFORM, SecurityScheme, authenticate, credentials
from backoffice.core.auth.service import Principal
from backoffice.core.errors import DomainError, Forbidden, Unauthorized
from backoffice.savings.tokens import CustomerClaims, TokenVerifier

# A customer's own token (EdDSA), from POST /api/v1/savings/login.
CUSTOMER = SecurityScheme(
    "customer",
    {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A savings customer's token from POST /api/v1/savings/login",
    },
)
# The gateway's own login: what its 401s point at, served wherever the gateway is.
CUSTOMER_LOGIN = "/api/v1/savings/login"


class SignInRequired(Unauthorized):
    """No valid credentials on a gateway route: the 401 names the gateway's own login.

    Platform accounts may use Basic only where the platform's accounts are served with the
    gateway; alone, the gateway takes bearer tokens only, and says so in its challenge.
    """

    def __init__(self, reason: str, *, basic: bool) -> None:
        operators = "Basic or a platform bearer token" if basic else "a platform bearer token"
        message = (
            f"{reason}: customers sign in with POST {CUSTOMER_LOGIN} and send its access_token"
            f" as 'Authorization: Bearer <token>' (platform accounts: {operators})"
        )
        challenge = 'Bearer realm="savings"'
        if basic:
            challenge += ', Basic realm="backoffice", charset="UTF-8"'
        DomainError.__init__(self, message, headers={"WWW-Authenticate": challenge})


class NotACustomer(Forbidden):
    """Platform credentials on an endpoint of a customer's own account."""

    code = "not_a_customer"
    default_message = (
        "These credentials name no savings customer: sign in with /api/v1/savings/login"
    )


class CustomersOnly(Forbidden):
    """A customer on an operator's endpoint."""

    code = "forbidden"
    default_message = "Only a platform admin may do this"


def _customer_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _verify_customer(request: Request) -> CustomerClaims | None:
    """The customer a bearer token names, or None if it is not a customer token."""
    token = _customer_token(request)
    if token is None:
        return None
    verifier: TokenVerifier = request.app.state.savings_tokens
    try:
        return verifier.verify(token)
    except Unauthorized:
        return None  # perhaps a platform token: the caller's next step decides


async def _platform_caller(request: Request) -> Principal:
    """The platform account of the credentials; a 401 naming the gateway's login otherwise."""
    try:
        return await authenticate(request)
    except Unauthorized as failure:
        basic = request.app.state.auth_sessions is not None  # the platform's accounts served
        reason = failure.message
        if not basic and request.headers.get("authorization", "").lower().startswith("basic"):
            reason = "Basic credentials are not taken here"
        raise SignInRequired(reason, basic=basic) from None


@credentials(CUSTOMER)
async def get_customer(request: Request) -> CustomerClaims:
    """The signed-in customer; 401 without valid credentials, 403 for an operator's."""
    customer = _verify_customer(request)
    if customer is not None:
        return customer
    await _platform_caller(request)  # 401 unless these are valid platform credentials
    raise NotACustomer()


@credentials(CUSTOMER, *PLATFORM)
async def get_any_caller(request: Request) -> CustomerClaims | Principal:
    """A customer or a platform account; 401 otherwise."""
    return _verify_customer(request) or await _platform_caller(request)


@credentials(*PLATFORM)
async def get_operator(request: Request) -> Principal:
    """A platform admin; 401 without valid credentials, 403 for anyone else."""
    if _verify_customer(request) is not None:
        raise CustomersOnly()
    principal = await _platform_caller(request)
    if not principal.is_admin:
        raise CustomersOnly()
    return principal


Customer = Annotated[CustomerClaims, Depends(get_customer)]
AnyCaller = Annotated[CustomerClaims | Principal, Depends(get_any_caller)]
Operator = Annotated[Principal, Depends(get_operator)]
