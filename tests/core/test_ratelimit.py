import sys
import time

import httpx

from backoffice.app import create_app
from backoffice.core.ratelimit import MemoryLimiter, RedisLimiter


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
