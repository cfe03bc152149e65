"""What every route gets before its handler runs, whichever context declared it.

Contexts declare their routes on an `ApiRouter`, whose routes (`GuardedRoute`) check, before
their own dependencies and body parsing:

- a method the path does not serve is a 405 with an `Allow` header, even where a templated
  route would match the same path (`DELETE /api/v1/countries/list` is not a country named
  "list");
- credentials are checked before the body is read (every dependency declared with
  `core.auth.dependencies.credentials`), so an anonymous request is a 401 whatever its body;
- a body that is not declared JSON (`Content-Type: application/json`, or `application/*+json`)
  is a 422 that says so, not pydantic's "Input should be a valid dictionary" (what a client
  gets from `curl -d` without the header);
- NUL (U+0000), which PostgreSQL cannot store in text, is refused in the path, the query and
  every string of a JSON body (keys included): one rule here instead of a validator per field;
- a JSON body is decoded strictly, once: a key given twice in one object, or `NaN`/`Infinity`
  (not JSON), is a 422 instead of the last value silently winning.

`core.contexts.install` refuses a route of any other kind, so a route added later is covered
with no extra work.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI, params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from backoffice.core.auth.dependencies import CREDENTIAL_CHECKS, SecurityScheme
from backoffice.core.errors import ValidationFailed

NUL = "\x00"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class GuardedRoute(APIRoute):
    """An API route whose handler first runs the platform's checks (see the module)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        templated = bool(self.param_convertors)
        checks = credential_checks(self)
        json_body = self.body_field is not None and not isinstance(
            self.body_field.field_info, params.Form
        )

        async def guarded(request: Request) -> Response:
            if templated:
                served = literal_paths(request.app).get(request.scope["path"])
                if served is not None and request.method not in served:
                    raise HTTPException(405)  # the error handler adds `Allow`
            for check in checks:
                await check(request)
            _refuse_nul_in_url(request)
            if json_body:
                await _refuse_undeclared_json(request)
                await _decode_json_strictly(request)
            return await handler(request)

        return guarded


class ApiRouter(APIRouter):
    """An `APIRouter` whose routes are `GuardedRoute`s: the router every context declares."""

    def __init__(self, **options: Any) -> None:
        super().__init__(route_class=GuardedRoute, **options)


def credential_checks(route: APIRoute) -> list[Callable[..., Any]]:
    """The credentials checks among the route's dependencies, each once, outermost first."""
    found: list[Callable[..., Any]] = []
    _collect_checks(route.dependant, found)
    return found


def _collect_checks(dependant: Dependant, found: list[Callable[..., Any]]) -> None:
    for dependency in dependant.dependencies:
        if dependency.call in CREDENTIAL_CHECKS and dependency.call not in found:
            found.append(dependency.call)
        _collect_checks(dependency, found)


def needs_credentials(route: APIRoute) -> bool:
    """Whether the route's dependencies ask who the caller is."""
    return bool(credential_checks(route))


def security_schemes(route: APIRoute) -> tuple[SecurityScheme, ...]:
    """The ways of sending credentials the route takes (none: it is open to anyone)."""
    schemes: dict[str, SecurityScheme] = {}
    for check in credential_checks(route):
        schemes.update((scheme.name, scheme) for scheme in CREDENTIAL_CHECKS[check])
    return tuple(schemes.values())


def route_contexts(app: FastAPI) -> Iterator[RouteContext]:
    """Every route of `app` as served: included routers' routes with their full paths."""
    return iter_route_contexts(app.routes)


def literal_paths(app: FastAPI) -> dict[str, set[str]]:
    """Paths without parameters and the methods each is served with (computed once)."""
    known: dict[str, set[str]] | None = getattr(app.state, "literal_paths", None)
    if known is None:
        known = {}
        for route in route_contexts(app):
            if route.methods and route.path_format and "{" not in route.path_format:
                known.setdefault(route.path_format, set()).update(route.methods)
        app.state.literal_paths = known
    return known


def route_for(app: FastAPI, path: str) -> BaseRoute | None:
    """The route declared for `path` (with any method), or None."""
    for route in route_contexts(app):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            return route.original_route
    return None


def allowed_methods(request: Request) -> list[str]:
    """The methods the request's path is served with (for `Allow`), sorted."""
    app: FastAPI = request.scope["app"]
    path: str = request.scope["path"]
    literal = literal_paths(app).get(path)
    if literal is not None:
        return sorted(literal)
    methods: set[str] = set()
    for route in route_contexts(app):
        regex = getattr(route, "path_regex", None)
        if route.methods and regex is not None and regex.match(path):
            methods |= route.methods
    return sorted(methods)


def _refuse_nul_in_url(request: Request) -> None:
    if NUL in request.scope["path"]:
        raise ValidationFailed.field("path", "must not contain NUL (\\u0000)")
    query: bytes = request.scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in request.query_params.multi_items():
            if NUL in name or NUL in value:
                raise ValidationFailed.field(name.replace(NUL, ""), "must not contain NUL")


def _declared_json(content_type: str | None) -> bool:
    """Whether FastAPI parses a body of this type as JSON (it parses no other)."""
    if content_type is None:
        return False
    media = content_type.partition(";")[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


async def _refuse_undeclared_json(request: Request) -> None:
    content_type = request.headers.get("content-type")
    if _declared_json(content_type) or not await request.body():
        return  # JSON, or nothing sent: the route's own validation says what is missing
    sent = f"`{content_type[:100]}`" if content_type else "no Content-Type"
    message = f"Send the body as JSON with `Content-Type: application/json` (got {sent})"
    raise ValidationFailed(
        message, errors=[{"field": "Content-Type", "message": message, "code": "not_json"}]
    )


class _NotJson(ValueError):
    """A body that Python's `json` reads but JSON does not allow."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _NotJson(key.replace(NUL, ""), f"the key {key!r} is given more than once")
            seen.add(key)
    return document


def _no_constant(name: str) -> Any:
    raise _NotJson("body", f"{name} is not a JSON number")


async def _decode_json_strictly(request: Request) -> None:
    """Decode a JSON body once, strictly, and keep it for the route's own parsing.

    Starlette's `Request.json()` returns the document it keeps in `_json`, so the route reads
    this decoding instead of a lenient second one (`json.loads` lets the last of two equal keys
    win and reads `NaN`). A body that is not JSON at all is left to the route, which answers it.
    """
    body = await request.body()  # kept by the request: the route's own parsing reuses it
    if not body:
        return
    try:
        document = json.loads(body, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except _NotJson as error:
        raise ValidationFailed.field(error.field, error.message) from None
    except ValueError:
        return  # not JSON: the route's own parsing answers that
    request._json = document
    # Inside a JSON string a NUL can only be written as the escape \u0000.
    if b"\\u0000" in body:
        for field in _nul_strings(document, ()):
            raise ValidationFailed.field(field or "body", "must not contain NUL (\\u0000)")


def _nul_strings(value: Any, at: tuple[str, ...]) -> Iterator[str]:
    """Where `value` holds a string with a NUL, as dotted paths."""
    if isinstance(value, str):
        if NUL in value:
            yield ".".join(at)
    elif isinstance(value, dict):
        for key, item in value.items():
            name = key.replace(NUL, "")
            if NUL in key:
                yield ".".join((*at, name))
            yield from _nul_strings(item, (*at, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_strings(item, (*at, str(index)))
