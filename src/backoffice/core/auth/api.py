"""`/api/v1/auth`: bearer tokens and who am I."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, Field

from backoffice.core.auth.dependencies import CurrentUser
from backoffice.core.auth.service import Permission, Role
from backoffice.core.db import AutocommitSession
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
    capabilities: dict[str, dict[str, Any]] = Field(
        description="What the caller may do in each context beyond the role's permissions."
        " `expenses`: `employee_id` (the employee the login acts as, or null), `company_id`,"
        " `may_submit`, `may_approve` (be a chain's designated approver),"
        " `may_act_for_others` (admins), `may_read_all` (every claim, not only one's own)",
        examples=[
            {
                "expenses": {
                    "employee_id": 7,
                    "company_id": 1,
                    "may_submit": True,
                    "may_approve": True,
                    "may_act_for_others": False,
                    "may_read_all": False,
                }
            }
        ],
    )


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
async def who_am_i(
    request: Request, principal: CurrentUser, session: AutocommitSession
) -> Envelope[AccountRead]:
    """The authenticated account, what its role may do, and what it may do in each context."""
    permissions = sorted(p for p in Permission if principal.can(p))
    reporters = request.app.state.capability_reporters
    return ok(
        AccountRead(
            id=principal.account_id,
            username=principal.username,
            role=principal.role,
            permissions=permissions,
            capabilities={
                name: await report(session, principal) for name, report in reporters.items()
            },
        )
    )
