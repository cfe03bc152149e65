from tests.core.conftest import UPLOAD_LIMIT


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


async def test_error_style_follows_the_route_not_the_url(client, admin):
    """The seed routes keep `{"detail", "code"}`; a path no route serves gets core's envelope."""
    for answer in (
        await client.get("/api/expenses/1/status"),  # anonymous: 401
        await client.get("/api/expenses/abc/status", headers=admin),  # 422
        await client.put("/api/expenses/1/status", headers=admin),  # 405
        await client.get("/api/approvals/pending?limit=0", headers=admin),  # 422
    ):
        assert answer.status_code in (401, 405, 422), answer.text
        assert set(answer.json()) >= {"detail", "code"}, answer.text
        assert "status" not in answer.json()
    policies = await client.get("/api/v1/expense-policies?limit=0", headers=admin)
    assert policies.status_code == 422
    assert policies.json()["status"] == "error"  # same context, envelope router
    unknown = await client.get("/api/expenses/does-not-exist/at-all/really", headers=admin)
    assert unknown.status_code == 404
    assert unknown.json()["status"] == "error"


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


async def test_a_route_may_take_larger_bodies_than_the_app(probe, admin):
    padded = b'{"name": "big", "quantity": 1' + b" " * (2 * UPLOAD_LIMIT // 4) + b"}"
    headers = {**admin, "Content-Type": "application/json"}
    taken = await probe.post("/api/v1/probe/upload", content=padded, headers=headers)
    assert taken.status_code == 201, taken.text
    elsewhere = await probe.post("/api/v1/probe/create", content=padded, headers=headers)
    assert elsewhere.status_code == 413, elsewhere.text
    too_big = b'{"name": "big", "quantity": 1' + b" " * UPLOAD_LIMIT + b"}"
    refused = await probe.post("/api/v1/probe/upload", content=too_big, headers=headers)
    assert refused.status_code == 413, refused.text
    assert str(UPLOAD_LIMIT) in refused.json()["message"]
