"""What a login may do in expenses: a rule of its own, beside the role's permissions. No I/O.

The role's permissions (create, read, update, delete) govern the policy administration under
`/api/v1`. Claims and decisions follow who the login *is*, whatever its role:

- a submitter is the employee linked to the login: any login linked to an active employee may
  submit claims as that employee, and only as them;
- an approver is the one a chain designates: a login decides the steps its employee was
  designated for when the claim was submitted (`rules.decide` checks it); an active employee
  with a level can be designated;
- an admin may also act on behalf of any employee they can see (recorded as such);
- reading a claim (its status and audit trail) is where the role counts: admins and managers
  read every claim of their company (of every company, linked to no one), staff only the
  claims they submitted or are an approver of.

So TechCorp's employees, whose logins have the `staff` role (read), submit and approve as
themselves; the demo `staff` and `manager` logins, linked to no employee, do neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from backoffice.core.auth.service import Role
from backoffice.expenses.errors import EmployeeNotFound, NoLinkedEmployee, NotYourIdentity


@dataclass(frozen=True, slots=True)
class Linked:
    """The facts the rule needs about the employee a login is linked to."""

    employee_id: int
    company_id: int | None
    is_active: bool
    level_number: int | None


@dataclass(frozen=True, slots=True)
class ExpenseCapabilities:
    """What a login may do in expenses (`GET /api/v1/auth/me` shows it)."""

    employee_id: int | None  # the employee the login acts as; None when linked to no one
    company_id: int | None  # the one company it sees; None: every company (an unlinked login)
    may_submit: bool  # submit claims (as its employee, or for others when it is an admin)
    may_approve: bool  # be designated approver of new claims' steps, or decide for others
    may_act_for_others: bool  # submit and decide on behalf of another employee
    may_read_all: bool  # read every claim it can see, not only those it is involved in


def capabilities(role: Role, employee: Linked | None) -> ExpenseCapabilities:
    """The expense capabilities of a login with `role` linked to `employee` (or to no one)."""
    admin = role is Role.ADMIN
    active = employee is not None and employee.is_active
    return ExpenseCapabilities(
        employee_id=employee.employee_id if employee is not None else None,
        company_id=employee.company_id if employee is not None else None,
        may_submit=admin or active,
        may_approve=admin
        or (active and employee is not None and employee.level_number is not None),
        may_act_for_others=admin,
        may_read_all=role is not Role.STAFF,
    )


class Acting(StrEnum):
    """How a login acts as an employee it names."""

    SELF = "self"
    ON_BEHALF = "on_behalf"


def acting_as(
    caps: ExpenseCapabilities,
    employee_id: int,
    target_company_id: int | None,
    *,
    target_exists: bool,
    field: str,
) -> Acting:
    """Whether a login with `caps` may act as the employee `employee_id` it names in `field`.

    `target_exists` and `target_company_id` describe that employee (unused when it is the
    login's own). The checks come in this order, each with its status: a login linked to no
    one that is no admin (403 `no_linked_employee`); an employee that does not exist or sits
    in another company than the login's (404); someone else, for a non-admin (403
    `not_your_identity`).
    """
    if caps.employee_id is not None and caps.employee_id == employee_id:
        return Acting.SELF
    if caps.employee_id is None and not caps.may_act_for_others:
        raise NoLinkedEmployee()
    visible = caps.employee_id is None or target_company_id == caps.company_id
    if not target_exists or not visible:
        raise EmployeeNotFound(f"Employee {employee_id} not found")
    if not caps.may_act_for_others:
        raise NotYourIdentity(f"{field} {employee_id} is not you: you may only act as yourself")
    return Acting.ON_BEHALF
