"""What the transactions endpoints answer."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from backoffice.core.money import MoneyOut


class UserSummaryRead(BaseModel):
    """A user's transactions in four figures (the seed contract: exactly these keys)."""

    user_id: int
    total_transactions: int
    total_amount: MoneyOut
    average_transaction_amount: MoneyOut  # total / count, rounded half-up to cents once


class TransactionRead(BaseModel):
    """One stored transaction."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    transaction_id: str
    user_id: int
    amount: MoneyOut
    transaction_date: date
