"""Expense domain errors: each has an HTTP status (from its core base) and a stable code."""

from __future__ import annotations

from backoffice.core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed


class ExpenseNotFound(NotFound):
    """The expense does not exist, or belongs to another company."""

    code = "expense_not_found"
    default_message = "Expense not found"


class PolicyNotFound(NotFound):
    """The policy does not exist, or belongs to another company."""

    code = "policy_not_found"
    default_message = "Policy not found"


class StepNotFound(NotFound):
    """The approval step does not exist, or its policy belongs to another company."""

    code = "step_not_found"
    default_message = "Approval step not found"


class EmployeeNotFound(NotFound):
    """The employee does not exist, or belongs to another company."""

    code = "employee_not_found"
    default_message = "Employee not found"


class NotYourIdentity(Forbidden):
    """A non-admin caller named an employee other than the one their login is linked to."""

    code = "not_your_identity"
    default_message = "You may only act as yourself"


class NoLinkedEmployee(Forbidden):
    """The caller's login is not linked to an employee, so they cannot act in expenses."""

    code = "no_linked_employee"
    default_message = "Your account is not linked to an employee"


class NotDesignatedApprover(Forbidden):
    """The employee is not an approver of this expense."""

    code = "not_designated_approver"
    default_message = "You are not an approver of this expense"


class ExpenseAlreadyDecided(Conflict):
    """The expense is approved or rejected: both are final."""

    code = "expense_already_decided"
    default_message = "The expense has already been decided"


class StepAlreadyDecided(Conflict):
    """The approver's step has already been decided (for instance by a concurrent request)."""

    code = "step_already_decided"
    default_message = "Your approval step has already been decided"


class StepOutOfOrder(Conflict):
    """An earlier required step is still pending."""

    code = "step_out_of_order"
    default_message = "An earlier required step is still pending"


class ConcurrentDecision(Conflict):
    """Other decisions kept changing the expense while this one was being applied."""

    code = "concurrent_decision"
    default_message = "The expense changed while your decision was applied; reload it and retry"


class PolicyInUse(Conflict):
    """The policy has expenses; deactivate it instead of deleting it."""

    code = "policy_in_use"
    default_message = "The policy has expenses; deactivate it instead"


class DuplicateStep(Conflict):
    """The policy already has a step with this order."""

    code = "duplicate_step"
    default_message = "The policy already has a step with this order"


class DuplicatePolicy(Conflict):
    """The company already has a policy for this category and minimum amount."""

    code = "duplicate_policy"
    default_message = "A policy with this category and minimum amount already exists"


class NoApproverForStep(ValidationFailed):
    """A required step has no active employee in scope at or above the required level."""

    code = "no_approver_for_step"
    default_message = "A required approval step has no possible approver"


class ExpenseRefused(ValidationFailed):
    """The claim breaks a policy rule (amount range, inactive policy or submitter, no steps)."""

    code = "expense_refused"
    default_message = "The expense breaks the policy"


class AmountOutsidePolicy(DomainError):
    """The amount lies outside the policy's range: a 400, as the original system answered."""

    status_code = 400
    code = "amount_outside_policy"
    default_message = "The amount is outside the policy's range"

    @classmethod
    def of(cls, amount: object, bounds: str) -> AmountOutsidePolicy:
        """The error for `amount`, naming the range, with the field at fault listed."""
        message = f"Amount {amount} is outside the policy's range ({bounds})"
        return cls(message, errors=[{"field": "amount", "message": message, "code": cls.code}])
