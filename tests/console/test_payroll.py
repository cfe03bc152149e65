"""The payroll pages in-process: each page's status, and the figures shown equal the API's."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest

from backoffice.core.auth.service import Role
from tests.conftest import make_account
from tests.payroll.factories import make_country, make_employee, snapshot

MINUS = "\N{MINUS SIGN}"  # how the page writes a deduction
UK_BANDS_2022: list[dict[str, Any]] = [
    {"from": "0", "to": "12570", "rate": "0"},
    {"from": "12570", "to": "50270", "rate": "20"},
    {"from": "50270", "to": "150000", "rate": "40"},
    {"from": "150000", "to": None, "rate": "45"},
]
UK_BANDS_2023: list[dict[str, Any]] = [
    *UK_BANDS_2022[:2],
    {"from": "50270", "to": "125140", "rate": "40"},
]
UK_BANDS_2023.append({"from": "125140", "to": None, "rate": "45"})


class Tables(HTMLParser):
    """Every table of a page: caption -> rows of cell texts (header row included)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._rows: list[list[str]] | None = None
        self._caption: list[str] | None = None
        self._cell: list[str] | None = None
        self._name = ""

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "table":
            self._rows, self._name = [], f"table {len(self.tables) + 1}"
        elif tag == "caption":
            self._caption = []
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption" and self._caption is not None:
            self._name = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag in ("td", "th") and self._cell is not None and self._rows:
            self._rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._rows is not None:
            self.tables[self._name] = self._rows
            self._rows = None

    def handle_data(self, data: str) -> None:
        for part in (self._caption, self._cell):
            if part is not None:
                part.append(data)


def tables(page: str) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(page)
    return parser.tables


def money(value: float | None) -> str:
    return "—" if value is None else f"{Decimal(str(value)):,.2f}"


def minus(value: float) -> str:
    """A deduction as the breakdown writes it: a minus sign unless it is zero."""
    return f"{MINUS}{money(value)}" if value else money(value)


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.fixture
async def payroll(session):
    """GB with two policy versions (bands), India with a flat TDS, and five employees."""
    await make_country(
        session,
        "GB",
        currency="GBP",
        current_deduction=0,
        tax_slabs=UK_BANDS_2022,
        effective_from=date(2022, 4, 6),
    )
    await make_country(
        session,
        "GB",
        currency="GBP",
        current_deduction=0,
        tax_slabs=UK_BANDS_2023,
        effective_from=date(2023, 4, 6),
    )
    await make_country(session, "IN", current_deduction=10, effective_from=date(2020, 1, 1))
    people = {}
    for name, title, iso, salary in (
        ("Olive Stone", "Engineer", "GB", "140000.00"),
        ("Sam Turner", "Accountant", "GB", "48000.00"),
        ("Asha Rao", "Engineer", "IN", "1800000.00"),
        ("Vik Mehta", "Analyst", "IN", "950000.00"),
        ("=Formula Person", "Analyst", "IN", "500000.00"),
    ):
        people[name] = await make_employee(
            session, full_name=name, job_title=title, country_iso=iso, salary=Decimal(salary)
        )
    return people


@pytest.fixture
async def reader(console_as):
    return await console_as(Role.STAFF)


@pytest.fixture
async def api(session, auth):
    return await make_account(session, auth, Role.STAFF)


async def test_every_payroll_page_opens_for_a_reader(reader, payroll):
    olive = payroll["Olive Stone"].id
    for path in (
        "/console/payroll/employees",
        "/console/payroll/employees.csv",
        f"/console/payroll/employees/{olive}",
        f"/console/payroll/employees/{olive}?as_of=2023-01-01",
        "/console/payroll/countries",
        "/console/payroll/countries/GB",
        "/console/payroll/countries/gb",
        "/console/payroll/analytics",
        "/console/payroll/analytics?metric=avg&country=IN&sort=name",
    ):
        answer = await reader.get(path)
        assert answer.status_code == 200, (path, answer.text[:500])


async def test_the_sections_address_leads_to_the_employee_list(reader, payroll):
    answer = await reader.get("/console/payroll/?country=GB&sort=-salary")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/payroll/employees?country=GB&sort=-salary"
    listed = await reader.get(answer.headers["location"])
    assert names_listed(listed.text) == ["Olive Stone", "Sam Turner"]


async def test_unknown_employee_and_country_are_404_pages(reader, payroll):
    for path in (
        "/console/payroll/employees/999999999",
        "/console/payroll/employees/9999999999",  # past the id column's range
        "/console/payroll/employees/%C2%B9",
        "/console/payroll/employees/abc",
        "/console/payroll/employees/0",
        "/console/payroll/countries/ZZ",
        "/console/payroll/countries/GBR",
    ):
        answer = await reader.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html")


async def test_signed_out_visitors_go_to_sign_in(console_clients, payroll):
    answer = await console_clients().get("/console/payroll/analytics")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/sign-in")


# --- the employee list -----------------------------------------------------------------------


def names_listed(page: str) -> list[str]:
    found = [t for t in tables(page).values() if t and t[0][:2] == ["Name", "Job title"]]
    return [row[0] for row in found[0][1:]] if found else []


async def test_filters_sort_and_pages_match_the_api(reader, client, api, payroll):
    query = "country=IN&sort=-salary&limit=25"
    page = await reader.get(f"/console/payroll/employees?{query}")
    listed = await client.get(
        "/api/v1/employees/list?country_iso=IN&sort=-salary&limit=25", headers=api
    )
    assert names_listed(page.text) == [e["full_name"] for e in listed.json()["data"]]
    assert names_listed(page.text) == ["Asha Rao", "Vik Mehta", "=Formula Person"]
    # Salaries are shown as the API gives them, in the country's currency.
    assert f"INR {money(listed.json()['data'][0]['salary'])}" in text_of(page.text)
    titled = await reader.get("/console/payroll/employees?job_title=Analyst&name=vik")
    assert names_listed(titled.text) == ["Vik Mehta"]
    ranged = await reader.get("/console/payroll/employees?min_salary=48,000&max_salary=500000")
    assert sorted(names_listed(ranged.text)) == ["=Formula Person", "Olive Stone", "Sam Turner"]


async def test_the_list_pages_on_the_server(reader, payroll, session):
    for i in range(27):
        await make_employee(session, full_name=f"Pager {i:02}", job_title="Pager")
    first = await reader.get("/console/payroll/employees?job_title=Pager&sort=full_name&limit=25")
    assert names_listed(first.text)[:2] == ["Pager 00", "Pager 01"]
    assert len(names_listed(first.text)) == 25
    assert "1\N{EN DASH}25 of 27" in first.text
    nxt = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert nxt is not None
    second = await reader.get(html.unescape(nxt.group(1)))
    assert names_listed(second.text) == ["Pager 25", "Pager 26"]
    assert 'rel="next"' not in second.text and 'rel="prev"' in second.text


async def test_the_list_counts_so_far_and_says_more_than(reader, payroll, session, monkeypatch):
    from backoffice.console import payroll as pages

    monkeypatch.setattr(pages, "COUNT_AT_MOST", 30)
    for i in range(60):
        await make_employee(session, full_name=f"Many {i:02}", job_title="Many")
    first = await reader.get("/console/payroll/employees?job_title=Many&limit=25")
    assert "1\N{EN DASH}25 of more than 30" in first.text
    assert 'rel="next"' in first.text
    # Past the bound, the count goes on to the page's end: the next page is still offered.
    third = await reader.get("/console/payroll/employees?job_title=Many&limit=25&offset=25")
    assert "26\N{EN DASH}50 of more than 50" in third.text and 'rel="next"' in third.text
    last = await reader.get("/console/payroll/employees?job_title=Many&limit=25&offset=50")
    assert "51\N{EN DASH}60 of 60" in last.text and 'rel="next"' not in last.text
    exact = await reader.get("/console/payroll/employees?job_title=Many&limit=100")
    assert "1\N{EN DASH}60 of 60" in exact.text  # a short page knows its total


async def test_the_company_filter(reader, session, payroll):
    from backoffice.org import service as org_service

    company = await org_service.create_company(session, {"name": "Filter Works Ltd"})
    await make_employee(session, full_name="Cora Works", company_id=company.id)
    page = await reader.get(f"/console/payroll/employees?company={company.id}")
    assert names_listed(page.text) == ["Cora Works"]
    assert f'<option value="{company.id}" selected>Filter Works Ltd</option>' in page.text


async def test_countries_export_as_csv(reader, client, api, payroll):
    answer = await reader.get("/console/payroll/countries.csv?currency=GBP")
    rows = list(csv.reader(io.StringIO(answer.text)))
    gb = (await client.get("/api/v1/countries/GB", headers=api)).json()["data"]
    assert rows[0][:4] == ["iso_code", "name", "currency", "policy_version"]
    assert rows[1:] == [
        ["GB", gb["name"], "GBP", str(gb["current_policy"]["version"]), "2023-04-06", "0", "", "4"]
    ]
    assert (await reader.get("/console/payroll/countries.csv?currency=1")).status_code == 422


async def test_csv_export_has_the_lists_filters_and_order(reader, payroll):
    answer = await reader.get("/console/payroll/employees.csv?country=in&sort=salary")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0][:5] == ["id", "full_name", "job_title", "country_iso", "salary"]
    assert [r[1] for r in rows[1:]] == ["'=Formula Person", "Vik Mehta", "Asha Rao"]
    assert [r[4] for r in rows[1:]] == ["500000.00", "950000.00", "1800000.00"]
    page = await reader.get("/console/payroll/employees?country=IN&sort=salary")
    assert 'href="/console/payroll/employees.csv?country=IN&amp;sort=salary"' in page.text


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("country=ZZ", "country", "There is no country ZZ"),
        ("country=G1", "country", "Choose a country"),
        ("min_salary=lots", "min_salary", "Write an amount"),
        ("min_salary=10.123", "min_salary", "at most 2 decimals"),
        ("min_salary=9000&max_salary=100", "max_salary", "must not be below"),
        ("max_salary=99999999999999", "max_salary", "Write an amount"),
        ("sort=password", "sort", "Choose one of the orders"),
        ("active=maybe", "active", "Choose anyone"),
        ("limit=5000", "limit", "rows per page"),
        ("offset=-1", "offset", "whole number"),
        ("name=" + "x" * 300, "name", "at most 200 characters"),
        ("company=abc", "company", "Choose a company"),
        ("company=99999999", "company", "There is no company 99999999"),
    ],
)
async def test_bad_filters_are_a_422_page_saying_what_is_wrong(
    reader, payroll, query, field, words
):
    for path in ("/console/payroll/employees", "/console/payroll/employees.csv"):
        answer = await reader.get(f"{path}?{query}")
        assert answer.status_code == 422, (path, query)
        assert answer.headers["content-type"].startswith("text/html")
        assert words.lower() in text_of(answer.text).lower(), text_of(answer.text)[:800]
        if field != "offset":
            assert f'id="f-{field}-error"' in answer.text
        assert names_listed(answer.text) == []


# --- an employee's breakdown -----------------------------------------------------------------


def breakdown_rows(page: str) -> list[list[str]]:
    found = [rows for name, rows in tables(page).items() if name.startswith("Breakdown as of")]
    assert found, "no breakdown table"
    return found[0][1:]


@pytest.mark.parametrize(("as_of", "version"), [("2023-01-01", 1), ("2024-06-30", 2)])
async def test_the_breakdown_equals_the_apis_and_says_which_version(
    reader, client, api, payroll, as_of, version
):
    olive = payroll["Olive Stone"].id
    page = await reader.get(f"/console/payroll/employees/{olive}?as_of={as_of}")
    expected = (
        await client.get(f"/api/v1/employees/salary-breakdown/{olive}?as_of={as_of}", headers=api)
    ).json()["data"]
    rows = breakdown_rows(page.text)
    annual, monthly = expected["annual"], expected["monthly"]
    assert rows[0] == ["Gross salary", money(annual["gross"]), money(monthly["gross"]), "", ""]
    lines = list(zip(annual["deductions"], monthly["deductions"], strict=True))
    assert len(rows) == len(lines) + 3
    for row, (year, month) in zip(rows[1:], lines, strict=False):
        assert row[0] == year["name"]
        assert row[1:3] == [minus(year["amount"]), minus(month["amount"])]
        assert row[3] == f"{Decimal(str(year['rate'])).normalize():f}%"
        assert row[4] == money(year["basis"])
    assert rows[-2][1:3] == [
        minus(annual["total_deductions"]),
        minus(monthly["total_deductions"]),
    ]
    assert rows[-1] == ["Net salary", money(annual["net"]), money(monthly["net"]), "", ""]
    words = text_of(page.text)
    assert expected["policy"]["version"] == version
    assert f"tax policy, version {version}" in words
    assert f"in force from {expected['policy']['effective_from']}" in words
    if version == 1:
        assert "to 2023-04-05" in words
        assert "as the next version takes effect on 2023-04-06" in words
    else:
        assert "it is still in force" in words


async def test_a_date_before_any_policy_is_said_in_plain_words(reader, payroll):
    olive = payroll["Olive Stone"].id
    answer = await reader.get(f"/console/payroll/employees/{olive}?as_of=2001-02-03")
    assert answer.status_code == 200
    assert "No version applies on 2001-02-03: the first one takes effect on 2022-04-06" in (
        text_of(answer.text)
    )
    assert 'id="f-as_of-error"' in answer.text
    assert not [n for n in tables(answer.text) if n.startswith("Breakdown")]


@pytest.mark.parametrize(
    ("as_of", "words"),
    [
        ("yesterday", "Write a date as YYYY-MM-DD"),
        ("2024-02-30", "Write a date as YYYY-MM-DD"),
        ("0001-01-01", "between 1900-01-01 and 2199-12-31"),
        ("9999-12-31", "between 1900-01-01 and 2199-12-31"),
        ("2024-01-01T00:00", "Write a date"),
    ],
)
async def test_a_bad_date_is_a_422_next_to_the_picker(reader, payroll, as_of, words):
    olive = payroll["Olive Stone"].id
    answer = await reader.get(f"/console/payroll/employees/{olive}", params={"as_of": as_of})
    assert answer.status_code == 422
    assert words in text_of(answer.text)
    assert 'id="f-as_of-error"' in answer.text


# --- countries and their policy history ------------------------------------------------------


async def test_countries_list_the_policy_in_force_as_the_api_does(reader, client, api, payroll):
    page = await reader.get("/console/payroll/countries")
    api_rows = (await client.get("/api/v1/countries/list", headers=api)).json()["data"]
    shown = tables(page.text)["Countries, with the tax policy in force today"][1:]
    assert [r[0] for r in shown] == [f"{c['name']} ({c['iso_code']})" for c in api_rows]
    for row, country in zip(shown, api_rows, strict=True):
        assert row[2] == str(country["current_policy"]["version"])
        assert row[5] == str(len(country["tax_slabs"]))
    filtered = await reader.get("/console/payroll/countries?currency=gbp")
    assert [
        r[0] for r in tables(filtered.text)["Countries, with the tax policy in force today"][1:]
    ] == ["United Kingdom (GB)"]
    bad = await reader.get("/console/payroll/countries?currency=POUNDS&sort=x")
    assert bad.status_code == 422
    assert "three-letter code" in text_of(bad.text)


async def test_a_countrys_history_equals_the_apis(reader, client, api, payroll):
    page = await reader.get("/console/payroll/countries/GB")
    history = (await client.get("/api/v1/countries/GB/policies", headers=api)).json()["data"]
    words = text_of(page.text)
    assert "In force from 2022-04-06 to 2023-04-05." in words
    assert "In force from 2023-04-06 onwards." in words
    shown = tables(page.text)
    for version in history:
        bands = shown[f"Tax bands of version {version['version']}"][1:]
        assert [[r[1], r[2], r[3]] for r in bands] == [
            [
                money(s["from"]),
                money(s["to"]) if s["to"] is not None else "and above",
                f"{Decimal(str(s['rate'])).normalize():f}%",
            ]
            for s in version["tax_slabs"]
        ]
    stats = (await client.get("/api/v1/analytics/salary/by-country/GB", headers=api)).json()
    assert f"{money(stats['data']['avg'])}" in words


# --- analytics -------------------------------------------------------------------------------


async def test_analytics_figures_equal_the_apis(reader, client, api, payroll):
    page = await reader.get("/console/payroll/analytics?sort=name")
    shown = tables(page.text)
    by_country = (
        await client.get("/api/v1/analytics/salary/by-country?sort=country_iso", headers=api)
    ).json()["data"]
    rows = shown["Employees by country"][1:]
    assert [r[0][-3:-1] for r in rows] == [c["country_iso"] for c in by_country]
    for row, c in zip(rows, by_country, strict=True):
        assert row[2:] == [
            f"{c['count']:,}",
            money(c["min"]),
            money(c["max"]),
            money(c["avg"]),
            money(c["total"]),
        ]
    by_title = (
        await client.get("/api/v1/analytics/salary/by-job-title?sort=job_title", headers=api)
    ).json()["data"]
    title_rows = shown["Employees by job title"][1:]
    assert title_rows == [
        [t["job_title"], f"{t['count']:,}", *(money(t[k]) for k in ("min", "max", "avg", "total"))]
        for t in by_title
    ]
    # The chart draws the same numbers: each bar's value is printed beside it in the SVG.
    drawing = page.text.split('<figure class="chart">')[1].split("</svg>")[0]
    for c in by_country:
        assert f">{c['count']:,}<" in drawing or f">{c['count']}<" in drawing


async def test_analytics_within_a_country_and_by_average(reader, client, api, payroll):
    page = await reader.get("/console/payroll/analytics?metric=avg&country=in&sort=-avg")
    assert page.status_code == 200
    shown = tables(page.text)["Average salary by job title in India"][1:]
    api_rows = (
        await client.get(
            "/api/v1/analytics/salary/by-job-title?country_iso=IN&sort=-avg", headers=api
        )
    ).json()["data"]
    assert [r[0] for r in shown] == [t["job_title"] for t in api_rows] == ["Engineer", "Analyst"]
    assert [r[4] for r in shown] == [money(t["avg"]) for t in api_rows]
    for bad in ("metric=median", "country=ZZ", "sort=salary", "limit=7"):
        answer = await reader.get(f"/console/payroll/analytics?{bad}")
        assert answer.status_code == 422, bad
        assert "Choose" in text_of(answer.text)


async def test_pages_read_and_never_write(reader, session, payroll):
    before = await snapshot(session)
    olive = payroll["Olive Stone"].id
    for path in (
        "/console/payroll/employees",
        f"/console/payroll/employees/{olive}",
        "/console/payroll/analytics",
    ):
        assert (await reader.get(path)).status_code == 200
    assert await snapshot(session) == before


@pytest.mark.parametrize(
    "query",
    [
        "name=%00",
        "job_title=%00abc",
        "name=%F0%9F%92%A9&job_title=%E2%80%AE",
        "country=%00%00",
        "min_salary=%00",
        "sort=%00",
        "limit=%00",
        "offset=99999999999999999999999",
        "company=%00",
        "name=%25_%5C",
    ],
)
async def test_odd_input_never_breaks_a_page(reader, payroll, query):
    olive = payroll["Olive Stone"].id
    for path in (
        "/console/payroll/employees",
        "/console/payroll/employees.csv",
        "/console/payroll/countries",
        "/console/payroll/countries.csv",
        "/console/payroll/analytics",
        f"/console/payroll/employees/{olive}",
    ):
        answer = await reader.get(f"{path}?{query}")
        assert answer.status_code in (200, 422), (path, query, answer.text[:300])
    as_of = query.replace("name=", "as_of=", 1)
    answer = await reader.get(f"/console/payroll/employees/{olive}?{as_of}")
    assert answer.status_code in (200, 422)
