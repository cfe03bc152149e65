"""Request bodies are bounded before they are read (`MAX_BODY_BYTES`, 1 MiB by default).

A declared `Content-Length` over the limit is a 413 before the app reads a byte; a body
streamed without one is cut off at the limit. Either way in the error style of the route the
request was meant for, whoever sends it. (The server's memory under three 200 MB bodies:
tests/api/test_body_limit_served.py.)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

MiB = 1024 * 1024
LIMIT = MiB
SIGNUP = "/api/v1/savings/signup"


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        chunk = b" " * min(size, total - sent)
        sent += len(chunk)
        yield chunk


async def _call(app: Any, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any, int]:
    """Call the app as a server would with a body it must not read; return the status, the
    JSON answer and how many times the app asked for the body."""
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1  # 2 MiB in all, so that an app that reads it whole ends
        return {"type": "http.request", "body": b" " * (64 * 1024), "more_body": reads < 32}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), reads


@pytest.mark.parametrize(
    ("method", "path", "style"),
    [
        ("POST", SIGNUP, "envelope"),  # anonymous by design
        ("POST", "/api/v1/org/companies", "envelope"),  # needs credentials: none sent
        ("POST", "/api/expenses", "detail"),  # a seed route: `{"detail", "code"}`
        ("GET", "/api/v1/org/companies", "envelope"),  # no body expected at all
    ],
)
async def test_a_declared_length_over_the_limit_is_413_before_a_byte_is_read(
    app, method, path, style
):
    headers = {"Content-Type": "application/json", "Content-Length": str(200 * MiB)}
    status, body, reads = await _call(app, method, path, headers)
    assert status == 413, body
    assert reads == 0, "the app read the body of a request it had to refuse"
    if style == "envelope":
        assert body["status"] == "error" and body["status_code"] == 413
        assert body["errors"][0]["code"] == "body_too_large"
        assert str(LIMIT) in body["message"]
    else:
        assert body["code"] == "body_too_large" and str(LIMIT) in body["detail"]


async def test_a_body_at_the_limit_is_read_as_usual(client):
    response = await client.post(
        SIGNUP,
        content=b'{"email": "a@example.com"' + b" " * (LIMIT - 100) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text  # read whole, then validated


async def test_a_streamed_body_is_cut_off_at_the_limit(client):
    # No Content-Length: chunked, as a client streams a body of unknown size.
    response = await client.post(
        SIGNUP, content=_chunks(50 * MiB), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert response.json()["errors"][0]["code"] == "body_too_large"


async def test_a_streamed_body_over_the_limit_on_a_seed_route_is_413_in_its_style(client, admin):
    response = await client.post(
        "/api/expenses",
        content=_chunks(5 * MiB),
        headers={**admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "body_too_large"


async def test_every_operation_with_a_body_documents_413(app):
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                assert "413" in operation["responses"], (method, path)
