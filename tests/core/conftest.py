"""A small app of test-only routes on top of the real core, to exercise it in isolation."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel
from sqlalchemy import select

from backoffice.app import create_app
from backoffice.core.auth.dependencies import CanCreate, CanDelete, CanRead
from backoffice.core.auth.models import Account
from backoffice.core.config import Settings
from backoffice.core.db import DbSession
from backoffice.core.envelope import Envelope, ok
from backoffice.core.errors import Conflict
from backoffice.core.pagination import Pagination, contains, paginate, sorting
from backoffice.core.routing import ApiRouter

UPLOAD_LIMIT = 4 * 1024 * 1024


class Item(BaseModel):
    name: str
    quantity: int


def build_probe_router() -> ApiRouter:
    router = ApiRouter(prefix="/api/v1/probe")

    @router.get("/read")
    async def read(principal: CanRead) -> Envelope[str]:
        return ok(principal.username)

    @router.post("/create", status_code=201)
    async def create(item: Item, _: CanCreate) -> Envelope[Item]:
        return ok(item, "Created", status_code=201)

    @router.post("/upload", status_code=201, max_body_size=UPLOAD_LIMIT)
    async def upload(item: Item, _: CanCreate) -> Envelope[Item]:
        """A route that takes larger bodies than the app's limit."""
        return ok(item, "Created", status_code=201)

    @router.delete("/delete")
    async def delete(_: CanDelete) -> Envelope[None]:
        return ok(None, "Deleted")

    @router.get("/conflict")
    async def conflict(_: CanRead) -> Envelope[None]:
        raise Conflict("Already there")

    @router.get("/boom")
    async def boom(_: CanRead) -> Envelope[None]:
        raise RuntimeError("secret internals /etc/passwd")

    sort_accounts = sorting({"username": Account.username, "id": Account.id}, default="id")

    @router.get("/accounts")
    async def list_accounts(
        session: DbSession,
        _: CanRead,
        page: Pagination,
        order: Annotated[list[Any], Depends(sort_accounts)],
        name: str | None = None,
    ) -> Envelope[list[str]]:
        statement = select(Account.username)
        if name:
            statement = statement.where(contains(Account.username, name))
        rows, info = await paginate(session, statement, page, order)
        return ok(rows, pagination=info)

    return router


def build_app(settings: Settings, database_url: str) -> FastAPI:
    app = create_app(settings, database_url=database_url)
    app.include_router(build_probe_router())
    return app


@pytest.fixture(scope="session")
async def probe_app(app: FastAPI, settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    probe_app = build_app(settings, database_url)
    probe_app.state.auth = app.state.auth  # one authenticator, so tests can watch its cache
    yield probe_app
    await probe_app.state.db.dispose()


@pytest.fixture
async def probe(probe_app: FastAPI, app: FastAPI, session) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the probe app sharing the test's rolled-back transaction."""
    probe_app.dependency_overrides.update(app.dependency_overrides)
    probe_app.state.auth_sessions = app.state.auth_sessions
    transport = httpx.ASGITransport(app=probe_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
    probe_app.dependency_overrides.clear()
