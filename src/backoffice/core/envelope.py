"""The response envelope every `/api/v1` endpoint speaks, and the error renderers."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from http import HTTPStatus
from typing import Any, Generic, Literal, Protocol, TypeVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY

from backoffice.core.errors import DomainError

log = structlog.get_logger("backoffice.errors")

T = TypeVar("T")


class ErrorStyle(StrEnum):
    """How a context's clients expect errors: each context says so when it installs its routes."""

    ENVELOPE = "envelope"  # the platform's envelope (`ErrorEnvelope`)
    DETAIL = "detail"  # `{"detail": ..., "code": ...}` (`DetailError`), for seed contracts
    PAGE = "page"  # an HTML page, drawn by the `ErrorPage` in `app.state.error_page` (the console)


class ErrorPage(Protocol):
    """Draws an error as a page, for routes of the `PAGE` style (a context installs one)."""

    def __call__(
        self,
        request: Request,
        status_code: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None,
    ) -> Response: ...


class FieldError(BaseModel):
    """One reason a request was refused.

    An error may carry more than these three when a client needs it to act (a savings transfer
    refused by the lock-in says when the amount unlocks: `unlocks_at`).
    """

    model_config = ConfigDict(extra="allow")

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


class ErrorEnvelope(BaseModel):
    """The envelope of an error: `status` is "error" and `errors` says why."""

    # Every field is always sent: the OpenAPI document requires each one.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    status: Literal["error"] = "error"
    status_code: int
    message: str
    data: None = None
    errors: list[FieldError]
    pagination: None = None


class DetailError(BaseModel):
    """An error in the seed contracts' shape: `{"detail", "code"}`, and the fields at fault."""

    detail: str
    code: str
    errors: list[FieldError] | None = None


ERROR_MODELS: dict[ErrorStyle, type[BaseModel]] = {
    ErrorStyle.ENVELOPE: ErrorEnvelope,
    ErrorStyle.DETAIL: DetailError,
}


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
) -> Response:
    """Render an error in the style of the context that owns the request's route."""
    style = error_style(request)
    if style is ErrorStyle.PAGE:
        page: ErrorPage = request.app.state.error_page
        return page(request, status_code, code, message, headers)
    if style is ErrorStyle.DETAIL:
        body = DetailError(detail=message, code=code, errors=_fields(errors) if errors else None)
        content = body.model_dump(mode="json", exclude_none=True)
    else:
        fields = _fields(errors) if errors else [FieldError(message=message, code=code)]
        content = ErrorEnvelope(status_code=status_code, message=message, errors=fields).model_dump(
            mode="json"
        )
    return JSONResponse(content, status_code=status_code, headers=headers)


def _fields(errors: list[dict[str, Any]]) -> list[FieldError]:
    return [FieldError(**e) for e in errors]


def error_style(request: Request) -> ErrorStyle:
    """The error style of the route the request reached, or would reach (a 405, a 429).

    A path that no route serves gets the envelope.
    """
    app = request.scope.get("app")
    if app is None:
        return ErrorStyle.ENVELOPE
    styles: dict[int, ErrorStyle] = getattr(app.state, "error_styles", {})
    route = request.scope.get("route")
    if route is None:  # answered before routing (rate limit): find the route it was meant for
        from backoffice.core.routing import route_for

        route = route_for(app, request.scope["path"])
    return styles.get(id(route), ErrorStyle.ENVELOPE) if route is not None else ErrorStyle.ENVELOPE


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "request")


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return error_response(request, exc.status_code, exc.code, exc.message, exc.errors, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
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


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 413:  # a body streamed past the limit, cut off by FastAPI's count
        return body_too_large_response(request, request.scope.get(MAX_BODY_SIZE_SCOPE_KEY))
    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = "Error"
    message = exc.detail if isinstance(exc.detail, str) else phrase
    code = phrase.lower().replace(" ", "_").replace("-", "_")
    headers = exc.headers
    if exc.status_code == 405:  # Starlette's Allow names one route's methods: list the path's
        from backoffice.core.routing import allowed_methods

        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return error_response(request, exc.status_code, code, message, headers=headers)


def body_too_large_response(request: Request, limit: int | None) -> Response:
    """The 413 of a body over the route's limit (`core.bodylimit`)."""
    size = f"the limit of {limit} bytes" if limit is not None else "the limit"
    return error_response(request, 413, "body_too_large", f"The request body is larger than {size}")


def internal_error_response(request: Request) -> Response:
    """The 500 a client sees: no stack trace, just the request id to quote."""
    return error_response(request, 500, "internal_error", "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Render every error (domain, validation, routing) in the right shape."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
