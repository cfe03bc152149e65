"""The pure tax rules: validation reasons and breakdown properties (hypothesis)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.payroll.tax import (
    Slab,
    TaxPolicy,
    compute_breakdown,
    exact_progressive_tax,
    validate_policy,
    validate_slabs,
)

D = Decimal
DAY = date(2024, 1, 1)

UK = TaxPolicy(
    DAY,
    slabs=(
        Slab(D(0), D(12570), D(0)),
        Slab(D(12570), D(50270), D(20)),
        Slab(D(50270), D(125140), D(40)),
        Slab(D(125140), None, D(45)),
    ),
)


def fields(problems: list[Any]) -> list[str]:
    return [p.field for p in problems]


# --- validation --------------------------------------------------------------------------------


def test_valid_slabs_have_no_problems():
    assert validate_policy(UK) == []


def test_first_slab_must_start_at_zero():
    problems = validate_slabs([Slab(D(10), None, D(5))])
    assert fields(problems) == ["tax_slabs.0.from"]
    assert "start at 0" in problems[0].message


def test_overlap_is_reported_on_the_later_slab():
    problems = validate_slabs([Slab(D(0), D(100), D(5)), Slab(D(50), None, D(10))])
    assert fields(problems) == ["tax_slabs.1.from"]
    assert "overlaps slab 0" in problems[0].message


def test_gap_is_reported():
    problems = validate_slabs([Slab(D(0), D(100), D(5)), Slab(D(150), None, D(10))])
    assert fields(problems) == ["tax_slabs.1.from"]
    assert "gap between 100 and 150" in problems[0].message


def test_out_of_order_is_reported():
    problems = validate_slabs(
        [Slab(D(0), D(100), D(5)), Slab(D(200), D(300), D(10)), Slab(D(100), None, D(20))]
    )
    assert "tax_slabs.2.from" in fields(problems)
    assert any("out of order" in p.message for p in problems)


def test_rate_outside_0_100_is_reported():
    problems = validate_slabs([Slab(D(0), None, D(101))])
    assert fields(problems) == ["tax_slabs.0.rate"]
    problems = validate_slabs([Slab(D(0), None, D(-1))])
    assert fields(problems) == ["tax_slabs.0.rate"]


def test_only_the_last_slab_is_open_and_it_must_be():
    assert fields(validate_slabs([Slab(D(0), None, D(5)), Slab(D(10), None, D(5))])) == [
        "tax_slabs.0.to",
        "tax_slabs.1.from",
    ]
    assert fields(validate_slabs([Slab(D(0), D(10), D(5))])) == ["tax_slabs.0.to"]


def test_upper_bound_must_exceed_lower_bound():
    problems = validate_slabs([Slab(D(0), D(0), D(5)), Slab(D(0), None, D(5))])
    assert "tax_slabs.0.to" in fields(problems)


def test_flat_rate_and_standard_deduction_are_checked():
    assert fields(validate_policy(TaxPolicy(DAY, flat_rate=D(101)))) == ["current_deduction"]
    assert fields(validate_policy(TaxPolicy(DAY, flat_rate=D(-1)))) == ["current_deduction"]
    assert fields(validate_policy(TaxPolicy(DAY, standard_deduction=D(-1)))) == [
        "standard_deduction"
    ]


def test_flat_plus_top_rate_above_100_is_refused():
    policy = TaxPolicy(DAY, slabs=(Slab(D(0), None, D(60)),), flat_rate=D(50))
    assert fields(validate_policy(policy)) == ["current_deduction"]


# --- breakdown ---------------------------------------------------------------------------------


def test_flat_tds_breakdown_annual_and_monthly():
    result = compute_breakdown(TaxPolicy(DAY, flat_rate=D(10)), D("1200000.00"))
    assert result.annual.gross == D("1200000.00")
    assert [(d.name, d.basis, d.rate, d.amount) for d in result.annual.deductions] == [
        ("TDS (flat)", D("1200000.00"), D(10), D("120000.00"))
    ]
    assert result.annual.net == D("1080000.00")
    assert result.monthly.gross == D("100000.00")
    assert result.monthly.total_deductions == D("10000.00")
    assert result.monthly.net == D("90000.00")


def test_progressive_slabs_give_one_line_per_band_reached():
    result = compute_breakdown(UK, D("60000"))
    amounts = [d.amount for d in result.annual.deductions]
    assert amounts == [D("0.00"), D("7540.00"), D("3892.00")]
    assert result.annual.total_deductions == D("11432.00")
    assert result.annual.net == D("48568.00")


def test_flat_and_slabs_are_separate_lines_and_standard_deduction_lowers_the_basis():
    policy = TaxPolicy(DAY, slabs=UK.slabs, flat_rate=D(2), standard_deduction=D(10000))
    result = compute_breakdown(policy, D("60000"))
    assert result.taxable_income == D("50000.00")
    kinds = [d.kind for d in result.annual.deductions]
    assert kinds == ["slab", "slab", "flat"]
    assert result.annual.deductions[-1].basis == D("50000.00")
    assert result.annual.deductions[-1].amount == D("1000.00")


def test_zero_flat_rate_is_no_line():
    assert compute_breakdown(TaxPolicy(DAY, flat_rate=D(0)), D(100)).annual.deductions == ()


def test_rounding_is_half_up_once_and_lines_add_up():
    # 3 x 33.333...% of 0.10: each line rounds on its own, totals come from the rounded lines.
    policy = TaxPolicy(DAY, flat_rate=D("12.5"))
    result = compute_breakdown(policy, D("0.04"))
    assert result.annual.deductions[0].amount == D("0.01")  # 0.005 -> 0.01 (half-up)
    assert result.annual.net == D("0.03")


amounts = st.decimals(min_value=D("0.01"), max_value=D("100000000"), places=2)
rates = st.decimals(min_value=D(0), max_value=D(100), places=2)


@st.composite
def policies(draw):
    bounds = sorted(
        set(draw(st.lists(st.decimals(min_value=D(1), max_value=D(5000000), places=2), max_size=5)))
    )
    edges = [D(0), *bounds]
    slab_rates = draw(st.lists(rates, min_size=len(edges), max_size=len(edges)))
    slabs = tuple(
        Slab(low, edges[i + 1] if i + 1 < len(edges) else None, slab_rates[i])
        for i, low in enumerate(edges)
    )
    if draw(st.booleans()):
        slabs = ()
    top = max((s.rate for s in slabs), default=D(0))
    flat = draw(st.one_of(st.none(), st.decimals(min_value=D(0), max_value=D(100) - top, places=2)))
    standard = draw(st.one_of(st.none(), st.decimals(min_value=D(0), max_value=D(50000), places=2)))
    policy = TaxPolicy(DAY, slabs=slabs, flat_rate=flat, standard_deduction=standard)
    assert validate_policy(policy) == []
    return policy


@settings(max_examples=300, deadline=None)
@given(policies(), amounts)
def test_lines_add_up_to_the_cent_and_net_never_exceeds_gross(policy, gross):
    result = compute_breakdown(policy, gross)
    for split in (result.annual, result.monthly):
        assert split.gross == split.total_deductions + split.net
        assert split.total_deductions == sum((d.amount for d in split.deductions), D(0))
        assert split.net <= split.gross
        for figure in (split.gross, split.net, split.total_deductions):
            assert figure == figure.quantize(D("0.01"))
        assert all(d.amount >= 0 for d in split.deductions)
    assert result.annual.gross == gross


@settings(max_examples=300, deadline=None)
@given(policies(), amounts, amounts)
def test_deductions_never_decrease_as_gross_grows(policy, a, b):
    low, high = sorted((a, b))
    assert (
        compute_breakdown(policy, low).annual.total_deductions
        <= compute_breakdown(policy, high).annual.total_deductions
    )
    assert (
        compute_breakdown(policy, low).monthly.total_deductions
        <= compute_breakdown(policy, high).monthly.total_deductions
    )


@settings(max_examples=300, deadline=None)
@given(policies(), st.decimals(min_value=D("0.01"), max_value=D(100), places=2))
def test_tax_is_continuous_at_slab_boundaries(policy, step):
    top = max((s.rate for s in policy.slabs), default=D(0))
    std = policy.standard_deduction or D(0)
    for slab in policy.slabs[1:]:
        boundary = slab.lower + std  # where the taxable income crosses the boundary
        below = exact_progressive_tax(policy, max(D(0), boundary - step))
        at = exact_progressive_tax(policy, boundary)
        above = exact_progressive_tax(policy, boundary + step)
        # Crossing a boundary changes the rate, never the tax itself: no jump.
        assert at - below <= step * top / 100
        assert above - at <= step * top / 100
        assert below <= at <= above


@given(policies())
def test_tax_at_a_boundary_is_the_sum_of_the_full_bands_below(policy):
    for i, slab in enumerate(policy.slabs[1:], start=1):
        full = sum(
            ((s.upper - s.lower) * s.rate / 100 for s in policy.slabs[:i] if s.upper is not None),
            D(0),
        )
        gross = slab.lower + (policy.standard_deduction or D(0))
        assert exact_progressive_tax(policy, gross) == full
