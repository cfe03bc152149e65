"""The savings pages in-process: a customer's own pages and the operators' plans.

The savings services run for real behind the test app (`savings`, tests/console/conftest.py):
the figures each page shows are compared with the gateway API's for the same customer.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest

from tests.conftest import PASSWORD
from tests.console.pages import field_error, form_error, notice, tables

pytestmark = pytest.mark.usefixtures("savings")


async def test_a_customer_signs_up_and_sees_their_empty_savings(console_customer):
    http, email = await console_customer()
    home = await http.get("/console/savings/")
    assert home.status_code == 200
    assert notice(home.text) is None  # the welcome was shown once, on the way in
    assert email in home.text
    assert re.findall(r'data-balance="(\w+)">([^<]*)<', home.text) == [
        ("main", "0.00"),
        ("savings", "0.00"),
        ("total", "0.00"),
    ]
    assert "No credits yet" in home.text
    assert 'href="/console/savings/"' in home.text  # My savings, in the navigation
    assert 'href="/console/savings/plans"' not in home.text
