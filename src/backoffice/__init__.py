"""backoffice: payroll, expense approvals, merchant analytics, transactions ETL and savings."""

__version__ = "0.1.0"
