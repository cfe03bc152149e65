"""Salary analytics: the trigger-kept aggregates always equal a full recomputation."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from backoffice.org import employees as org_employees
from tests.payroll.factories import assert_error, make_country, make_employee

COUNTRIES = ["IN", "US", "GB"]
TITLES = ["Engineer", "Manager", "Analyst", "Designer"]


@pytest.fixture
async def countries(session):
    await make_country(session, "IN")
    await make_country(session, "US", currency="USD", current_deduction=12)
    await make_country(session, "GB", currency="GBP", current_deduction=0)
    await make_country(session, "FR", currency="EUR", current_deduction=0)


async def stored(session: Any) -> dict[str, dict[str, Any]]:
    queries = {
        "country": "SELECT country_iso, employee_count, salary_total FROM salary_stats_by_country",
        "title": "SELECT job_title, employee_count, salary_total FROM salary_stats_by_job_title",
        "pair": "SELECT country_iso || '/' || job_title, employee_count, salary_total "
        "FROM salary_stats_by_country_job_title",
    }
    return {
        name: {row[0]: (row[1], row[2]) for row in (await session.execute(text(sql))).all()}
        for name, sql in queries.items()
    }


async def recomputed(session: Any) -> dict[str, dict[str, Any]]:
    queries = {
        "country": "SELECT country_iso, count(*), sum(salary) FROM employees GROUP BY 1",
        "title": "SELECT job_title, count(*), sum(salary) FROM employees GROUP BY 1",
        "pair": "SELECT country_iso || '/' || job_title, count(*), sum(salary) "
        "FROM employees GROUP BY country_iso, job_title",
    }
    return {
        name: {row[0]: (row[1], row[2]) for row in (await session.execute(text(sql))).all()}
        for name, sql in queries.items()
    }


def money(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(1, 50_000_000)) / 100


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
async def test_aggregates_equal_a_full_recomputation_after_random_writes(session, countries, seed):
    rng = random.Random(seed)
    ids: list[int] = []
    for _ in range(200):
        op = rng.choice(["insert", "insert", "update", "update", "delete", "bulk"])
        if op == "insert" or not ids:
            worker = await make_employee(
                session,
                country_iso=rng.choice(COUNTRIES),
                job_title=rng.choice(TITLES),
                salary=money(rng),
            )
            ids.append(worker.id)
        elif op == "update":
            changes: dict[str, Any] = rng.choice(
                [
                    {"salary": money(rng)},
                    {"country_iso": rng.choice(COUNTRIES)},
                    {"job_title": rng.choice(TITLES)},
                    {"full_name": "Renamed"},
                    {
                        "salary": money(rng),
                        "country_iso": rng.choice(COUNTRIES),
                        "job_title": rng.choice(TITLES),
                    },
                ]
            )
            await org_employees.update_employee(session, rng.choice(ids), changes)
        elif op == "delete":
            victim = ids.pop(rng.randrange(len(ids)))
            await org_employees.delete_employee(session, victim)
        else:  # one statement touching many rows at once
            statement = rng.choice(
                [
                    "UPDATE employees SET salary = salary + 1 WHERE id % 3 = 0",
                    "UPDATE employees SET job_title = 'Analyst' WHERE job_title = 'Designer'",
                    "UPDATE employees SET country_iso = 'GB' WHERE country_iso = 'US' AND id % 2 = 0",
                ]
            )
            await session.execute(text(statement))
    await session.execute(text("DELETE FROM employees WHERE id % 5 = 0"))
    session.expunge_all()
    assert await stored(session) == await recomputed(session)


async def test_groups_vanish_when_their_last_employee_leaves(session, countries):
    worker = await make_employee(session, country_iso="FR", job_title="Chef")
    assert "FR" in (await stored(session))["country"]
    await org_employees.delete_employee(session, worker.id)
    after = await stored(session)
    assert "FR" not in after["country"] and "Chef" not in after["title"]


async def test_truncate_resets_the_aggregates(session, countries):
    await make_employee(session)
    await session.execute(text("TRUNCATE employees CASCADE"))
    assert await stored(session) == {"country": {}, "title": {}, "pair": {}}


async def test_country_analytics_endpoints_match_a_full_scan(client, admin, session, countries):
    rng = random.Random(7)
    for _ in range(40):
        await make_employee(
            session,
            country_iso=rng.choice(COUNTRIES),
            job_title=rng.choice(TITLES),
            salary=money(rng),
        )
    scan = {
        row[0]: row[1:]
        for row in (
            await session.execute(
                text(
                    "SELECT country_iso, count(*), min(salary), max(salary), round(avg(salary), 2) "
                    "FROM employees GROUP BY 1"
                )
            )
        ).all()
    }
    one = (await client.get("/api/v1/analytics/salary/by-country/in", headers=admin)).json()["data"]
    assert (
        one["count"],
        Decimal(str(one["min"])),
        Decimal(str(one["max"])),
        Decimal(str(one["avg"])),
    ) == scan["IN"]
    every = await client.get("/api/v1/analytics/salary/by-country?sort=-count", headers=admin)
    rows = every.json()["data"]
    assert {r["country_iso"] for r in rows} == set(scan)
    assert [r["count"] for r in rows] == sorted((r["count"] for r in rows), reverse=True)
    for r in rows:
        expected = scan[r["country_iso"]]
        assert (
            r["count"],
            Decimal(str(r["min"])),
            Decimal(str(r["max"])),
            Decimal(str(r["avg"])),
        ) == expected


async def test_job_title_analytics_match_a_full_scan(client, admin, session, countries):
    rng = random.Random(11)
    for _ in range(40):
        await make_employee(
            session,
            country_iso=rng.choice(COUNTRIES),
            job_title=rng.choice(TITLES),
            salary=money(rng),
        )
    for country, where in ((None, ""), ("US", "WHERE country_iso = 'US'")):
        scan = {
            row[0]: row[1:]
            for row in (
                await session.execute(
                    text(
                        "SELECT job_title, count(*), min(salary), max(salary), round(avg(salary), 2) "
                        f"FROM employees {where} GROUP BY 1"
                    )
                )
            ).all()
        }
        query = f"?country_iso={country}" if country else ""
        rows = (
            await client.get(f"/api/v1/analytics/salary/by-job-title{query}", headers=admin)
        ).json()["data"]
        assert [r["job_title"] for r in rows] == sorted(scan)
        for r in rows:
            assert r["country_iso"] == country
            got = (
                r["count"],
                Decimal(str(r["min"])),
                Decimal(str(r["max"])),
                Decimal(str(r["avg"])),
            )
            assert got == scan[r["job_title"]]


async def test_country_without_employees_and_unknown_country(client, admin, countries):
    empty = (await client.get("/api/v1/analytics/salary/by-country/FR", headers=admin)).json()[
        "data"
    ]
    assert empty == {
        "country_iso": "FR",
        "count": 0,
        "min": None,
        "max": None,
        "avg": None,
        "total": 0.0,
    }
    assert_error(await client.get("/api/v1/analytics/salary/by-country/DE", headers=admin), 404)
    assert_error(
        await client.get("/api/v1/analytics/salary/by-job-title?country_iso=DE", headers=admin), 404
    )
    assert_error(
        await client.get("/api/v1/analytics/salary/by-job-title?sort=salary", headers=admin),
        422,
        "sort",
    )
    assert_error(
        await client.get("/api/v1/analytics/salary/by-country?limit=1000", headers=admin),
        422,
        "limit",
    )


async def test_analytics_plans_use_indexes_not_scans(session, countries):
    """Each min/max probe has an index path: with seq scans disabled none falls back to one."""
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    probes = [
        "SELECT min(salary), max(salary) FROM employees WHERE country_iso = 'IN'",
        "SELECT min(salary), max(salary) FROM employees WHERE job_title = 'Engineer'",
        "SELECT min(salary), max(salary) FROM employees "
        "WHERE country_iso = 'IN' AND job_title = 'Engineer'",
        "SELECT s.country_iso, (SELECT min(salary) FROM employees e "
        "WHERE e.country_iso = s.country_iso) FROM salary_stats_by_country s",
    ]
    for probe in probes:
        plan = "\n".join(row[0] for row in (await session.execute(text(f"EXPLAIN {probe}"))).all())
        assert "Seq Scan on employees" not in plan, plan
        assert "Index" in plan, plan


async def test_job_titles_come_most_held_first_from_the_aggregate(session, countries):
    from backoffice.payroll.service import job_titles

    for title in ("Chef", "Chef", "Chef", "Analyst", "Analyst", "Zoologist"):
        await make_employee(session, job_title=title)
    assert await job_titles(session) == ["Chef", "Analyst", "Zoologist"]
    assert await job_titles(session, limit=2) == ["Chef", "Analyst"]
    assert await job_titles(session, limit=0) == ["Chef"]  # bounded below
