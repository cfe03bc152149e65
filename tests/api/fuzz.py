"""Schemathesis as a library: run its engine over every operation and collect the failures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    reproduce: str

    def __str__(self) -> str:
        return f"{self.operation}: {self.check}: {self.title}\n    {self.reproduce}"


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
        "request-timeout": 30,
        "generation": {"max-examples": max_examples, "mode": mode, "database": "none"},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in checks}},
        "phases": {
            name: {"enabled": name in phases}
            for name in ("examples", "coverage", "fuzzing", "stateful")
        },
    }
    return SchemathesisConfig.from_dict(data)


def run(schema_url: str, settings: SchemathesisConfig) -> list[Finding]:
    """Every failure schemathesis finds over the whole document."""
    schema = schemathesis.openapi.from_url(schema_url, config=settings)
    findings: list[Finding] = []
    for event in from_schema(schema).execute():
        if isinstance(event, ScenarioFinished):
            findings.extend(_failures(event.recorder))
        elif isinstance(event, NonFatalError):
            findings.append(Finding(event.label, "error", repr(event.value), ""))
        elif isinstance(event, FatalError):
            raise event.exception
    return findings


def _failures(recorder: ScenarioRecorder) -> list[Finding]:
    found = []
    for checks in recorder.checks.values():
        for check in checks:
            info = check.failure_info
            if info is not None:
                found.append(
                    Finding(recorder.label, check.name, info.failure.title, info.code_sample)
                )
    return found
