"""What the route guard (core.routing.GuardedRoute) costs per request, next to a plain route.

    .venv/bin/python bench/route_guard.py [--requests 20000]

Two tiny apps with the same three endpoints, one declared on FastAPI's `APIRouter`, the other
on `core.routing.ApiRouter`: a GET with a path id, a GET with a query filter, and a POST with a
small JSON body (the expense submission's size). No database and no credentials: the endpoints
only echo, so the difference is the guard's own work (the literal-path 405 lookup, the NUL
scan of query and body, the body read ahead). Each request goes straight to the ASGI app, no
HTTP server; the app's own error handlers and middleware are not installed in either app.
Rounds alternate between the two apps so that the machine's drift hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from backoffice.core.routing import ApiRouter

BODY = json.dumps(
    {"user_id": 7, "policy_id": 1, "amount": "800.00", "description": "Monitor for the desk"}
).encode()


class Claim(BaseModel):
    user_id: int
    policy_id: int
    amount: str
    description: str


def build(router: APIRouter) -> FastAPI:
    @router.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @router.get("/items")
    async def items(name: str | None = None) -> dict[str, str | None]:
        return {"name": name}

    @router.post("/claims")
    async def claim(data: Claim) -> dict[str, int]:
        return {"user_id": data.user_id}

    app = FastAPI()
    app.include_router(router)
    return app


REQUESTS: list[tuple[str, str, bytes, bytes]] = [
    ("GET", "/items/42", b"", b""),
    ("GET", "/items", b"name=desk%20lamp", b""),
    ("POST", "/claims", b"", BODY),
]


async def call(app: FastAPI, method: str, path: str, query: bytes, body: bytes) -> int:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"content-type", b"application/json"), (b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def round_of(app: FastAPI, requests: int) -> dict[str, float]:
    """Microseconds per request of each kind."""
    out = {}
    for method, path, query, body in REQUESTS:
        assert await call(app, method, path, query, body) == 200
        started = time.perf_counter()
        for _ in range(requests):
            await call(app, method, path, query, body)
        out[f"{method} {path}"] = (time.perf_counter() - started) / requests * 1e6
    return out


async def main(requests: int, rounds: int) -> None:
    apps = {"plain": build(APIRouter()), "guarded": build(ApiRouter())}
    results: dict[str, dict[str, list[float]]] = {name: {} for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            for kind, micros in (await round_of(app, requests)).items():
                results[name].setdefault(kind, []).append(micros)
    print(f"{'request':<18} {'plain us':>9} {'guarded us':>11} {'ratio':>6}")
    for kind in results["plain"]:
        plain = statistics.median(results["plain"][kind])
        guarded = statistics.median(results["guarded"][kind])
        print(f"{kind:<18} {plain:>9.1f} {guarded:>11.1f} {guarded / plain:>6.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000, help="requests per kind per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
