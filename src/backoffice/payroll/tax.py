"""Tax rules as pure functions: policy validation and the salary breakdown (no I/O).

A policy version has ordered progressive slabs (`rate` percent of the income between `lower`
and `upper`, the last one open-ended), an optional flat TDS percent and an optional standard
deduction. Both taxes apply to the taxable income, `max(0, gross - standard deduction)`, and
are separate deduction lines: one per slab the income reaches, one for the TDS.

Rounding: every reported figure is rounded to cents half-up exactly once, from the exact
amount; totals are sums of the rounded lines and net is gross minus that total, so
gross = total deductions + net to the cent, both annually and per month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from backoffice.core.money import to_cents

ZERO = Decimal(0)
HUNDRED = Decimal(100)
MONTHS = 12


@dataclass(frozen=True, slots=True)
class Slab:
    """`rate` percent of the income in [lower, upper); `upper` None means no upper bound."""

    lower: Decimal
    upper: Decimal | None
    rate: Decimal


@dataclass(frozen=True, slots=True)
class TaxPolicy:
    """One version of a country's tax policy."""

    effective_from: date
    slabs: tuple[Slab, ...] = ()
    flat_rate: Decimal | None = None
    standard_deduction: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a policy is refused: the offending field (e.g. `tax_slabs.1.from`) and a reason."""

    field: str
    message: str


def validate_slabs(slabs: Sequence[Slab], field_name: str = "tax_slabs") -> list[Problem]:
    """Every reason the slabs are unusable: order, overlap, gap, rates, open-endedness."""
    problems: list[Problem] = []
    for i, slab in enumerate(slabs):
        at = f"{field_name}.{i}"
        if not ZERO <= slab.rate <= HUNDRED:
            problems.append(
                Problem(f"{at}.rate", f"rate must be between 0 and 100, not {slab.rate}")
            )
        if slab.lower < ZERO:
            problems.append(Problem(f"{at}.from", "from must not be negative"))
        if slab.upper is not None and slab.upper <= slab.lower:
            problems.append(
                Problem(f"{at}.to", f"to ({slab.upper}) must be greater than from ({slab.lower})")
            )
        if slab.upper is None and i != len(slabs) - 1:
            problems.append(Problem(f"{at}.to", "only the last slab may be open-ended (to: null)"))
        if i == 0:
            if slab.lower != ZERO:
                problems.append(Problem(f"{at}.from", "the first slab must start at 0"))
            continue
        previous = slabs[i - 1]
        if slab.lower < previous.lower:
            problems.append(
                Problem(
                    f"{at}.from",
                    f"slabs are out of order: {slab.lower} comes after {previous.lower}",
                )
            )
        elif previous.upper is None or slab.lower < previous.upper:
            problems.append(
                Problem(
                    f"{at}.from",
                    f"slab overlaps slab {i - 1}, which ends at "
                    f"{previous.upper if previous.upper is not None else 'no upper bound'}",
                )
            )
        elif slab.lower > previous.upper:
            problems.append(
                Problem(
                    f"{at}.from",
                    f"gap between {previous.upper} and {slab.lower}: "
                    "each slab must start where the previous one ends",
                )
            )
    if slabs and slabs[-1].upper is not None:
        problems.append(
            Problem(
                f"{field_name}.{len(slabs) - 1}.to",
                "the last slab must be open-ended (to: null) so every income falls in a slab",
            )
        )
    return problems


def validate_policy(policy: TaxPolicy, flat_field: str = "current_deduction") -> list[Problem]:
    """Every reason the policy is unusable (the slabs' problems included)."""
    problems = validate_slabs(policy.slabs)
    if policy.flat_rate is not None and not ZERO <= policy.flat_rate <= HUNDRED:
        problems.append(
            Problem(flat_field, f"deduction must be between 0 and 100, not {policy.flat_rate}")
        )
    if policy.standard_deduction is not None and policy.standard_deduction < ZERO:
        problems.append(Problem("standard_deduction", "standard deduction must not be negative"))
    if not problems:
        top = max((slab.rate for slab in policy.slabs), default=ZERO)
        if (policy.flat_rate or ZERO) + top > HUNDRED:
            problems.append(
                Problem(
                    flat_field,
                    f"flat deduction ({policy.flat_rate}%) plus the top slab rate ({top}%) "
                    "exceeds 100%",
                )
            )
    return problems


@dataclass(frozen=True, slots=True)
class DeductionLine:
    """One deduction: exact as `exact_lines` gives it, or rounded for a period (`for_period`)."""

    name: str
    kind: str
    basis: Decimal
    rate: Decimal
    amount: Decimal

    def for_period(self, divisor: int) -> DeductionLine:
        """This exact line's share of one period (1 = the year), basis and amount in cents."""
        return replace(
            self, basis=to_cents(self.basis / divisor), amount=to_cents(self.amount / divisor)
        )


@dataclass(frozen=True, slots=True)
class Split:
    """Gross, the deduction lines, their total and net, for one period."""

    gross: Decimal
    deductions: tuple[DeductionLine, ...]
    total_deductions: Decimal
    net: Decimal


@dataclass(frozen=True, slots=True)
class Breakdown:
    """The annual split and the same split per month."""

    taxable_income: Decimal
    annual: Split
    monthly: Split
    lines: tuple[DeductionLine, ...] = field(default=(), repr=False)  # exact


def taxable_income(policy: TaxPolicy, gross: Decimal) -> Decimal:
    """Gross less the standard deduction, never below zero."""
    return max(ZERO, gross - (policy.standard_deduction or ZERO))


def _bound(value: Decimal | None) -> str:
    return "and above" if value is None else f"to {value:,.2f}"


def exact_lines(policy: TaxPolicy, gross: Decimal) -> list[DeductionLine]:
    """The deductions, unrounded: one per slab the taxable income reaches, then the TDS."""
    income = taxable_income(policy, gross)
    lines: list[DeductionLine] = []
    for slab in policy.slabs:
        if income <= slab.lower:
            break
        top = income if slab.upper is None else min(income, slab.upper)
        basis = top - slab.lower
        lines.append(
            DeductionLine(
                name=f"Income tax {slab.lower:,.2f} {_bound(slab.upper)}",
                kind="slab",
                basis=basis,
                rate=slab.rate,
                amount=basis * slab.rate / HUNDRED,
            )
        )
    if policy.flat_rate:  # a 0% TDS deducts nothing, so it is no line
        lines.append(
            DeductionLine(
                name="TDS (flat)",
                kind="flat",
                basis=income,
                rate=policy.flat_rate,
                amount=income * policy.flat_rate / HUNDRED,
            )
        )
    return lines


def exact_progressive_tax(policy: TaxPolicy, gross: Decimal) -> Decimal:
    """The slab tax on `gross`, unrounded (what continuity is checked on)."""
    return sum((line.amount for line in exact_lines(policy, gross) if line.kind == "slab"), ZERO)


def _split(gross: Decimal, lines: Sequence[DeductionLine], divisor: int) -> Split:
    rounded = tuple(line.for_period(divisor) for line in lines)
    gross_cents = to_cents(gross / divisor)
    total = sum((line.amount for line in rounded), ZERO)
    return Split(
        gross=gross_cents, deductions=rounded, total_deductions=total, net=gross_cents - total
    )


def compute_breakdown(policy: TaxPolicy, gross: Decimal) -> Breakdown:
    """The annual breakdown of an annual `gross` under `policy`, and the same per month."""
    lines = tuple(exact_lines(policy, gross))
    return Breakdown(
        taxable_income=to_cents(taxable_income(policy, gross)),
        annual=_split(gross, lines, 1),
        monthly=_split(gross, lines, MONTHS),
        lines=lines,
    )
