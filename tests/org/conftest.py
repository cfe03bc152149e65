"""Org tests share payroll's fixture: one-statement reads see the test's rolled-back data."""

from tests.payroll.conftest import read_in_test_transaction  # noqa: F401
