async def test_health_answers_without_credentials(client):
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["data"]["status"] == "ok"


async def test_ready_when_migrated(client):
    response = await client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["database"] == "ok"
