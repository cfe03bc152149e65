"""The console's home: what waits for me, my expenses in flight, the loaders' last runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backoffice.core.auth.service import Role
from backoffice.ingest.models import ImportRun
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from tests.expenses.factories import make_company


def username(person) -> str:
    first, tag = person.name.split(" ")
    return f"{first.lower()}-{tag}"


async def test_the_home_shows_my_inbox_and_my_expenses_as_the_api_counts_them(
    client, session, auth, console_client
):
    company = await make_company(session, auth)
    grace, frank = company["Grace"], company["Frank"]
    for amount in ("2500.00", "3000.00"):
        submitted = await client.post(
            "/api/expenses",
            headers=grace.headers,
            json={
                "user_id": grace.id,
                "policy_id": company.policies["Large Equipment"],
                "amount": amount,
                "description": "Monitors",
            },
        )
        assert submitted.status_code == 201, submitted.text
    api = (await client.get("/api/approvals/pending", headers=frank.headers)).json()
    assert api["pagination"]["total"] == 2

    frank_home = (await (await console_client(username(frank))).get("/console/")).text
    assert '<p class="figure">2</p>' in frank_home
    for item in api["items"]:
        assert f'href="/console/approvals/expenses/{item["expense_id"]}"' in frank_home
    grace_home = (await (await console_client(username(grace))).get("/console/")).text
    assert "My expenses in flight" in grace_home
    assert grace_home.count('href="/console/approvals/expenses/') == 2
    assert "Nothing waits for you." in grace_home


async def test_a_login_that_is_no_employee_is_told_so(console_as):
    page = await (await console_as(Role.ADMIN)).get("/console/")
    assert page.status_code == 200
    assert "not linked to an employee" in page.text
    assert "Waiting for my approval" not in page.text


async def test_the_home_shows_the_last_import_and_what_loaded_since_yesterday(session, console_as):
    now = datetime.now(UTC)
    for name, started, inserted, status in (
        ("activities_20240101.csv", now - timedelta(days=3), 500, "succeeded"),
        ("activities_20240102.csv", now - timedelta(hours=2), 70, "succeeded"),
        ("activities_20240103.csv", now - timedelta(hours=1), 0, "failed"),
    ):
        session.add(
            ImportRun(
                dataset=MERCHANT_ACTIVITIES.name,
                file_name=name,
                file_size=10,
                rows_read=inserted,
                inserted=inserted,
                duplicates=0,
                rejected=3,
                flagged=0,
                conflicting=0,
                started_at=started,
                finished_at=started,
                status=status,
            )
        )
    await session.flush()
    page = (await (await console_as(Role.STAFF)).get("/console/")).text
    merchants = page.split("Last merchant import", 1)[1].split("</section>", 1)[0]
    assert "activities_20240103.csv" in merchants and ">failed<" in merchants
    assert (
        "<strong>2</strong> files, 70 rows loaded, 6 rejected, <strong>1 failed</strong>"
        in " ".join(merchants.split())
    )
