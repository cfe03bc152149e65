from __future__ import annotations

from collections.abc import Iterator

import pytest

from backoffice.core import migrations
from backoffice.savings.accounting.demo import DEMO_PLANS, load_demo_plans
from tests.live import scratch_database

SCRIPTS = "backoffice.savings.accounting:migrations"


@pytest.fixture
def fresh_accounting_url(server_url: str) -> Iterator[str]:
    for url in scratch_database(server_url, "accounting_demo"):
        migrations.upgrade(url, scripts=SCRIPTS)
        yield url


async def test_the_demo_plans_load_once(fresh_accounting_url):
    assert await load_demo_plans(fresh_accounting_url) == len(DEMO_PLANS)
    assert await load_demo_plans(fresh_accounting_url) == 0
