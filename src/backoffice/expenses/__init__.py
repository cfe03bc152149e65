"""Expense approvals: policies with multi-step approval chains, decisions and their audit trail."""
