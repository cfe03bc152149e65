"""The gateway before its services are connected (the test app runs no lifespan)."""

from __future__ import annotations

import uuid

from backoffice.savings.keys import signing_key
from backoffice.savings.tokens import TokenSigner


async def test_a_customer_request_before_the_services_connect_is_a_503(app, client):
    token, _ = TokenSigner(signing_key(app.state.settings), ttl_seconds=60).issue(
        uuid.uuid4(), "early@example.com"
    )
    response = await client.get(
        "/api/v1/savings/balance", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 503
    assert "not connected" in response.json()["message"]
