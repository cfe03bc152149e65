"""Request bodies are bounded before they are read: `MAX_BODY_BYTES`, or a route's own limit.

Two parts, because a body announces its size or does not:

- FastAPI counts the bytes as the app reads them (`include_router(max_body_size=...)`, which
  `core.contexts.install` passes for every context's routes, or a route's own
  `max_body_size=`, which wins). A body streamed past the limit is cut off there: the read
  raises a 413 `HTTPException`, which core's handler renders in the route's error style.
- A declared `Content-Length` over the limit is answered here, before the app runs, having
  read nothing, in the error style of the route the request was meant for. FastAPI would only
  notice at the first read, and where the route answers without reading (a 401 comes first, a
  405, a 429) it replaces that answer with a plain-text 413.

A refused body is not read by the app; uvicorn discards what the client still sends (closing
instead would reset the connection, and most clients would never see the 413).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from backoffice.core.envelope import body_too_large_response
from backoffice.core.routing import route_contexts


@dataclass(frozen=True)
class _OwnLimit:
    """A route whose limit is not the app's."""

    path: re.Pattern[str]
    methods: frozenset[str]
    limit: int


class BodyLimitMiddleware:
    """Answer 413 to a request whose `Content-Length` is over its route's limit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = _content_length(scope)
            if declared is not None:
                limit = body_limit(scope["app"], scope["method"], scope["path"])
                if limit is not None and declared > limit:
                    await body_too_large_response(Request(scope), limit)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def body_limit(app: FastAPI, method: str, path: str) -> int | None:
    """The largest body `method path` takes (None: no limit)."""
    default: int | None = getattr(app.state, "max_body_size", None)
    for own in _own_limits(app, default):
        if method in own.methods and own.path.match(path):
            return own.limit
    return default


def _own_limits(app: FastAPI, default: int | None) -> list[_OwnLimit]:
    """Routes that declare a limit other than the app's (computed once; usually none)."""
    known: list[_OwnLimit] | None = getattr(app.state, "own_body_limits", None)
    if known is None:
        known = []
        for route in route_contexts(app):
            limit = getattr(route, "max_body_size", None)
            regex = getattr(route, "path_regex", None)
            if limit is not None and limit != default and regex is not None:
                known.append(_OwnLimit(regex, frozenset(route.methods or ()), limit))
        app.state.own_body_limits = known
    return known


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before the app sees it
    return None
