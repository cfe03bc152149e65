"""What every route gets before its handler runs, whichever context declared it.

Contexts declare their routes on an `ApiRouter`, whose routes (`GuardedRoute`) check, before
their own dependencies and body parsing:

- a method the path does not serve is a 405 with an `Allow` header, even where a templated
  route would match the same path (`DELETE /api/v1/countries/list` is not a country named
  "list");
- authentication comes before the body is read, so an anonymous request is a 401 whatever its
  body;
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

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from backoffice.core.auth.dependencies import authenticate, get_current_user
from backoffice.core.errors import ValidationFailed

NUL = "\x00"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class GuardedRoute(APIRoute):
    """An API route whose handler first runs the platform's checks (see the module)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        templated = bool(self.param_convertors)
        authenticated = needs_credentials(self)
        has_body = self.body_field is not None

        async def guarded(request: Request) -> Response:
            if templated:
                served = literal_paths(request.app).get(request.scope["path"])
                if served is not None and request.method not in served:
                    raise HTTPException(405)  # the error handler adds `Allow`
            if authenticated:
                request.state.principal = await authenticate(request)
            _refuse_nul_in_url(request)
            if has_body:
                await _decode_json_strictly(request)
            return await handler(request)

        return guarded


class ApiRouter(APIRouter):
    """An `APIRouter` whose routes are `GuardedRoute`s: the router every context declares."""

    def __init__(self, **options: Any) -> None:
        super().__init__(route_class=GuardedRoute, **options)


def needs_credentials(route: APIRoute) -> bool:
    """Whether the route's dependencies ask who the caller is."""
    return _uses(route.dependant, get_current_user)


def _uses(dependant: Dependant, call: Any) -> bool:
    return any(d.call is call or _uses(d, call) for d in dependant.dependencies)


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
