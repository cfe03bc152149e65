"""`/api/v1/auth`: bearer tokens and who am I."""

from __future__ import annotations

from fastapi import Request
from pydantic import BaseModel

from backoffice.core.auth.dependencies import CurrentUser
from backoffice.core.auth.service import Permission, Role
from backoffice.core.envelope import Envelope, ok
from backoffice.core.errors import Unauthorized, error_responses
from backoffice.core.routing import ApiRouter


class TokenRead(BaseModel):
    """An OAuth2-style bearer token."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int


class AccountRead(BaseModel):
    """The caller as the platform sees them."""

    id: int
    username: str
    role: Role
    permissions: list[Permission]


router = ApiRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post(
    "/token",
    response_model=Envelope[TokenRead],
    responses=error_responses(Unauthorized),
    summary="Exchange Basic credentials for a short-lived bearer token",
)
async def issue_token(request: Request, principal: CurrentUser) -> Envelope[TokenRead]:
    """Send HTTP Basic credentials; use the token as `Authorization: Bearer <token>`."""
    token, ttl = request.app.state.auth.issue_token(principal)
    return ok(TokenRead(access_token=token, expires_in=ttl), "Token issued")


@router.get("/me", response_model=Envelope[AccountRead], responses=error_responses(Unauthorized))
async def who_am_i(principal: CurrentUser) -> Envelope[AccountRead]:
    """The authenticated account and what its role may do."""
    permissions = sorted(p for p in Permission if principal.can(p))
    return ok(
        AccountRead(
            id=principal.account_id,
            username=principal.username,
            role=principal.role,
            permissions=permissions,
        )
    )
