"""Per-client rate limiting: a fixed one-minute window, in memory or shared through Redis."""

from __future__ import annotations

import math
import time
from typing import Protocol

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from backoffice.core.envelope import error_response

EXEMPT_PATHS = frozenset({"/health", "/ready"})
WINDOW_SECONDS = 60


class Limiter(Protocol):
    """Counts hits of a client in the current window."""

    async def hit(self, key: str, limit: int) -> float | None:
        """Record a hit; return None if allowed, else the seconds until the window resets."""
        ...


class MemoryLimiter:
    """One process's counters: right for a single worker, and the default."""

    def __init__(self) -> None:
        self._window = -1
        self._counts: dict[str, int] = {}

    async def hit(self, key: str, limit: int) -> float | None:
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        if window != self._window:  # a new window: forget the old counters at once
            self._window, self._counts = window, {}
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        if count <= limit:
            return None
        return (window + 1) * WINDOW_SECONDS - now


class RedisLimiter:
    """Counters in Redis, so that every worker behind a load balancer shares one limit."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)

    async def hit(self, key: str, limit: int) -> float | None:
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        name = f"backoffice:rl:{window}:{key}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, WINDOW_SECONDS + 1)
            count, _ = await pipe.execute()
        if int(count) <= limit:
            return None
        return (window + 1) * WINDOW_SECONDS - now


class RateLimitMiddleware:
    """Answer 429 with `Retry-After` once a client passes `limit` requests in a minute."""

    def __init__(self, app: ASGIApp, *, limit: int, limiter: Limiter) -> None:
        self.app = app
        self.limit = limit
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0 or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        key = client[0] if client else "unknown"
        retry_after = await self.limiter.hit(key, self.limit)
        if retry_after is None:
            await self.app(scope, receive, send)
            return
        response = error_response(
            Request(scope),
            429,
            "rate_limited",
            f"Rate limit of {self.limit} requests per minute exceeded",
            headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
        )
        await response(scope, receive, send)
