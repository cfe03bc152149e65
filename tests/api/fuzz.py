"""Schemathesis as a library: run its engine over every operation and collect the failures."""

from __future__ import annotations

import ast
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import schemathesis
import schemathesis.specs.openapi.checks  # registers the OpenAPI checks
from schemathesis.checks import CHECKS as CHECKS_REGISTRY
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import from_schema
from schemathesis.engine.events import FatalError, NonFatalError, ScenarioFinished
from schemathesis.engine.recorder import ScenarioRecorder

from backoffice.core.openapi import RULES

# Every check schemathesis has (`--checks all`): no 5xx; only documented statuses, bodies and
# headers; schema-valid input accepted and schema-invalid input refused; a 405 with `Allow`
# for a method the path does not serve; credentials required where the document says so; a
# deleted resource gone, a created one there.
CHECKS = tuple(CHECKS_REGISTRY.get_all_names())
PHASES = ("examples", "coverage", "fuzzing", "stateful")
# What positive_data_acceptance expects of schema-valid input by default.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]


@dataclass(frozen=True)
class Finding:
    """One failed check, with what reproduces it."""

    operation: str
    check: str
    title: str
    status: int | None
    reproduce: str

    def __str__(self) -> str:
        answer = f" (answered {self.status})" if self.status else ""
        return f"{self.operation}: {self.check}: {self.title}{answer}\n    {self.reproduce}"


def config(
    base_url: str,
    headers: dict[str, str],
    *,
    max_examples: int,
    seed: int,
    checks: tuple[str, ...] = CHECKS,
    phases: tuple[str, ...] = PHASES,
    mode: str = "all",
    document: dict[str, Any] | None = None,
    only: str | None = None,
) -> SchemathesisConfig:
    """A schemathesis configuration for one run against `base_url`.

    An operation whose document lists rules beyond its schema (`x-rules`, see
    `core.openapi.rules_beyond_schema`) may refuse schema-valid input with the status it names;
    every other operation must accept schema-valid input. `only`: a path prefix, the others
    are left out.
    """
    data: dict[str, Any] = {
        "seed": seed,
        "base-url": base_url,
        "headers": headers,
        "workers": 2,
        "cache": {"enabled": False},
        "request-timeout": 30,
        "generation": {"max-examples": max_examples, "mode": mode, "database": "none"},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in checks}},
        "phases": {
            name: {"enabled": name in phases}
            for name in ("examples", "coverage", "fuzzing", "stateful")
        },
        "operations": _rules_beyond_schema(document or {}),
    }
    if only is not None:
        skipped = {"include-path-regex": f"^(?!{re.escape(only)})", "enabled": False}
        data["operations"].append(skipped)
    return SchemathesisConfig.from_dict(data)


TOML_HEADER = """\
# Generated from the OpenAPI document's `x-rules` (tests/api/test_conformance.py keeps the two
# in step): each operation below refuses some schema-valid input, for a rule its schema cannot
# state, with the status it names. `schemathesis run --checks all` reads this file and expects
# that status there, and nowhere else.
"""


def schemathesis_toml(document: dict[str, Any]) -> str:
    """The repository's `schemathesis.toml`: the same exemptions as `config`, for the CLI."""
    blocks = [TOML_HEADER]
    for operation in _rules_beyond_schema(document):
        statuses = operation["checks"]["positive_data_acceptance"]["expected-statuses"]
        listed = ", ".join(f'"{status}"' for status in statuses)
        blocks.append(
            f'[[operations]]\ninclude-name = "{operation["include-name"]}"\n'
            f"checks.positive_data_acceptance.expected-statuses = [{listed}]\n"
        )
    return "\n".join(blocks)


def _rules_beyond_schema(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "include-name": f"{method.upper()} {path}",
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": [
                        *ACCEPTED,
                        *(str(status) for status in operation[RULES]["statuses"]),
                    ]
                }
            },
        }
        for path, item in document.get("paths", {}).items()
        for method, operation in item.items()
        if RULES in operation
    ]


@dataclass
class Report:
    """What a run found, and what it tried (so that a run which tried nothing fails too)."""

    findings: list[Finding]
    operations: set[str]
    responses_checked: int

    def assert_clean(self, operations: int) -> None:
        """Fail with every finding, or if some operation of the document was never called."""
        assert not self.findings, f"{len(self.findings)} failures:\n" + "\n".join(
            map(str, self.findings)
        )
        assert len(self.operations) == operations, f"only {len(self.operations)} operations ran"


@contextmanager
def _one_ast_parse_at_a_time() -> Iterator[None]:
    """Serialise `ast.parse` while the workers run.

    On Python 3.11 the AST module keeps its recursion depth in state shared by every thread, so
    two workers parsing at once (hypothesis parses a file to describe a filter's lambda, in a
    cache of each thread's own) can fail with `SystemError: AST constructor recursion depth
    mismatch` (fixed in 3.12).
    """
    if sys.version_info >= (3, 12):
        yield
        return
    parse = ast.parse
    lock = threading.Lock()

    def serialised(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return parse(*args, **kwargs)

    ast.parse = serialised
    try:
        yield
    finally:
        ast.parse = parse


def run(schema_url: str, settings: SchemathesisConfig) -> Report:
    """Every failure schemathesis finds over the whole document."""
    schema = schemathesis.openapi.from_url(schema_url, config=settings)
    report = Report([], set(), 0)
    with _one_ast_parse_at_a_time():
        for event in from_schema(schema).execute():
            _record(report, event)
    return report


def _record(report: Report, event: object) -> None:
    if isinstance(event, ScenarioFinished):
        report.findings.extend(_failures(event.recorder))
        if event.recorder.checks and event.phase != "stateful":
            report.operations.add(event.recorder.label)
            report.responses_checked += len(event.recorder.checks)
    elif isinstance(event, NonFatalError):
        report.findings.append(Finding(event.label, "error", repr(event.value), None, ""))
    elif isinstance(event, FatalError):
        raise event.exception


# schemathesis 4.32 reads an integer parameter written as an integral float both ways: its
# positive phase sends `/accounts/1.0` as valid (JSON Schema's `integer` admits 1.0, and so do
# we: core.types.canonical), while its negative phase sends `offset=0.0` as invalid. Refusing
# `.0` only turns the one into the other (docs/benchmarks.md, "Conformance"), so an acceptance of
# such a value is the tool contradicting itself, not a finding.
_INTEGRAL_FLOAT_PARAMETER = re.compile(r"(?:[?&][a-z_]+=|/)[0-9]+\.0(?=[/&' ]|$)")


def _tool_contradiction(check_name: str, code_sample: str) -> bool:
    return check_name == "negative_data_rejection" and bool(
        _INTEGRAL_FLOAT_PARAMETER.search(code_sample)
    )


def _failures(recorder: ScenarioRecorder) -> list[Finding]:
    found = []
    for case_id, checks in recorder.checks.items():
        interaction = recorder.interactions.get(case_id)
        status = interaction.response.status_code if interaction and interaction.response else None
        for check in checks:
            info = check.failure_info
            if info is not None and not _tool_contradiction(check.name, info.code_sample):
                title = info.failure.title
                found.append(Finding(recorder.label, check.name, title, status, info.code_sample))
    return found


def document(base_url: str) -> dict[str, Any]:
    """The served OpenAPI document."""
    served: dict[str, Any] = httpx.get(f"{base_url}/openapi.json").json()
    return served


def operation_count(base_url: str, only: str = "") -> int:
    """How many operations the served OpenAPI document declares (under the path prefix)."""
    paths = document(base_url)["paths"]
    return sum(len(item) for path, item in paths.items() if path.startswith(only))
