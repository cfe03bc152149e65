"""What the gateway's customers and operators send and receive (inside the `/api/v1` envelope)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from backoffice.core.money import Decimals, MoneyOut, PositiveMoney
from backoffice.core.types import Email, Id, Text

Password = Annotated[str, Field(min_length=8, max_length=1024)]
PlanName = Annotated[str, Text(max_length=100)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignupCreate(_Body):
    """A new customer."""

    email: Email
    password: Password
    full_name: Annotated[str, Text(max_length=200)]


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


class FlatPlanCreate(_Body):
    """A billing plan that saves a flat amount of each credit (above 0)."""

    name: PlanName
    kind: Literal["flat-amount"]
    value: Annotated[PositiveMoney, Field(description="The amount saved per credit")]


class PercentagePlanCreate(_Body):
    """A billing plan that saves a percentage (0-100, two decimals) of each credit."""

    name: PlanName
    kind: Literal["percentage"]
    value: Annotated[
        Decimal,
        Decimals(digits=3, places=2, low=Decimal(0), high=Decimal(100)),
        Field(description="The percentage of each credit saved"),
    ]


# A billing plan: the kind decides what `value` may be, and the document says so.
PlanCreate = Annotated[FlatPlanCreate | PercentagePlanCreate, Field(discriminator="kind")]


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
