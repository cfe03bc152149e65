"""What the gateway's customers and operators send and receive (inside the `/api/v1` envelope)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from backoffice.core.money import Decimals, MoneyOut, PositiveMoney
from backoffice.core.types import Email, Id, Text, Whole
from backoffice.savings.gateway.statements import EntryRead, Kind

Password = Annotated[str, Field(min_length=8, max_length=1024)]
PlanName = Annotated[str, Text(max_length=100)]
# The longest lock-in a plan may have, in days (the accounting service's bound too).
MAX_LOCK_IN_DAYS = 3650
LockInDays = Annotated[
    int,
    Whole(ge=0, le=MAX_LOCK_IN_DAYS),
    Field(description="Days a sum stays in savings before it may be transferred out (0: none)"),
]
# An annual interest rate in percent, 0 to 25 with four decimals (2.5 is 2.5% a year).
InterestRate = Annotated[
    Decimal,
    Decimals(
        digits=2,
        places=4,
        low=Decimal(0),
        high=Decimal(25),
        pattern=r"^(25(\.0{1,4})?|(1[0-9]|2[0-4]|[1-9])(\.[0-9]{1,4})?|0(\.[0-9]{1,4})?)$",
    ),
    Field(
        description="Annual interest on savings, in percent (2.5 is 2.5% a year): accrued daily"
        " on the end-of-day savings (Actual/365), paid monthly, rounded half-up to the cent"
    ),
]


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
    lock_in_days: LockInDays = 0
    interest_rate: InterestRate = Decimal(0)


class PercentagePlanCreate(_Body):
    """A billing plan that saves a percentage (0-100, two decimals) of each credit."""

    name: PlanName
    kind: Literal["percentage"]
    value: Annotated[
        Decimal,
        Decimals(digits=3, places=2, low=Decimal(0), high=Decimal(100)),
        Field(description="The percentage of each credit saved"),
    ]
    lock_in_days: LockInDays = 0
    interest_rate: InterestRate = Decimal(0)


# A billing plan: the kind decides what `value` may be, and the document says so.
PlanCreate = Annotated[FlatPlanCreate | PercentagePlanCreate, Field(discriminator="kind")]


class PlanRead(BaseModel):
    """A billing plan."""

    id: int
    name: str
    kind: PlanKind
    value: MoneyOut
    lock_in_days: int = 0
    interest_rate: Annotated[
        Decimal,
        PlainSerializer(float, return_type=float, when_used="json"),
        Field(description="Annual interest on savings, in percent"),
    ] = Decimal(0)


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


class WithdrawalCreate(_Body):
    """Money taken out of the main balance."""

    amount: PositiveMoney


class TransferCreate(_Body):
    """Money moved from one balance to the other."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Annotated[
        Literal["main", "savings"],
        Field(alias="from", description="The balance the money leaves; it goes to the other"),
    ]
    amount: PositiveMoney


class ReversalCreate(_Body):
    """Why an entry is reversed (kept with the reversal)."""

    reason: Annotated[str, Text(max_length=500)]


class MovementRead(BaseModel):
    """A new entry: what moved and the signed change to each balance."""

    entry_id: UUID
    kind: Kind
    amount: MoneyOut
    main: MoneyOut
    savings: MoneyOut
    at: datetime


class ReversalRead(MovementRead):
    """A reversal: the entry it reverses, and why."""

    reverses: UUID
    reason: str
    by: str = Field(description="The operator who reversed it")


class TransactionRead(EntryRead):
    """An entry of the account, with the balances after it.

    A credit keeps its `credit_id` (its `entry_id`), as clients of the credits-only list read it.
    """

    credit_id: UUID | None = None


class BalanceRead(BaseModel):
    """The balances at an instant."""

    at: datetime
    main: MoneyOut
    savings: MoneyOut
    total: MoneyOut


class AccountRead(BaseModel):
    """A savings account as an operator sees it."""

    user_id: UUID
    email: str
    full_name: str
    status: Literal["open", "closed"]
    plan_id: int | None
    opened_at: datetime
    closed_at: datetime | None
    interest_through: date | None = Field(
        description="The last day of the last month whose interest was posted"
    )
    balances: BalanceRead
