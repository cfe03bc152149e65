"""Alembic environment of the accounting service's database (its own history)."""

import backoffice.savings.accounting.models  # noqa: F401  (registers the tables)
from backoffice.core.alembic_env import run_env
from backoffice.savings.accounting.models import AccountingBase

run_env(AccountingBase.metadata)
