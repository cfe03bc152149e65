"""Roles and the permissions they grant (no I/O: the CLI reads them without the database stack)."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    """What an account may do to a resource (and, for admins, to the platform's accounts)."""

    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    MANAGE_ACCOUNTS = "manage_accounts"


class Role(StrEnum):
    """Roles grant permissions (see `ROLE_PERMISSIONS`)."""

    ADMIN = "admin"
    MANAGER = "manager"
    STAFF = "staff"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.MANAGER: frozenset({Permission.CREATE, Permission.READ, Permission.UPDATE}),
    Role.STAFF: frozenset({Permission.READ}),
}
