"""The response envelope every `/api/v1` endpoint speaks, and the error renderers."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Generic, Literal, TypeVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from backoffice.core.errors import DomainError

log = structlog.get_logger("backoffice.errors")

# Paths whose existing clients expect `{"detail": ..., "code": ...}` errors, not the envelope.
LEGACY_ERROR_PREFIXES = ("/api/expenses", "/api/approvals")

T = TypeVar("T")


class FieldError(BaseModel):
    """One reason a request was refused."""

    field: str | None = None
    message: str
    code: str


class PageInfo(BaseModel):
    """Where a page sits in the whole result."""

    total: int
    limit: int
    offset: int
    has_more: bool


class Envelope(BaseModel, Generic[T]):
    """`{"status", "status_code", "message", "data", "errors", "pagination"}`."""

    status: Literal["success", "error"] = "success"
    status_code: int = 200
    message: str = "OK"
    data: T | None = None
    errors: list[FieldError] | None = None
    pagination: PageInfo | None = None


class ErrorEnvelope(Envelope[None]):
    """The envelope of an error: `status` is "error" and `errors` says why."""

    status: Literal["success", "error"] = "error"


def ok(
    data: T, message: str = "OK", *, status_code: int = 200, pagination: PageInfo | None = None
) -> Envelope[T]:
    """A success envelope."""
    return Envelope[T](data=data, message=message, status_code=status_code, pagination=pagination)


def error_response(
    request: Request,
    status_code: int,
    code: str,
    message: str,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Render an error in the shape the path's clients expect."""
    if request.url.path.startswith(LEGACY_ERROR_PREFIXES):
        body: dict[str, Any] = {"detail": message, "code": code}
        if errors:
            body["errors"] = errors
    else:
        body = ErrorEnvelope(
            status_code=status_code,
            message=message,
            errors=[FieldError(**e) for e in errors]
            if errors
            else [FieldError(message=message, code=code)],
        ).model_dump(mode="json")
    return JSONResponse(body, status_code=status_code, headers=headers)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "request")


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return error_response(request, exc.status_code, exc.code, exc.message, exc.errors, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": _location(tuple(e.get("loc", ()))),
            "message": e.get("msg", ""),
            "code": e.get("type", "invalid"),
        }
        for e in exc.errors()
    ]
    return error_response(request, 422, "validation_error", "Validation failed", errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = "Error"
    message = exc.detail if isinstance(exc.detail, str) else phrase
    code = phrase.lower().replace(" ", "_").replace("-", "_")
    return error_response(request, exc.status_code, code, message, headers=exc.headers)


def internal_error_response(request: Request) -> JSONResponse:
    """The 500 a client sees: no stack trace, just the request id to quote."""
    return error_response(request, 500, "internal_error", "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Render every error (domain, validation, routing) in the right shape."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
