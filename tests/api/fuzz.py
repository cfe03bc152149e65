"""Schemathesis as a library: run its engine over every operation and collect the failures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import from_schema
from schemathesis.engine.events import FatalError, NonFatalError, ScenarioFinished
from schemathesis.engine.recorder import ScenarioRecorder

# What the suite holds every response to: no 5xx, only documented statuses, bodies and headers
# as documented, and for a method the path does not serve a 405 with `Allow`.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "unsupported_method",
    "allow_header_conformance",
)


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
    phases: tuple[str, ...] = ("examples", "coverage", "fuzzing"),
    mode: str = "all",
) -> SchemathesisConfig:
    """A schemathesis configuration for one run against `base_url`."""
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
    }
    return SchemathesisConfig.from_dict(data)


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


def run(schema_url: str, settings: SchemathesisConfig) -> Report:
    """Every failure schemathesis finds over the whole document."""
    schema = schemathesis.openapi.from_url(schema_url, config=settings)
    report = Report([], set(), 0)
    for event in from_schema(schema).execute():
        if isinstance(event, ScenarioFinished):
            report.findings.extend(_failures(event.recorder))
            if event.recorder.checks:
                report.operations.add(event.recorder.label)
                report.responses_checked += len(event.recorder.checks)
        elif isinstance(event, NonFatalError):
            report.findings.append(Finding(event.label, "error", repr(event.value), None, ""))
        elif isinstance(event, FatalError):
            raise event.exception
    return report


def _failures(recorder: ScenarioRecorder) -> list[Finding]:
    found = []
    for case_id, checks in recorder.checks.items():
        interaction = recorder.interactions.get(case_id)
        status = interaction.response.status_code if interaction and interaction.response else None
        for check in checks:
            info = check.failure_info
            if info is not None:
                title = info.failure.title
                found.append(Finding(recorder.label, check.name, title, status, info.code_sample))
    return found


def operation_count(base_url: str) -> int:
    """How many operations the served OpenAPI document declares."""
    document = httpx.get(f"{base_url}/openapi.json").json()
    return sum(len(item) for item in document["paths"].values())
