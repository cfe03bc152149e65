async def test_success_envelope_shape(probe, admin):
    response = await probe.post(
        "/api/v1/probe/create", json={"name": "pen", "quantity": 2}, headers=admin
    )
    assert response.status_code == 201
    assert response.json() == {
        "status": "success",
        "status_code": 201,
        "message": "Created",
        "data": {"name": "pen", "quantity": 2},
        "errors": None,
        "pagination": None,
    }


async def test_validation_errors_list_each_field(probe, admin):
    response = await probe.post("/api/v1/probe/create", json={"quantity": "many"}, headers=admin)
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == "error"
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"name", "quantity"}


async def test_malformed_json_is_422_in_envelope(probe, admin):
    response = await probe.post(
        "/api/v1/probe/create",
        content=b"{not json",
        headers={**admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["status"] == "error"


async def test_404_405_409_come_in_the_envelope(probe, admin):
    missing = await probe.get("/api/v1/nothing-here", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["status_code"] == 404
    wrong_method = await probe.put("/api/v1/probe/read", headers=admin)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["status"] == "error"
    conflict = await probe.get("/api/v1/probe/conflict", headers=admin)
    assert conflict.status_code == 409
    assert conflict.json()["errors"][0] == {
        "field": None,
        "message": "Already there",
        "code": "conflict",
    }


async def test_500_never_leaks_internals(probe, admin):
    response = await probe.get("/api/v1/probe/boom", headers=admin)
    assert response.status_code == 500
    body = response.json()
    assert body["status"] == "error"
    assert body["message"] == "Internal server error"
    assert "passwd" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["X-Request-ID"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_legacy_paths_keep_detail_and_code(client):
    response = await client.get("/api/expenses/does-not-exist/at-all/really")
    assert response.status_code in (401, 404)
    body = response.json()
    assert set(body) >= {"detail", "code"}
    assert "status" not in body


async def test_request_id_is_echoed_or_generated(client):
    echoed = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"
    generated = await client.get("/health")
    assert len(generated.headers["X-Request-ID"]) == 32
    hostile = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert hostile.headers["X-Request-ID"] != "bad id\twith spaces"


async def test_security_headers_and_timing(client):
    response = await client.get("/health")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "max-age" in response.headers["Strict-Transport-Security"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["X-Process-Time"].endswith("ms")


async def test_docs_are_public_and_not_locked_down_by_csp(client):
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "Content-Security-Policy" not in docs.headers
    schema = await client.get("/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/auth/token" in schema.json()["paths"]
