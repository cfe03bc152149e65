import re

import pytest
from pydantic import ValidationError

from backoffice.app import create_app
from backoffice.core.auth.service import Role, create_account
from backoffice.core.config import Settings, StartupRefused
from backoffice.savings.tokens import ensure_key_pair

PUBLIC = {"/health", "/ready", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
# A savings customer signs up, and trades their email and password for a token, with no
# credentials yet.
OPEN = {"/api/v1/savings/signup", "/api/v1/savings/login"}


def test_production_requires_database_url_and_a_real_secret():
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings(BACKOFFICE_ENV="production", BACKOFFICE_SECRET_KEY="x" * 40, DATABASE_URL=None)
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(BACKOFFICE_ENV="production", DATABASE_URL="postgresql://db/x")
    with pytest.raises(ValidationError, match="NATS_URL"):
        Settings(
            BACKOFFICE_ENV="production",
            DATABASE_URL="postgresql://db/x",
            BACKOFFICE_SECRET_KEY="s" * 40,
        )
    ok = Settings(
        BACKOFFICE_ENV="production",
        DATABASE_URL="postgresql://db/x",
        NATS_URL="nats://nats:4222",
        BACKOFFICE_SECRET_KEY="s" * 40,
    )
    assert ok.is_production


async def test_production_refuses_to_start_with_demo_credentials(
    settings, database_url, app, tmp_path
):
    keys = ensure_key_pair(tmp_path)
    prod = settings.model_copy(
        update={
            "env": "production",
            "secret_key": "p" * 48,
            "savings_token_private_key_file": keys.private_path,
            "savings_token_public_key_file": keys.public_path,
        }
    )
    prod_app = create_app(prod, database_url=database_url)
    async with app.state.db.unit_of_work() as session:
        await create_account(
            session, app.state.auth, username="admin", password="adminpass", role=Role.ADMIN
        )
    try:
        with pytest.raises(RuntimeError, match="demo passwords"):
            async with prod_app.router.lifespan_context(prod_app):
                pass
    finally:
        async with app.state.db.unit_of_work() as session:
            from sqlalchemy import text

            await session.execute(text("DELETE FROM accounts WHERE username = 'admin'"))


async def test_every_route_but_the_public_ones_requires_credentials(app, client):
    checked = 0
    for template, operations in app.openapi()["paths"].items():
        if template in PUBLIC | OPEN:
            continue
        path = re.sub(r"\{[^}]+\}", "1", template)
        for method in operations:
            response = await client.request(method.upper(), path)
            assert response.status_code == 401, (
                f"{method} {template} answered {response.status_code}"
            )
            assert "WWW-Authenticate" in response.headers
            checked += 1
    assert checked >= 2


async def test_ready_is_503_until_migrations_are_at_head(settings, empty_database_url):
    not_migrated = create_app(settings, database_url=empty_database_url)
    import httpx

    transport = httpx.ASGITransport(app=not_migrated, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.get("/ready")
            health = await http.get("/health")
        assert response.status_code == 503
        assert response.json()["errors"][0]["code"] == "migrations_pending"
        assert health.status_code == 200, "liveness does not depend on the database"
    finally:
        await not_migrated.state.db.dispose()


def test_production_refuses_a_savings_service_without_its_key_file(settings, database_url):
    prod = settings.model_copy(update={"env": "production", "secret_key": "p" * 48})
    with pytest.raises(StartupRefused, match="SAVINGS_TOKEN_PRIVATE_KEY_FILE"):
        create_app(prod, database_url=database_url)
    gateway = prod.model_copy(update={"service": "savings-gateway"})
    with pytest.raises(StartupRefused, match="SAVINGS_TOKEN_PUBLIC_KEY_FILE"):
        create_app(gateway)
