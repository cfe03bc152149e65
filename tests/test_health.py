from pathlib import Path

import httpx

from backoffice.app import create_app
from tests.live import embedded_nats, nats_settings


async def test_health_answers_without_credentials(client):
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["data"]["status"] == "ok"


async def test_ready_until_the_services_are_connected_is_503(client):
    response = await client.get("/ready")  # the test app runs no lifespan: nothing connected
    assert response.status_code == 503
    assert response.json()["errors"][0]["code"] == "broker_unavailable"


async def test_ready_when_migrated_and_connected(settings, database_url, tmp_path: Path):
    nats = embedded_nats(tmp_path / "nats")  # its own: nothing else answers its subjects
    nats.start()
    app = create_app(settings.model_copy(update=nats_settings(nats)), database_url)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                response = await http.get("/ready")
    finally:
        nats.stop()
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["database"] == "ok"
    assert set(data["checks"]) == {
        "database",
        "savings-users",
        "savings-accounting",
        "savings-gateway",
    }
