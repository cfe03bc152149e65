"""What the gateway's customers and operators send and receive (inside the `/api/v1` envelope)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from backoffice.core.money import Money, MoneyOut, PositiveMoney
from backoffice.core.types import Id

Email = Annotated[str, Field(min_length=3, max_length=254, description="Any case; kept lowercased")]
Password = Annotated[str, Field(min_length=8, max_length=1024)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignupCreate(_Body):
    """A new customer."""

    email: Email
    password: Password
    full_name: Annotated[str, Field(min_length=1, max_length=200)]


class CustomerRead(BaseModel):
    """A customer as the users service keeps them."""

    user_id: UUID
    email: str
    full_name: str


class LoginCreate(_Body):
    """A customer's credentials."""

    email: Email
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class TokenRead(BaseModel):
    """A customer's bearer token."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int


PlanKind = Literal["flat-amount", "percentage"]


class PlanCreate(_Body):
    """A billing plan: `flat-amount` (value: an amount) or `percentage` (value: 0-100)."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: PlanKind
    value: Annotated[
        Money,
        Field(description="flat-amount: the amount saved per credit; percentage: 0-100"),
    ]


class PlanRead(BaseModel):
    """A billing plan."""

    id: int
    name: str
    kind: PlanKind
    value: MoneyOut


class PlanChoice(_Body):
    """The plan a customer selects."""

    plan_id: Id


class CreditCreate(_Body):
    """Money credited to the customer's account, split by their plan."""

    amount: PositiveMoney


class CreditRead(BaseModel):
    """One credit and how it was split."""

    credit_id: UUID
    amount: MoneyOut
    main: MoneyOut
    savings: MoneyOut
    at: datetime


class BalanceRead(BaseModel):
    """The balances at an instant."""

    at: datetime
    main: MoneyOut
    savings: MoneyOut
    total: MoneyOut
