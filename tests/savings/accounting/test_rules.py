"""The pure rules: plan terms, credit amounts and the split (hypothesis where it pays)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.core.errors import ValidationFailed
from backoffice.core.money import MAX_MONEY
from backoffice.savings.accounting.rules import (
    BalanceLimitExceeded,
    CreditTooSmall,
    PlanKind,
    PlanTerms,
    check_balances,
    split,
    validate_amount,
    validate_plan,
)

amounts = st.decimals(min_value=Decimal("0.01"), max_value=MAX_MONEY, places=2)
percentages = st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=2)


def test_validate_plan_accepts_both_kinds_at_their_bounds() -> None:
    assert validate_plan("flat-amount", Decimal("0.01")) == PlanTerms(
        PlanKind.FLAT_AMOUNT, Decimal("0.01")
    )
    assert validate_plan("flat-amount", MAX_MONEY).value == MAX_MONEY
    assert validate_plan("percentage", Decimal(0)).value == Decimal("0.00")
    assert validate_plan("percentage", Decimal(100)) == PlanTerms(
        PlanKind.PERCENTAGE, Decimal("100.00")
    )


@pytest.mark.parametrize(
    ("kind", "value", "field"),
    [
        ("weekly", Decimal(1), "kind"),
        ("flat-amount", Decimal(0), "value"),
        ("flat-amount", Decimal("-1"), "value"),
        ("flat-amount", MAX_MONEY + Decimal("0.01"), "value"),
        ("flat-amount", Decimal("1.001"), "value"),
        ("percentage", Decimal("-0.01"), "value"),
        ("percentage", Decimal("100.01"), "value"),
        ("percentage", Decimal("12.345"), "value"),
        ("percentage", Decimal("NaN"), "value"),
    ],
)
def test_validate_plan_rejects(kind: str, value: Decimal, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_plan(kind, value)
    assert caught.value.status_code == 422
    assert caught.value.errors is not None and caught.value.errors[0]["field"] == field


@pytest.mark.parametrize("amount", [Decimal(0), Decimal("-5"), Decimal("0.001"), MAX_MONEY * 2])
def test_validate_amount_rejects(amount: Decimal) -> None:
    with pytest.raises(ValidationFailed):
        validate_amount(amount)


def test_validate_amount_normalises_to_cents() -> None:
    assert str(validate_amount(Decimal("5"))) == "5.00"


def test_split_without_plan_puts_everything_in_main() -> None:
    assert split(Decimal("12.34"), None).main == Decimal("12.34")
    assert split(Decimal("12.34"), None).savings == Decimal(0)


def test_split_percentage_rounds_half_up() -> None:
    parts = split(Decimal("10.05"), PlanTerms(PlanKind.PERCENTAGE, Decimal(10)))
    assert (parts.main, parts.savings) == (Decimal("9.04"), Decimal("1.01"))  # 1.005 -> 1.01


def test_split_flat_amount() -> None:
    parts = split(Decimal("100.00"), PlanTerms(PlanKind.FLAT_AMOUNT, Decimal("25.50")))
    assert (parts.main, parts.savings) == (Decimal("74.50"), Decimal("25.50"))
    with pytest.raises(CreditTooSmall) as caught:
        split(Decimal("25.50"), PlanTerms(PlanKind.FLAT_AMOUNT, Decimal("25.50")))
    assert caught.value.status_code == 422
    assert caught.value.code == "credit_not_above_flat_amount"


def test_check_balances_caps_each_balance() -> None:
    check_balances(MAX_MONEY, MAX_MONEY)
    with pytest.raises(BalanceLimitExceeded):
        check_balances(MAX_MONEY + Decimal("0.01"), Decimal(0))
    with pytest.raises(BalanceLimitExceeded):
        check_balances(Decimal(0), MAX_MONEY + Decimal("0.01"))


terms = st.one_of(
    st.none(),
    st.builds(PlanTerms, st.just(PlanKind.PERCENTAGE), percentages),
    st.builds(PlanTerms, st.just(PlanKind.FLAT_AMOUNT), amounts),
)


@settings(max_examples=300)
@given(amount=amounts, plan=terms)
def test_split_adds_up_to_the_credit_in_cents(amount: Decimal, plan: PlanTerms | None) -> None:
    try:
        parts = split(amount, plan)
    except CreditTooSmall:
        assert plan is not None and plan.kind is PlanKind.FLAT_AMOUNT and amount <= plan.value
        return
    assert parts.main + parts.savings == amount
    assert parts.main >= 0 and parts.savings >= 0
    assert parts.main == parts.main.quantize(Decimal("0.01"))
    assert parts.savings == parts.savings.quantize(Decimal("0.01"))


@settings(max_examples=300)
@given(flat=amounts, amount=amounts)
def test_a_flat_plan_never_lets_a_credit_at_or_below_it_through(
    flat: Decimal, amount: Decimal
) -> None:
    plan = PlanTerms(PlanKind.FLAT_AMOUNT, flat)
    if amount <= flat:
        with pytest.raises(CreditTooSmall):
            split(amount, plan)
    else:
        assert split(amount, plan).savings == flat


@settings(max_examples=300)
@given(amount=amounts, percent=percentages)
def test_percentage_savings_is_the_share_rounded_half_up(amount: Decimal, percent: Decimal) -> None:
    savings = split(amount, PlanTerms(PlanKind.PERCENTAGE, percent)).savings
    exact = amount * percent / 100
    # Half-up to the cent: never more than half a cent away, and a tie goes up.
    assert abs(savings - exact) <= Decimal("0.005")
    if abs(savings - exact) == Decimal("0.005"):
        assert savings > exact
