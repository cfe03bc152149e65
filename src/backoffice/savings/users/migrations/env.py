"""Alembic environment of the users service's database (`savings_users`), its own history."""

from backoffice.core.alembic_env import run_env
from backoffice.savings.users.models import UsersBase

run_env(UsersBase.metadata)
