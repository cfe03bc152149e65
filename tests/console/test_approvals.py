"""The approvals pages in-process: the inbox, decisions, bulk approve, my expenses, the submit
form with its chain preview; figures compared with the API's for the same data."""

from __future__ import annotations

import csv
import html as html_text
import io
import re
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from backoffice.core.auth.service import Role
from tests.console.conftest import ConsoleClient
from tests.expenses.factories import Org, Person, add_person, make_company

Signer = Callable[[str], Awaitable[ConsoleClient]]


@pytest.fixture
async def acme(session, auth) -> Org:
    """A TechCorp-like company: Alice (level 1) .. Grace (level 7), the three demo policies."""
    return await make_company(session, auth)


def username(person: Person) -> str:
    return person.name.lower().replace(" ", "-")


async def as_(console_client: Signer, person: Person) -> ConsoleClient:
    return await console_client(username(person))


async def api_submit(
    client: httpx.AsyncClient, org: Org, who: str, policy: str, amount: str, text: str = "x"
) -> int:
    answer = await client.post(
        "/api/expenses",
        json={
            "user_id": org[who].id,
            "policy_id": org.policies[policy],
            "amount": amount,
            "description": text,
        },
        headers=org[who].headers,
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["expense_id"])


async def api_status(client: httpx.AsyncClient, org: Org, expense_id: int) -> dict[str, Any]:
    # Read as Grace, who submits every expense of these tests.
    answer = await client.get(f"/api/expenses/{expense_id}/status", headers=org["Grace"].headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def api_expenses(client: httpx.AsyncClient, org: Org, who: str) -> dict[str, Any]:
    answer = await client.get("/api/expenses?limit=200", headers=org[who].headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def shown_ids(html: str) -> list[int]:
    """The expenses a page links to, in order."""
    return [int(n) for n in re.findall(r'href="/console/approvals/expenses/(\d+)"', html)]


def field_error(html: str, name: str) -> str:
    found = re.search(rf'<p class="error" id="f-{re.escape(name)}-error">([^<]*)</p>', html)
    assert found is not None, f"no error next to {name}"
    return html_text.unescape(found.group(1))


# --- the inbox -------------------------------------------------------------------------------


async def test_the_inbox_lists_what_the_api_says_is_waiting(client, console_client, acme):
    first = await api_submit(client, acme, "Grace", "Large Equipment", "4000.00")
    second = await api_submit(client, acme, "Grace", "Business Travel", "120.50")
    api = (await client.get("/api/approvals/pending", headers=acme["Frank"].headers)).json()
    frank = await as_(console_client, acme["Frank"])
    page = await frank.get("/console/approvals/")
    assert page.status_code == 200
    assert shown_ids(page.text) == [i["expense_id"] for i in api["items"]] == [first, second]
    assert f"{api['pagination']['total']} steps waiting" in page.text
    assert "4,000.00" in page.text and "120.50" in page.text
    assert acme["Grace"].name in page.text
    # Eve's turn has not come: her inbox is empty, as the API says.
    eve = await as_(console_client, acme["Eve"])
    assert "Nothing is waiting for your approval." in (await eve.get("/console/approvals/")).text


async def test_approving_from_the_inbox_moves_the_expense_on(client, console_client, acme):
    expense = await api_submit(client, acme, "Grace", "Large Equipment", "4000.00")
    frank = await as_(console_client, acme["Frank"])
    answer = await frank.form(
        f"/console/approvals/{expense}/approve", {f"comment-{expense}": "Fine by me"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/approvals/"
    steps = (await api_status(client, acme, expense))["approvals"]
    assert [s["status"] for s in steps] == ["approved", "pending", "pending"]
    assert steps[0]["comments"] == "Fine by me"
    follow = await frank.get("/console/approvals/")
    assert f"Expense {expense}: your step 1 is approved" in follow.text
    assert expense not in shown_ids(follow.text)
    eve = await as_(console_client, acme["Eve"])
    assert shown_ids((await eve.get("/console/approvals/")).text) == [expense]


async def test_rejecting_needs_a_comment_said_next_to_it_and_writes_nothing(
    client, console_client, acme
):
    expense = await api_submit(client, acme, "Grace", "Large Equipment", "4000.00")
    frank = await as_(console_client, acme["Frank"])
    answer = await frank.form(f"/console/approvals/{expense}/reject", {f"comment-{expense}": " "})
    assert answer.status_code == 422
    assert "a comment is required to reject" in field_error(answer.text, f"comment-{expense}")
    assert (await api_status(client, acme, expense))["status"] == "pending"
    answer = await frank.form(
        f"/console/approvals/{expense}/reject", {f"comment-{expense}": "Not in budget"}
    )
    assert answer.status_code == 303
    status = await api_status(client, acme, expense)
    assert status["status"] == "rejected"
    assert [s["status"] for s in status["approvals"]] == ["rejected", "cancelled", "cancelled"]


async def test_not_your_turn_and_already_decided_are_said_plainly(client, console_client, acme):
    expense = await api_submit(client, acme, "Grace", "Large Equipment", "4000.00")
    eve = await as_(console_client, acme["Eve"])
    answer = await eve.form(f"/console/approvals/{expense}/approve")
    assert answer.status_code == 409
    assert "An earlier approver has not decided yet" in answer.text
    assert [s["status"] for s in (await api_status(client, acme, expense))["approvals"]] == [
        "pending"
    ] * 3
    frank = await as_(console_client, acme["Frank"])
    assert (await frank.form(f"/console/approvals/{expense}/approve")).status_code == 303
    again = await frank.form(f"/console/approvals/{expense}/approve")
    assert again.status_code == 409
    assert "You have already decided your step of this expense." in again.text
    grace = await as_(console_client, acme["Grace"])
    stranger = await grace.form(f"/console/approvals/{expense}/approve")
    assert stranger.status_code == 403
    assert "You are not an approver of this expense." in stranger.text


async def test_bulk_approve_says_which_were_approved_and_why_others_were_not(
    client, console_client, acme
):
    small = [
        await api_submit(client, acme, "Grace", "Small Equipment", f"{n}00.00") for n in (1, 2)
    ]
    large = await api_submit(client, acme, "Grace", "Large Equipment", "4000.00")
    travel = await api_submit(client, acme, "Grace", "Business Travel", "80.00")
    frank = await as_(console_client, acme["Frank"])
    assert (await frank.form(f"/console/approvals/{travel}/approve")).status_code == 303
    ticked = [*small, large, travel]
    page = await frank.post(
        "/console/approvals/bulk-approve",
        data={"csrf_token": frank.csrf, "expense_id": [str(i) for i in ticked]},
    )
    assert page.status_code == 200
    assert "3 approved, 1 not approved." in page.text
    rows = re.findall(
        r"Expense (\d+)</a></th>\s*<td>.*?(Approved|Not approved).*?</td>\s*<td>([^<]*)</td>",
        page.text,
        re.S,
    )
    results = {int(i): (result, why) for i, result, why in rows}
    assert results[small[0]] == ("Approved", "fully approved")
    assert results[small[1]] == ("Approved", "fully approved")
    assert results[large] == ("Approved", "step 1 approved; it moves on")
    assert results[travel] == (
        "Not approved",
        "You have already decided your step of this expense.",
    )
    for expense in small:
        assert (await api_status(client, acme, expense))["status"] == "approved"
    assert (await api_status(client, acme, large))["approvals"][0]["status"] == "approved"


async def test_bulk_approve_with_nothing_ticked_says_so_next_to_the_boxes(
    client, console_client, acme
):
    expense = await api_submit(client, acme, "Grace", "Small Equipment", "100.00")
    frank = await as_(console_client, acme["Frank"])
    answer = await frank.form("/console/approvals/bulk-approve")
    assert answer.status_code == 422
    assert field_error(answer.text, "expense_id") == "Tick at least one expense to approve."
    bad = await frank.form("/console/approvals/bulk-approve", {"expense_id": "1; drop"})
    assert bad.status_code == 422
    assert (await api_status(client, acme, expense))["status"] == "pending"


# --- who may do what -------------------------------------------------------------------------


async def test_every_form_refuses_a_post_without_the_csrf_token(client, console_client, acme):
    expense = await api_submit(client, acme, "Grace", "Small Equipment", "100.00")
    frank = await as_(console_client, acme["Frank"])
    for path, data in (
        (f"/console/approvals/{expense}/approve", {}),
        (f"/console/approvals/{expense}/reject", {f"comment-{expense}": "no"}),
        ("/console/approvals/bulk-approve", {"expense_id": str(expense)}),
    ):
        answer = await frank.post(path, data=data)
        assert answer.status_code == 403, path
        assert "came from another site" in answer.text
    assert (await api_status(client, acme, expense))["status"] == "pending"
    grace = await as_(console_client, acme["Grace"])
    before = (await api_expenses(client, acme, "Grace"))["pagination"]["total"]
    claim = {"policy_id": str(acme.policies["Small Equipment"]), "amount": "5", "description": "y"}
    answer = await grace.post("/console/approvals/submit", data=claim)
    assert answer.status_code == 403
    assert (await api_expenses(client, acme, "Grace"))["pagination"]["total"] == before


async def test_a_login_linked_to_no_employee_is_told_why_and_may_not_act(client, console_as, acme):
    expense = await api_submit(client, acme, "Grace", "Small Equipment", "100.00")
    for role in (Role.STAFF, Role.ADMIN):
        http = await console_as(role)
        for path in (
            "/console/approvals/",
            "/console/approvals/submit",
            "/console/approvals/expenses",
        ):
            page = await http.get(path)
            assert page.status_code == 200, path
            assert "Your login is not linked to an employee" in page.text
            assert 'action="/console/approvals/submit"' not in page.text
            assert "Approve" not in page.text
        claim = {"policy_id": str(acme.policies["Small Equipment"]), "amount": "5"}
        for path, data in (
            ("/console/approvals/submit", {**claim, "description": "y"}),
            (f"/console/approvals/{expense}/approve", {}),
            ("/console/approvals/bulk-approve", {"expense_id": str(expense)}),
        ):
            answer = await http.form(path, data)
            assert answer.status_code == 403, path
            assert "not linked to an employee" in answer.text
    assert (await api_status(client, acme, expense))["status"] == "pending"


async def test_an_employee_without_a_level_has_no_inbox(
    session, auth, client, console_client, acme
):
    intern = await add_person(session, auth, acme, "Ivan", None)
    http = await as_(console_client, intern)
    page = await http.get("/console/approvals/")
    assert page.status_code == 200
    assert "no expense is ever waiting for your" in page.text
    assert "bulk-approve" not in page.text


async def test_an_expense_of_someone_else_is_not_found(client, console_client, session, auth, acme):
    other = await make_company(session, auth)
    expense = await api_submit(client, acme, "Grace", "Small Equipment", "100.00")
    for stranger in (other["Frank"], acme["Alice"]):
        http = await as_(console_client, stranger)
        page = await http.get(f"/console/approvals/expenses/{expense}")
        assert page.status_code == 404
        assert "100.00" not in page.text


# --- my expenses -----------------------------------------------------------------------------


async def test_my_expenses_and_their_csv_equal_the_api(client, console_client, acme):
    made = [
        await api_submit(client, acme, "Grace", "Small Equipment", "100.00", "Keyboard"),
        await api_submit(client, acme, "Grace", "Business Travel", "812.40", "=HYPERLINK()"),
    ]
    api = await api_expenses(client, acme, "Grace")
    grace = await as_(console_client, acme["Grace"])
    page = await grace.get("/console/approvals/expenses")
    assert page.status_code == 200
    assert shown_ids(page.text) == [e["id"] for e in api["items"]] == made[::-1]
    assert "812.40" in page.text and "Keyboard" in page.text
    export = await grace.get("/console/approvals/expenses.csv")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [int(r["id"]) for r in rows] == [e["id"] for e in api["items"]]
    assert [Decimal(r["amount"]) for r in rows] == [Decimal(str(e["amount"])) for e in api["items"]]
    assert rows[0]["description"] == "'=HYPERLINK()"  # a spreadsheet does not run it
    pending = await grace.get("/console/approvals/expenses?status=approved")
    assert shown_ids(pending.text) == []
    assert (await grace.get("/console/approvals/expenses?status=nonsense")).status_code == 422


async def test_an_expense_page_shows_its_chain_as_a_timeline_and_its_audit_trail(
    client, console_client, acme
):
    expense = await api_submit(client, acme, "Grace", "Large Equipment", "4000.00", "A big screen")
    frank = await as_(console_client, acme["Frank"])
    await frank.form(f"/console/approvals/{expense}/approve", {f"comment-{expense}": "Good call"})
    grace = await as_(console_client, acme["Grace"])
    page = await grace.get(f"/console/approvals/expenses/{expense}")
    assert page.status_code == 200
    status = await api_status(client, acme, expense)
    steps = re.findall(r'<li class="step step-(\w+)">', page.text)
    assert steps == [s["status"] for s in status["approvals"]] == ["approved", "pending", "pending"]
    assert f"Approved by {acme['Frank'].name} on " in page.text
    assert f"Waiting for {acme['Eve'].name}" in page.text
    assert "Good call" in page.text and "4,000.00" in page.text
    audit = (
        await client.get(f"/api/expenses/{expense}/audit", headers=acme["Grace"].headers)
    ).json()
    trail = page.text.split('id="audit"', 1)[1]
    assert trail.count("<tr>") - 1 == len(audit["events"]) == 2
    assert "step approved" in trail and username(acme["Frank"]) in trail


# --- the submit form -------------------------------------------------------------------------


def claim(
    org: Org, policy: str, amount: str, action: str = "submit", text: str = "x"
) -> dict[str, str]:
    return {
        "policy_id": str(org.policies[policy]),
        "amount": amount,
        "description": text,
        "action": action,
    }


async def test_the_form_previews_the_chain_the_submission_then_fixes(client, console_client, acme):
    grace = await as_(console_client, acme["Grace"])
    form = await grace.get("/console/approvals/submit")
    assert form.status_code == 200
    assert "Large Equipment (equipment, 2000.00 or more)" in form.text
    preview = await grace.form(
        "/console/approvals/submit", claim(acme, "Large Equipment", "4000.00", "preview")
    )
    assert preview.status_code == 200
    names = [acme[n].name for n in ("Frank", "Eve", "David")]
    shown = re.findall(r"<strong>Step (\d)</strong>: ([^,]+),", preview.text)
    assert shown == [(str(i), n) for i, n in enumerate(names, start=1)]
    assert 'value="4000.00"' in preview.text  # the form keeps what was typed
    assert (await api_expenses(client, acme, "Grace"))["pagination"]["total"] == 0
    answer = await grace.form(
        "/console/approvals/submit", claim(acme, "Large Equipment", "4000.00")
    )
    assert answer.status_code == 303
    expense = int(answer.headers["location"].rsplit("/", 1)[1])
    status = await api_status(client, acme, expense)
    assert [a["approver_name"] for a in status["approvals"]] == names
    assert Decimal(str(status["amount"])) == Decimal("4000.00")
    page = await grace.get(answer.headers["location"])
    assert f"Expense {expense} submitted (pending); it waits for {names[0]}" in page.text


@pytest.mark.parametrize(
    ("policy", "amount", "text", "field", "message", "status"),
    [
        (
            "Small Equipment",
            "5000.00",
            "x",
            "amount",
            "outside the policy's range (0.01 to 1999.99)",
            400,
        ),
        (
            "Large Equipment",
            "10",
            "x",
            "amount",
            "outside the policy's range (2000.00 or more)",
            400,
        ),
        ("Small Equipment", "", "x", "amount", "Enter the amount", 422),
        ("Small Equipment", "ten", "x", "amount", "as a number", 422),
        ("Small Equipment", "-3", "x", "amount", "more than zero", 422),
        ("Small Equipment", "1.005", "x", "amount", "at most two decimals", 422),
        ("Small Equipment", "9" * 39, "x", "amount", "at most", 422),
        ("Small Equipment", "10", "", "description", "Say what the expense is for.", 422),
        ("Small Equipment", "10", "a\x00b", "description", "plain text", 422),
        (None, "10", "x", "policy_id", "Choose a policy.", 422),
    ],
)
async def test_a_refused_claim_is_said_next_to_its_field_and_writes_nothing(
    client, console_client, acme, policy, amount, text, field, message, status
):
    grace = await as_(console_client, acme["Grace"])
    data = {"policy_id": str(acme.policies[policy]) if policy else "", "amount": amount}
    for action in ("preview", "submit"):
        if field == "description" and action == "preview":
            continue  # a preview needs no description
        answer = await grace.form(
            "/console/approvals/submit", {**data, "description": text, "action": action}
        )
        assert answer.status_code == status, (action, answer.text[-2000:])
        assert message in field_error(answer.text, field)
    assert (await api_expenses(client, acme, "Grace"))["pagination"]["total"] == 0


async def test_a_policy_of_another_company_is_not_offered_nor_taken(
    client, console_client, session, auth, acme
):
    other = await make_company(session, auth)
    grace = await as_(console_client, acme["Grace"])
    form = await grace.get("/console/approvals/submit")
    assert f'value="{other.policies["Small Equipment"]}"' not in form.text
    answer = await grace.form("/console/approvals/submit", claim(other, "Small Equipment", "10"))
    assert answer.status_code == 404
    assert field_error(answer.text, "policy_id") == "Choose one of the policies listed."
    assert (await api_expenses(client, acme, "Grace"))["pagination"]["total"] == 0


async def test_the_forms_script_gets_the_chain_alone_for_what_is_typed(
    client, console_client, acme
):
    grace = await as_(console_client, acme["Grace"])
    policy = acme.policies["Large Equipment"]
    part = await grace.get(f"/console/approvals/submit/chain?policy_id={policy}&amount=4000.00")
    assert part.status_code == 200
    assert part.text.lstrip().startswith('<section class="panel chain-preview"')
    assert "<html" not in part.text
    shown = re.findall(r"<strong>Step (\d)</strong>: ([^,]+),", part.text)
    assert [name for _, name in shown] == [acme[n].name for n in ("Frank", "Eve", "David")]
    low = await grace.get(f"/console/approvals/submit/chain?policy_id={policy}&amount=12")
    assert "outside the policy&#39;s range (2000.00 or more)" in low.text
    bad = await grace.get(f"/console/approvals/submit/chain?policy_id={policy}&amount=lots")
    assert "Enter the amount as a number" in bad.text
    empty = await grace.get("/console/approvals/submit/chain")
    assert "then <strong>Preview approvers</strong>" in empty.text
    assert (await api_expenses(client, acme, "Grace"))["pagination"]["total"] == 0


async def test_a_comment_too_long_is_said_next_to_it_and_nothing_is_approved(
    client, console_client, acme
):
    expense = await api_submit(client, acme, "Grace", "Small Equipment", "100.00")
    frank = await as_(console_client, acme["Frank"])
    long = "why " * 600
    answer = await frank.form(f"/console/approvals/{expense}/approve", {f"comment-{expense}": long})
    assert answer.status_code == 422
    assert field_error(answer.text, f"comment-{expense}") == "At most 2000 characters."
    assert "why why" in answer.text  # what was typed is kept (cut to the bound)
    assert (await api_status(client, acme, expense))["status"] == "pending"


async def test_admins_and_managers_read_any_expense_of_their_view_staff_do_not(
    client, console_as, acme
):
    expense = await api_submit(client, acme, "Grace", "Small Equipment", "100.00", "Mouse")
    api = await api_status(client, acme, expense)
    for role, seen in ((Role.ADMIN, 200), (Role.MANAGER, 200), (Role.STAFF, 404)):
        http = await console_as(role)
        page = await http.get(f"/console/approvals/expenses/{expense}")
        assert page.status_code == seen, role
        assert ("Mouse" in page.text) is (seen == 200)
        if seen == 200:
            assert api["user_name"] in page.text and "100.00" in page.text


async def test_a_digit_that_is_no_number_is_a_plain_refusal_not_a_500(console_client, acme):
    grace = await as_(console_client, acme["Grace"])
    chain = await grace.get("/console/approvals/submit/chain?policy_id=%C2%B2&amount=10")
    assert chain.status_code in (200, 422), chain.status_code
    submit = await grace.form(
        "/console/approvals/submit",
        {"policy_id": "\N{SUPERSCRIPT TWO}", "amount": "10.00", "description": "x"},
    )
    assert submit.status_code == 422 and "Choose one of the policies listed." in submit.text
    frank = await as_(console_client, acme["Frank"])
    bulk = await frank.form(
        "/console/approvals/bulk-approve", {"expense_id": "\N{SUPERSCRIPT TWO}"}
    )
    assert bulk.status_code < 500, bulk.status_code
