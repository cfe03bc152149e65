"""The Dockerfile, docker-compose.yml and .gitlab-ci.yml, read against the code they run.

No Docker daemon runs the tests, so these files are checked by reading: every `backoffice`
command they name parses in the CLI with a service it knows, every setting the compose file
gives a service is one of `Settings` and valid there, each service has its own database, the
broker and its key, and the image runs the console script as a user that is not root.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml  # type: ignore[import-untyped]
from typer.core import TyperGroup
from typer.testing import CliRunner

from backoffice.app import SERVICE_DATABASES
from backoffice.cli import app
from backoffice.core.config import SERVICES, Settings
from backoffice.core.databases import refuse_shared
from backoffice.services import DATABASES

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"
GITLAB_CI = ROOT / ".gitlab-ci.yml"

# The value a required compose variable (`${NAME:?...}`, `${NAME}`) stands for here: long
# enough for a production secret key.
PLACEHOLDER = "x" * 48

# The argument of each command that names a service, and the names it takes.
SERVICE_ARGUMENTS: dict[tuple[str, ...], tuple[str, frozenset[str]]] = {
    ("serve",): ("service", frozenset(SERVICES)),
    ("db", "upgrade"): ("service", frozenset({"all", *DATABASES})),
}

# The key file each savings service must be given in production (backoffice.savings.keys):
# only the users service signs customer tokens; the gateway verifies them.
KEY_FILES = {
    "savings-users": "savings_token_private_key_file",
    "savings-gateway": "savings_token_public_key_file",
}

runner = CliRunner()


def _setting_names() -> set[str]:
    return {
        (str(spec.validation_alias) if spec.validation_alias else name).upper()
        for name, spec in Settings.model_fields.items()
    }


# --- the CLI ---


@dataclass
class Parsed:
    """A command line as the CLI reads it, without running it."""

    path: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    help: bool = False


class NoSuchCommand(Exception):
    """The command path names no command of the CLI."""


def _parse(args: list[str]) -> Parsed:
    """Parse `args` (what follows `backoffice`) the way the CLI does, without running it.

    A command line ending in `--help` resolves its command path only (click answers --help
    before it converts any argument); any other is parsed in full: options, their types, the
    number of arguments.

    Raises:
        NoSuchCommand: the path names no command.
        typer.TyperException: no such option, a bad value, a missing or an extra argument.
    """
    # Typer's own click: its groups and commands are no `click` classes.
    command: Any = typer.main.get_command(app)
    parent = typer.Context(command, info_name="backoffice")
    path: list[str] = []
    rest = list(args)
    while isinstance(command, TyperGroup):
        if rest == ["--help"]:
            return Parsed(tuple(path), help=True)
        if not rest or rest[0].startswith("-"):
            raise NoSuchCommand(f"{' '.join(['backoffice', *path])} needs a command: {args}")
        name, *rest = rest
        sub = command.get_command(parent, name)
        if sub is None:
            raise NoSuchCommand(f"no command {name!r} in {' '.join(['backoffice', *path])}")
        path.append(name)
        if isinstance(sub, TyperGroup):
            parent = typer.Context(sub, info_name=name, parent=parent)
        command = sub
    if rest[-1:] == ["--help"]:
        return Parsed(tuple(path), help=True)
    parsed = command.make_context(path[-1], rest, parent=parent)
    return Parsed(tuple(path), dict(parsed.params))


def _check_command(args: list[str]) -> None:
    """Assert that `backoffice ARGS` is a command of the CLI naming services it knows."""
    parsed = _parse(args)
    help_args = [*parsed.path, "--help"]
    result = runner.invoke(app, help_args)
    assert result.exit_code == 0, (help_args, result.output)
    if parsed.help:
        return
    if parsed.path in SERVICE_ARGUMENTS:
        name, known = SERVICE_ARGUMENTS[parsed.path]
        assert parsed.params[name] in known, f"{args}: {parsed.params[name]!r} is none of {known}"


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "savings-bogus"],
        ["serve", "savings-users", "--threads", "2"],
        ["serve", "savings-users", "--port", "eighty"],
        ["serve", "savings-users", "savings-gateway"],
        ["db", "migrate", "savings-users"],
        ["db", "upgrade", "savings-gateway"],
        ["db"],
        ["savings-users"],
    ],
    ids=" ".join,
)
def test_the_checker_refuses_what_the_cli_does_not_have(args):
    with pytest.raises((NoSuchCommand, typer.TyperException, AssertionError)):
        _check_command(args)


@pytest.mark.parametrize(
    "args", [["serve", "savings-bogus"], ["db", "upgrade", "savings-gateway"]], ids=" ".join
)
def test_the_cli_itself_refuses_a_service_it_does_not_know(args):
    # The argument is a plain string that the command checks (so --help cannot): the names the
    # checker uses are the ones the CLI refuses others than.
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "is none of" in result.output


# --- docker-compose.yml ---


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _interpolate(value: str) -> str:
    """Compose's `${NAME:-default}` as its default; a required or bare variable as PLACEHOLDER."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["op"] in (":-", "-"):
            return match["arg"]
        return PLACEHOLDER

    pattern = r"(?P<escaped>\$\$)|\$\{\w+(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$\w+"
    return re.sub(pattern, substitute, value)


def _backoffice_services() -> dict[str, dict[str, Any]]:
    """The compose services that run the Dockerfile's image (the others: PostgreSQL, NATS)."""
    return {name: spec for name, spec in _compose()["services"].items() if spec.get("build") == "."}


def _served() -> dict[str, dict[str, Any]]:
    """The `backoffice serve SERVICE` services by SERVICE."""
    return {
        spec["command"][1]: spec
        for spec in _backoffice_services().values()
        if spec["command"][0] == "serve"
    }


def _migrations() -> dict[str, str]:
    """The compose services running `backoffice db upgrade DATABASE`, by DATABASE."""
    return {
        spec["command"][2]: name
        for name, spec in _backoffice_services().items()
        if spec["command"][:2] == ["db", "upgrade"]
    }


def _settings(spec: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings a compose service starts with (its environment only, no .env)."""
    for name in _setting_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in spec["environment"].items():
        monkeypatch.setenv(name, _interpolate(str(value)))
    return Settings(_env_file=None)


def test_compose_runs_each_savings_service_from_the_image():
    services = _backoffice_services()
    assert services, "no service builds the Dockerfile's image"
    assert set(_served()) == set(SERVICES) - {"all"}
    for name, spec in services.items():
        command = spec["command"]
        assert isinstance(command, list), f"{name}: an exec-form command, for the ENTRYPOINT"
        assert "entrypoint" not in spec, f"{name}: the image's ENTRYPOINT runs backoffice"


@pytest.mark.parametrize(
    "name", sorted(_backoffice_services()) or ["(none)"], ids=lambda name: name
)
def test_compose_command_exists_in_the_cli(name):
    _check_command(_backoffice_services()[name]["command"])


def test_compose_environment_holds_only_settings():
    known = _setting_names()
    for name, spec in _backoffice_services().items():
        unknown = set(spec["environment"]) - known
        assert not unknown, f"{name} sets {sorted(unknown)}, which no setting reads"
        # `backoffice serve` sets BACKOFFICE_SERVICE from its argument.
        assert "BACKOFFICE_SERVICE" not in spec["environment"], name


def test_compose_environment_is_valid_settings(monkeypatch):
    for spec in _backoffice_services().values():
        settings = _settings(spec, monkeypatch)
        # Unset, each container would start an embedded NATS of its own and hear no other.
        assert settings.nats_url is not None
        assert urlsplit(settings.nats_url).hostname in _compose()["services"]


def test_compose_gives_each_service_its_own_database(monkeypatch):
    compose_services = _compose()["services"]
    urls: dict[str, str] = {}
    for service, spec in _served().items():
        settings = _settings(spec, monkeypatch)
        for database in SERVICE_DATABASES[service]:
            url = database.configured_url(settings)
            assert url, f"{service}: set {database.variable}, not a database derived at start"
            assert urlsplit(url).hostname in compose_services, url
            urls[database.service] = url
    assert set(urls) == {db.service for dbs in SERVICE_DATABASES.values() for db in dbs} - {"main"}
    refuse_shared(urls)  # raises when two services would share a database


def test_compose_migrates_each_database_before_its_service(monkeypatch):
    migrations = _migrations()
    services = _compose()["services"]
    for service, spec in _served().items():
        for database in SERVICE_DATABASES[service]:
            assert database.service in migrations, f"nothing runs db upgrade {database.service}"
            migrate = migrations[database.service]
            condition = spec["depends_on"][migrate]["condition"]
            assert condition == "service_completed_successfully", (service, migrate)
            # The migration reaches the database the service then uses.
            served_url = database.configured_url(_settings(spec, monkeypatch))
            migrate_url = database.configured_url(_settings(services[migrate], monkeypatch))
            assert served_url == migrate_url, (service, migrate)
            assert services[migrate].get("restart") == "no", f"{migrate} is a one-shot"


def test_compose_services_wait_for_nats_and_answer_ready(monkeypatch):
    for service, spec in _served().items():
        nats = urlsplit(_settings(spec, monkeypatch).nats_url or "").hostname
        assert nats in spec["depends_on"], f"{service} starts before {nats}"
        check = " ".join(spec["healthcheck"]["test"])
        assert "/ready" in check, service
        assert f":{_dockerfile_env()['PORT']}/" in check, service


def test_compose_gives_each_service_only_its_key(monkeypatch):
    compose = _compose()
    for service, spec in _served().items():
        settings = _settings(spec, monkeypatch)
        assert settings.is_production, f"{service}: keys and secrets are checked in production"
        given = {
            key: getattr(settings, key)
            for key in ("savings_token_private_key_file", "savings_token_public_key_file")
            if getattr(settings, key) is not None
        }
        expected = KEY_FILES.get(service)
        assert set(given) == ({expected} if expected else set()), (service, given)
        for path in given.values():
            secret = path.name
            assert str(path) == f"/run/secrets/{secret}", f"{service}: {path} is no secret"
            assert secret in spec.get("secrets", []), f"{service} does not mount {secret}"
            assert secret in compose["secrets"], secret


def test_compose_services_share_the_secret_key():
    # The gateway verifies the platform's bearer tokens with the key the others sign them with.
    keys = {spec["environment"]["BACKOFFICE_SECRET_KEY"] for spec in _served().values()}
    assert len(keys) == 1, keys


def test_compose_publishes_the_port_the_image_listens_on():
    port = _dockerfile_env()["PORT"]
    published = [p for spec in _served().values() for p in spec.get("ports", [])]
    assert published, "no service is reachable from the host"
    for mapping in published:
        assert str(mapping).rsplit(":", 1)[-1] == port, mapping


# --- Dockerfile ---


@dataclass
class Stage:
    """One `FROM` of the Dockerfile and its instructions (name, arguments as written)."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def every(self, instruction: str) -> list[str]:
        return [args for name, args in self.instructions if name == instruction]

    def last(self, instruction: str) -> str:
        found = self.every(instruction)
        assert found, f"stage {self.name or self.base} has no {instruction}"
        return found[-1]


def _stages() -> list[Stage]:
    """The Dockerfile's stages, its global ARG defaults substituted in their FROM lines."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    arguments: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        instruction, args = instruction.upper(), args.strip()
        if instruction == "FROM":
            base, _, name = re.sub(
                r"\$\{?(\w+)\}?", lambda m: arguments.get(m[1], m[0]), args
            ).partition(" AS ")
            stages.append(Stage(base.strip(), name.strip() or None))
        elif stages:
            stages[-1].instructions.append((instruction, args))
        elif instruction == "ARG":
            name, _, default = args.partition("=")
            arguments[name] = default
    return stages


def _dockerfile_env() -> dict[str, str]:
    """The runtime stage's ENV, as `key=value` pairs."""
    env: dict[str, str] = {}
    for args in _stages()[-1].every("ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def test_dockerfile_is_multi_stage_on_the_same_slim_python():
    stages = _stages()
    assert len(stages) >= 2
    builder, runtime = stages[0], stages[-1]
    assert runtime.base.startswith("python:3.11-slim"), runtime.base
    # The builder's virtualenv is copied as it is: same Python at the same path.
    assert builder.base == runtime.base
    assert any(f"--from={builder.name}" in args for args in runtime.every("COPY"))
    assert all("pip install" not in run for run in runtime.every("RUN"))


def test_dockerfile_runs_as_a_user_that_is_not_root():
    user = _stages()[-1].last("USER").split(":")[0]
    assert user not in ("root", "0"), user
    assert user.isdigit(), "a numeric user, which a runtime can verify is not root"


def test_dockerfile_runs_the_console_script():
    runtime = _stages()[-1]
    entrypoint = json.loads(runtime.last("ENTRYPOINT"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["backoffice"]
    assert entrypoint[0] in scripts
    _check_command(json.loads(runtime.last("CMD")))


def test_dockerfile_listens_on_every_interface():
    env = _dockerfile_env()
    assert env["HOST"] == "0.0.0.0"  # a container is reached from outside it
    assert env["PORT"] in _stages()[-1].last("EXPOSE").split()


def test_dockerfile_installs_no_dev_dependencies():
    runs = " ".join(args for stage in _stages() for args in stage.every("RUN"))
    assert "pip" in runs
    assert not re.search(r"\[[^]]*\b(dev|loadtest)\b", runs), runs
    assert "-e " not in runs, "an editable install needs the source tree at run time"


def test_dockerignore_keeps_local_state_out_and_the_sources_in():
    ignored = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".airflow", ".backoffice", ".env", "data"} <= ignored
    for stage in _stages():
        for args in stage.every("COPY"):
            if args.startswith("--from"):
                continue
            *sources, _ = shlex.split(args)
            for source in sources:
                assert (ROOT / source).exists(), source
                assert source.rstrip("/") not in ignored, f"{source} is ignored, yet copied"


# --- .gitlab-ci.yml ---


def _ci() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(GITLAB_CI.read_text())
    return loaded


def _jobs() -> dict[str, dict[str, Any]]:
    ci = _ci()
    return {
        name: job
        for name, job in ci.items()
        if isinstance(job, dict) and not name.startswith(".") and "script" in job
    }


def _scripts(job: dict[str, Any]) -> list[str]:
    return [line for key in ("before_script", "script") for line in job.get(key, [])]


def test_ci_has_lint_test_and_build_stages():
    stages = _ci()["stages"]
    assert stages == ["lint", "test", "build"]
    used = {job["stage"] for job in _jobs().values()}
    assert used == set(stages)


def test_ci_test_job_runs_make_test():
    tests = [job for job in _jobs().values() if job["stage"] == "test"]
    assert tests
    ci_run = (ROOT / ".ci" / "run").read_text()
    for job in tests:
        script = "\n".join(_scripts(job))
        assert "make test" in script or (".ci/run" in script and "make test" in ci_run), script


def test_ci_make_targets_exist():
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    named = {
        target
        for job in _jobs().values()
        for line in _scripts(job)
        for call in re.findall(r"\bmake((?:\s+[\w=/.-]+)+)", line)
        for target in call.split()
        if "=" not in target
    }
    assert {"lint", "typecheck"} <= named
    assert named <= targets, named - targets


def test_ci_runs_make_on_debian_python():
    for name, job in _jobs().items():
        if any("make " in line or ".ci/run" in line for line in _scripts(job)):
            image = job.get("image") or _ci()[job["extends"]]["image"]
            # `make dev` installs chromium with apt-get.
            assert re.fullmatch(r"python:3\.11(\.\d+)?(-bookworm|-trixie)?", image), (name, image)


def test_ci_builds_the_image():
    builds = [job for job in _jobs().values() if job["stage"] == "build"]
    assert builds
    assert any("docker build" in line for job in builds for line in _scripts(job))


def _named_commands() -> list[list[str]]:
    """`backoffice` command lines the files show as `docker run IMAGE ARGS` (CI, comments)."""
    found = []
    for path in (DOCKERFILE, COMPOSE, GITLAB_CI):
        for match in re.finditer(
            r'docker run (?:--rm )?(?:IMAGE|"\$IMAGE")([^#\n]*)', path.read_text()
        ):
            args = shlex.split(match[1])
            if args:  # none: the image's CMD, checked above
                found.append(args)
    return found


def test_commands_in_the_files_are_found():
    commands = _named_commands()
    assert ["serve", "savings-gateway"] in commands
    assert ["serve", "--help"] in commands


@pytest.mark.parametrize("args", _named_commands(), ids=" ".join)
def test_named_command_exists_in_the_cli(args):
    _check_command(args)
