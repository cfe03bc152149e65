"""A newcomer's path: `make help`, every setting in `.env.example` and the README, readable logs
in a terminal, the demo logins printed, a LICENSE that matches pyproject.toml."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from backoffice.cli import app as cli
from backoffice.core import migrations
from backoffice.core.config import Settings
from backoffice.demo import published_logins
from backoffice.services import SAVINGS_ACCOUNTING

ROOT = Path(__file__).parents[1]


def setting_names() -> list[str]:
    """Every environment variable `Settings` reads."""
    return [
        (str(field.validation_alias) if field.validation_alias else name).upper()
        for name, field in Settings.model_fields.items()
    ]


def test_make_help_lists_every_target_with_its_description():
    result = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    described: dict[str, str] = {}
    for line in result.stdout.splitlines():
        if match := re.match(r"\s*(\S+)\s+(.+)", line):
            described[match[1]] = match[2]
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M)
    assert phony
    for target in [*phony.group(1).split(), "help"]:
        assert described.get(target), f"make help does not describe {target}"


def test_env_example_lists_every_setting():
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, re.M))
    assert set(setting_names()) <= listed, sorted(set(setting_names()) - listed)
    assert listed <= set(setting_names()), sorted(listed - set(setting_names()))


def test_env_example_loads_as_it_is(tmp_path, monkeypatch):
    assert (ROOT / ".env.example").is_file()
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=ROOT / ".env.example")
    assert settings == Settings(_env_file=None)


def test_readme_configuration_table_lists_every_setting():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", section, re.M))
    assert set(setting_names()) <= rows, sorted(set(setting_names()) - rows)


@pytest.mark.parametrize(
    ("env", "tty", "explicit", "json"),
    [
        ("development", True, None, False),
        ("development", False, None, True),
        ("test", True, None, True),
        ("production", True, None, True),
        ("development", True, "true", True),
        ("production", False, "false", False),
    ],
)
def test_logs_are_readable_in_a_terminal_in_development_and_json_otherwise(
    monkeypatch, env, tty, explicit, json
):
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)
    if explicit is not None:
        monkeypatch.setenv("LOG_JSON", explicit)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty, raising=False)
    values = {
        "BACKOFFICE_ENV": env,
        "DATABASE_URL": "postgresql://db/x",
        "NATS_URL": "nats://nats:4222",
        "BACKOFFICE_SECRET_KEY": "s" * 40,
    }
    assert Settings(_env_file=None, **values).log_json is json


def test_demo_load_prints_the_demo_logins(empty_database_url, empty_savings_env, monkeypatch):
    migrations.upgrade(empty_database_url)
    migrations.upgrade(
        empty_savings_env["SAVINGS_ACCOUNTING_DATABASE_URL"], scripts=SAVINGS_ACCOUNTING.scripts
    )
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    for variable, url in empty_savings_env.items():
        monkeypatch.setenv(variable, url)
    monkeypatch.setenv("ARGON2_TIME_COST", "1")
    monkeypatch.setenv("ARGON2_MEMORY_KIB", "1024")
    from backoffice.core.config import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["demo", "load"], env={"COLUMNS": "200"})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    for username, password in published_logins().items():
        assert f"{username}/{password}" in result.output
    assert "alice/alice-pass" in result.output
    assert "savings plans" in result.output


def test_the_license_file_matches_pyproject():
    license_text = (ROOT / "LICENSE").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert license_text.startswith("MIT License")
    assert "Permission is hereby granted, free of charge" in license_text


def _readme_shell_lines() -> list[str]:
    """The commands of the README's `sh` blocks (continuation lines joined, comments cut)."""
    readme = (ROOT / "README.md").read_text()
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", readme, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                lines.append(line.split("  #", 1)[0].strip())
    return lines


def test_readme_commands_run_from_a_fresh_clone():
    """Nothing is on PATH in a fresh clone but make, curl and python3: the rest is in .venv/bin."""
    import typer.main

    group = typer.main.get_command(cli)
    readme = (ROOT / "README.md").read_text()
    for span in re.findall(r"`((?:pip|python|backoffice) [^`]*)`", readme):
        assert not re.match(r"(pip|python) ", span), f"run it from .venv/bin: `{span}`"
    commands = [line for line in _readme_shell_lines() if not line.startswith(("'", '"', "{"))]
    for line in commands:
        program = line.split()[0]
        assert program in {"make", "curl", ".venv/bin/backoffice", "for", "done"} or re.match(
            r"^[A-Z]+=\$\(curl ", line
        ), f"a fresh clone cannot run: {line}"
        if program == ".venv/bin/backoffice":
            args = line.split()[1:]
            command: Any = group
            for arg in args:  # down the command groups: `merchants`, then `import`
                sub = getattr(command, "commands", {}).get(arg)
                if sub is None:
                    break
                command = sub
            assert not hasattr(command, "commands"), f"no such command: {line}"
            for arg in args:
                if "/" in arg:
                    assert (ROOT / arg).exists(), f"{arg} is not in a fresh clone: {line}"
