"""Alembic environment of the main database (one history; the savings services have their own)."""

# Every context's models, so that autogenerate (a helper, never the source of truth) sees them.
import backoffice.core.auth.models
import backoffice.expenses.models
import backoffice.merchants.models
import backoffice.org.models
import backoffice.payroll.models
import backoffice.transactions.models  # noqa: F401
from backoffice.core.alembic_env import run_env
from backoffice.core.db import Base

run_env(Base.metadata)
