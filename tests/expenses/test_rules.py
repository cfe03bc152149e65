"""The pure chain and state-machine rules, with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.expenses.errors import (
    ExpenseAlreadyDecided,
    NoApproverForStep,
    NotDesignatedApprover,
    StepAlreadyDecided,
    StepOutOfOrder,
)
from backoffice.expenses.rules import (
    ChainLink,
    Decision,
    ExpenseStatus,
    Member,
    Scope,
    StepRule,
    StepState,
    StepStatus,
    actionable,
    build_chain,
    decide,
    in_scope,
    pick_approver,
    status_after_submission,
)

TEAMS = st.sampled_from([1, 2, 3, None])
members = st.lists(
    st.builds(
        Member,
        employee_id=st.integers(1, 40),
        level_number=st.integers(1, 11),
        team_id=TEAMS,
        company_wide=st.booleans(),
        is_active=st.booleans(),
    ),
    max_size=25,
    unique_by=lambda m: m.employee_id,
)
step_rules = st.lists(
    st.builds(
        StepRule,
        step_order=st.integers(1, 8),
        required_level=st.integers(1, 10),
        scope=st.sampled_from(list(Scope)),
        team_id=st.sampled_from([1, 2, 3]),
        is_required=st.booleans(),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda s: s.step_order,
)


def _chain_or_none(steps, submitter, people) -> list[ChainLink] | None:
    try:
        return build_chain(steps, submitter, people)
    except NoApproverForStep:
        return None


@given(step_rules, members, st.data())
def test_the_submitter_never_appears_in_their_own_chain(steps, people, data):
    submitter = data.draw(st.sampled_from(people)) if people else Member(99, 7, 1)
    chain = _chain_or_none(steps, submitter, people)
    if chain is not None:
        assert submitter.employee_id not in {link.approver_id for link in chain}


@given(step_rules, members, st.data())
def test_each_approver_is_eligible_and_the_closest(steps, people, data):
    submitter = data.draw(st.sampled_from(people)) if people else Member(99, 7, 1)
    chain = _chain_or_none(steps, submitter, people)
    by_order = {s.step_order: s for s in steps}
    if chain is None:
        assert any(s.is_required and pick_approver(s, submitter, people) is None for s in steps)
        return
    by_id = {m.employee_id: m for m in people}
    assert [link.step_number for link in chain] == sorted(link.step_number for link in chain)
    for link in chain:
        rule = by_order[link.step_number]
        approver = by_id[link.approver_id]
        assert approver.is_active
        assert approver.level_number <= rule.required_level
        assert in_scope(approver, rule, submitter)
        assert link.approver_level == approver.level_number
        closer = [
            m
            for m in people
            if m.is_active
            and m.employee_id != submitter.employee_id
            and approver.level_number < m.level_number <= rule.required_level
            and in_scope(m, rule, submitter)
        ]
        assert closer == []
    covered = {link.step_number for link in chain}
    assert all(s.step_order in covered for s in steps if s.is_required)


def _states(draw_flags: list[tuple[bool, int]]) -> list[StepState]:
    return [
        StepState(step_number=i + 1, approver_id=approver, is_required=required)
        for i, (required, approver) in enumerate(draw_flags)
    ]


chains = st.lists(st.tuples(st.booleans(), st.integers(1, 5)), min_size=1, max_size=6).map(_states)
decisions = st.lists(st.tuples(st.integers(1, 6), st.sampled_from(list(Decision))), max_size=20)


@given(chains, decisions)
def test_no_sequence_of_decisions_approves_with_a_required_step_pending(steps, sequence):
    status = ExpenseStatus.PENDING if any(s.is_required for s in steps) else ExpenseStatus.APPROVED
    for approver_id, decision in sequence:
        before = (status, tuple(steps))
        try:
            outcome = decide(status, steps, approver_id, decision)
        except (ExpenseAlreadyDecided, StepAlreadyDecided, NotDesignatedApprover, StepOutOfOrder):
            assert (status, tuple(steps)) == before
            continue
        was_terminal = status is not ExpenseStatus.PENDING
        assert not was_terminal  # a decided expense never accepts another decision
        status, steps = outcome.expense_status, list(outcome.steps)
        pending_required = [s for s in steps if s.is_required and s.status is StepStatus.PENDING]
        if status is ExpenseStatus.APPROVED:
            assert pending_required == []
            assert all(s.status is not StepStatus.PENDING for s in steps)
            assert all(s.status is StepStatus.APPROVED for s in steps if s.is_required)
        elif status is ExpenseStatus.REJECTED:
            assert sum(s.status is StepStatus.REJECTED for s in steps) == 1
            assert all(s.status is not StepStatus.PENDING for s in steps)
        else:
            assert pending_required


@given(
    chains,
    st.sampled_from([ExpenseStatus.APPROVED, ExpenseStatus.REJECTED]),
    st.integers(1, 5),
    st.sampled_from(list(Decision)),
)
def test_approved_and_rejected_are_terminal(steps, status, approver_id, decision):
    with pytest.raises(ExpenseAlreadyDecided):
        decide(status, steps, approver_id, decision)


def test_an_earlier_required_step_blocks_and_an_optional_one_does_not():
    steps = [StepState(1, 10, True), StepState(2, 20, True)]
    with pytest.raises(StepOutOfOrder):
        decide(ExpenseStatus.PENDING, steps, 20, Decision.APPROVE)
    optional_first = [StepState(1, 10, False), StepState(2, 20, True)]
    outcome = decide(ExpenseStatus.PENDING, optional_first, 20, Decision.APPROVE)
    assert outcome.expense_status is ExpenseStatus.APPROVED
    assert [s.status for s in outcome.steps] == [StepStatus.SKIPPED, StepStatus.APPROVED]


def test_a_stranger_is_forbidden_and_a_repeat_is_a_conflict():
    steps = [StepState(1, 10, True), StepState(2, 20, True)]
    with pytest.raises(NotDesignatedApprover):
        decide(ExpenseStatus.PENDING, steps, 30, Decision.APPROVE)
    first = decide(ExpenseStatus.PENDING, steps, 10, Decision.APPROVE)
    assert first.pending_count == 1
    with pytest.raises(StepAlreadyDecided):
        decide(first.expense_status, first.steps, 10, Decision.APPROVE)


def test_reject_cancels_every_pending_step():
    steps = [StepState(1, 10, True), StepState(2, 20, True), StepState(3, 30, False)]
    outcome = decide(ExpenseStatus.PENDING, steps, 10, Decision.REJECT)
    assert outcome.expense_status is ExpenseStatus.REJECTED
    assert [s.status for s in outcome.steps] == [
        StepStatus.REJECTED,
        StepStatus.CANCELLED,
        StepStatus.CANCELLED,
    ]
    assert len(outcome.changed) == 3


def test_status_after_submission():
    assert status_after_submission([ChainLink(1, 5, 6, True)]) is ExpenseStatus.PENDING
    assert status_after_submission([ChainLink(1, 5, 6, False)]) is ExpenseStatus.APPROVED


@given(chains, decisions)
def test_actionable_steps_are_exactly_those_not_blocked(steps, sequence):
    status = ExpenseStatus.PENDING
    for approver_id, decision in sequence:
        ready = actionable(steps)
        for s in steps:
            blocked = any(
                e.step_number < s.step_number and e.is_required and e.status is StepStatus.PENDING
                for e in steps
            )
            assert (s.step_number in ready) == (s.status is StepStatus.PENDING and not blocked)
        try:
            outcome = decide(status, steps, approver_id, decision)
        except (ExpenseAlreadyDecided, StepAlreadyDecided, NotDesignatedApprover, StepOutOfOrder):
            continue
        assert outcome.step_number in ready  # a decision only ever lands on an actionable step
        status, steps = outcome.expense_status, list(outcome.steps)
