"""The console under input no browser would send: a clear page, never a 500 or a session."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.core.auth.service import Role

HOSTILE = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@HOSTILE
@given(
    body=st.binary(max_size=2000),
    kind=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "multipart/form-data; boundary=x",
            "text/plain",
            "application/json",
        ]
    ),
)
async def test_any_body_posted_to_the_sign_in_form_is_refused_cleanly(client, body, kind):
    answer = await client.post("/console/sign-in", content=body, headers={"Content-Type": kind})
    assert answer.status_code in (400, 403, 413, 422), (answer.status_code, answer.text[:200])
    assert answer.headers["content-type"].startswith("text/html")
    assert "backoffice_console=" not in answer.headers.get("set-cookie", "")


@HOSTILE
@given(
    fields=st.dictionaries(
        st.sampled_from(["csrf_token", "username", "password", "next", "x"]),
        st.text(max_size=300),
        max_size=5,
    )
)
async def test_any_form_a_signed_in_visitor_posts_to_sign_out_is_answered_cleanly(
    console_as, fields
):
    http = await console_as(Role.STAFF)
    answer = await http.post("/console/sign-out", data=fields)
    assert answer.status_code in (303, 403), answer.status_code


async def test_a_body_over_the_limit_is_a_page(client):
    answer = await client.post(
        "/console/sign-in",
        content=b"a=" + b"x" * 2_000_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")


async def test_a_method_a_page_does_not_take_is_a_405_page_with_allow(client):
    answer = await client.put("/console/sign-in")
    assert answer.status_code == 405
    assert set(answer.headers["allow"].split(", ")) == {"GET", "POST"}
    assert answer.headers["content-type"].startswith("text/html")


async def test_odd_paths_and_queries_are_clean_refusals(client):
    for path in (
        "/console/sign-in?next=%00",
        "/console/%00",
        "/console/sign-in?next=" + "a" * 5000,
        "/console/static/%2e%2e%2fweb.py",
    ):
        answer = await client.get(path)
        assert answer.status_code in (200, 404, 422), (path, answer.status_code)
        assert answer.headers["content-type"].startswith("text/html"), path
