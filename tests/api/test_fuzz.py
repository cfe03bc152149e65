"""Schemathesis over every operation of the OpenAPI document, as an admin, in the suite.

A route added later is covered with no extra work. `FUZZ_EXAMPLES` and `FUZZ_SEED` widen a
run by hand (the issue's acceptance run: `FUZZ_EXAMPLES=100 FUZZ_SEED=<new>`).
"""

from __future__ import annotations

import os

from tests.api.conftest import basic_header
from tests.api.fuzz import config, operation_count, run

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("FUZZ_SEED", "20261204"))


def test_every_operation_answers_as_documented(api_url):
    admin = {"Authorization": basic_header("admin", "adminpass")}
    settings = config(api_url, admin, max_examples=EXAMPLES, seed=SEED)
    run(f"{api_url}/openapi.json", settings).assert_clean(operations=operation_count(api_url))
