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
from backoffice.core.errors import Forbidden, Unauthorized
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


@credentials(CUSTOMER)
async def get_customer(request: Request) -> CustomerClaims:
    """The signed-in customer; 401 without valid credentials, 403 for an operator's."""
    customer = _verify_customer(request)
    if customer is not None:
        return customer
    await authenticate(request)  # 401 unless these are valid platform credentials
    raise NotACustomer()


@credentials(CUSTOMER, *PLATFORM)
async def get_any_caller(request: Request) -> CustomerClaims | Principal:
    """A customer or a platform account; 401 otherwise."""
    return _verify_customer(request) or await authenticate(request)


@credentials(*PLATFORM)
async def get_operator(request: Request) -> Principal:
    """A platform admin; 401 without valid credentials, 403 for anyone else."""
    if _verify_customer(request) is not None:
        raise CustomersOnly()
    principal = await authenticate(request)
    if not principal.is_admin:
        raise CustomersOnly()
    return principal


Customer = Annotated[CustomerClaims, Depends(get_customer)]
AnyCaller = Annotated[CustomerClaims | Principal, Depends(get_any_caller)]
Operator = Annotated[Principal, Depends(get_operator)]
