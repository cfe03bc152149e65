"""Domain errors: each class has an HTTP status and a stable code; one handler renders them.

Services raise these; they never import FastAPI or build responses.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self


class DomainError(Exception):
    """Base of every error a client may see."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    default_message: ClassVar[str] = "Bad request"

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.errors = errors
        self.headers = headers
        super().__init__(self.message)

    @classmethod
    def field(cls, field: str, message: str) -> Self:
        """An error about one field, listed like request-validation errors."""
        return cls(message, errors=[{"field": field, "message": message, "code": cls.code}])


class NotFound(DomainError):
    """The resource does not exist (or is not visible to the caller)."""

    status_code = 404
    code = "not_found"
    default_message = "Not found"


class Conflict(DomainError):
    """The request clashes with the current state (duplicate, already decided, ...)."""

    status_code = 409
    code = "conflict"
    default_message = "Conflict"


class ValidationFailed(DomainError):
    """The input is well-formed JSON but breaks a rule."""

    status_code = 422
    code = "validation_error"
    default_message = "Validation failed"


class Unauthorized(DomainError):
    """Missing or wrong credentials."""

    status_code = 401
    code = "unauthorized"
    default_message = "Authentication required"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message, headers={"WWW-Authenticate": 'Basic realm="backoffice", charset="UTF-8"'}
        )


class Forbidden(DomainError):
    """Authenticated, but not allowed to do this."""

    status_code = 403
    code = "forbidden"
    default_message = "You do not have permission to perform this action"


class RateLimited(DomainError):
    """Too many requests from this client."""

    status_code = 429
    code = "rate_limited"
    default_message = "Too many requests"


class ServiceUnavailable(DomainError):
    """A dependency (database, broker) is not ready."""

    status_code = 503
    code = "unavailable"
    default_message = "Service unavailable"


# What any authenticated endpoint may answer besides its own errors.
AUTH_ERRORS: tuple[type[DomainError], ...] = (Unauthorized, Forbidden)


def error_responses(*errors: type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for an endpoint that may raise these errors."""
    from backoffice.core.envelope import ErrorEnvelope

    out: dict[int | str, dict[str, Any]] = {}
    for err in errors:
        entry = out.setdefault(err.status_code, {"model": ErrorEnvelope, "description": ""})
        entry["description"] = "; ".join(
            filter(None, [entry["description"], f"`{err.code}`: {err.default_message}"])
        )
    return out
