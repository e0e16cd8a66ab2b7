"""Structural checks of docker-compose.yml and the Dockerfile, without a Docker engine.

There is no engine to `docker compose up` here, so the wiring that would only
break at deploy time is checked from the files: start order, the database URL
matching the database's credentials, the shared data volume, the health checks.
The cross-service checks are functions that return a list of problems, so the
last tests can prove they fail on a mis-wired copy of the file.
"""

from __future__ import annotations

import copy
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
APP_SERVICES = ("migrate", "api", "worker")
AFTER_MIGRATE = {"db": "service_healthy", "migrate": "service_completed_successfully"}

Compose = dict[str, Any]


@pytest.fixture(scope="module")
def compose() -> Compose:
    # safe_load resolves the x- anchors and aliases exactly as Compose does.
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: Compose) -> dict[str, Any]:
    return compose["services"]


# --------------------------------------------------------------------------- normalisers
# Compose accepts several spellings of the same thing; the checks compare meaning.


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def depends_of(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):  # short form means "started", nothing more
        return dict.fromkeys(deps, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def volume_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source (named volume or host path)."""
    mounts = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume.get("source", ""), volume["target"]
        mounts[target] = source
    return mounts


def published_ports(service: dict[str, Any]) -> set[tuple[int, int]]:
    """(host, container) pairs."""
    pairs = set()
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            pairs.add((int(port["published"]), int(port["target"])))
        else:
            host, container = str(port).split(":")[-2:]
            pairs.add((int(host), int(container.split("/")[0])))
    return pairs


def healthcheck_argv(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    if isinstance(test, str):
        return ["CMD-SHELL", test]
    return [str(t) for t in test]


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    return instructions


# --------------------------------------------------------------------------- cross-service checks


def url_wiring_problems(compose: Compose) -> list[str]:
    """Every app service's database URL must reach the db service with its credentials."""
    services = compose["services"]
    db_env = env_of(services["db"])
    problems = []
    for name in APP_SERVICES:
        url = env_of(services[name]).get("VECDEX_DATABASE_URL")
        if url is None:
            problems.append(f"{name}: no VECDEX_DATABASE_URL")
            continue
        parts = urlsplit(url)
        expected = {
            "scheme": ("postgresql+psycopg", parts.scheme),
            "host": ("db", parts.hostname),
            "port": (5432, parts.port or 5432),
            "user": (db_env.get("POSTGRES_USER"), parts.username),
            "password": (db_env.get("POSTGRES_PASSWORD"), parts.password),
            "database": (db_env.get("POSTGRES_DB"), parts.path.lstrip("/")),
        }
        problems += [f"{name}: {key} {got!r} != {want!r}" for key, (want, got) in expected.items() if want != got]
    return problems


def start_order_problems(compose: Compose) -> list[str]:
    """The schema must be migrated before the API or the worker touch it."""
    services = compose["services"]
    wanted = {"migrate": {"db": "service_healthy"}, "api": AFTER_MIGRATE, "worker": AFTER_MIGRATE}
    return [
        f"{name}: depends_on {depends_of(services[name])} != {deps}"
        for name, deps in wanted.items()
        if depends_of(services[name]) != deps
    ]


def data_volume_problems(compose: Compose) -> list[str]:
    """api and worker must see the same named volume at VECDEX_DATA_DIR (index files, models)."""
    services = compose["services"]
    sources = {}
    for name in ("api", "worker"):
        data_dir = env_of(services[name]).get("VECDEX_DATA_DIR")
        sources[name] = volume_mounts(services[name]).get(data_dir or "")
        if data_dir != "/data":
            return [f"{name}: VECDEX_DATA_DIR is {data_dir!r}, not /data"]
    problems = []
    if sources["api"] is None or sources["api"] != sources["worker"]:
        problems.append(f"api and worker mount different data volumes: {sources}")
    if sources["api"] not in (compose.get("volumes") or {}):
        problems.append(f"data volume {sources['api']!r} is not declared under top-level volumes")
    return problems


CHECKS: list[Callable[[Compose], list[str]]] = [url_wiring_problems, start_order_problems, data_volume_problems]


# --------------------------------------------------------------------------- compose tests


def test_the_four_services_exist(services: dict[str, Any]) -> None:
    assert {"db", "migrate", "api", "worker"} <= set(services)


def test_db_is_postgres_with_a_pg_isready_healthcheck_for_its_own_credentials(services: dict[str, Any]) -> None:
    db = services["db"]
    assert db["image"].split(":")[0] == "postgres"
    env = env_of(db)
    assert {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"} <= set(env)
    argv = shlex.split(" ".join(healthcheck_argv(db)[1:]))
    assert argv[0] == "pg_isready"
    assert argv[argv.index("-U") + 1] == env["POSTGRES_USER"]
    assert argv[argv.index("-d") + 1] == env["POSTGRES_DB"]
    assert "/var/lib/postgresql/data" in volume_mounts(db)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_build_from_the_repo_dockerfile(services: dict[str, Any], name: str) -> None:
    build = services[name]["build"]
    build = {"context": build} if isinstance(build, str) else build
    context = (COMPOSE_FILE.parent / build["context"]).resolve()
    assert context == REPO
    dockerfile = context / build.get("dockerfile", "Dockerfile")
    assert dockerfile.is_file()
    assert any(keyword == "CMD" for keyword, _ in dockerfile_instructions(dockerfile))


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_cross_service_wiring(compose: Compose, check: Callable[[Compose], list[str]]) -> None:
    assert check(compose) == []


def test_app_services_share_one_environment(services: dict[str, Any]) -> None:
    envs = [env_of(services[name]) for name in APP_SERVICES]
    assert envs[0]["VECDEX_DATA_DIR"] == "/data"
    assert all(env == envs[0] for env in envs)


def test_migrate_is_a_one_shot_db_upgrade(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert command_of(migrate) == ["vecdex", "db", "upgrade"]
    # Unquoted `no` is YAML 1.1 for false, which Compose rejects; it must be the string.
    assert migrate["restart"] == "no"
    assert "ports" not in migrate


def test_api_serves_on_8000_without_in_process_worker(services: dict[str, Any]) -> None:
    api = services["api"]
    argv = command_of(api)
    assert argv[:2] == ["vecdex", "serve"]
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    assert argv[argv.index("--port") + 1] == "8000"
    assert "--no-worker" in argv
    assert (8000, 8000) in published_ports(api)


def test_worker_runs_the_worker_command(services: dict[str, Any]) -> None:
    assert command_of(services["worker"]) == ["vecdex", "worker"]


def test_api_healthcheck_probes_readyz(services: dict[str, Any]) -> None:
    argv = healthcheck_argv(services["api"])
    assert argv[0] == "CMD"
    assert "http://localhost:8000/readyz" in " ".join(argv)


class _Readyz(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(self.status if self.path == "/readyz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def readyz_server() -> Iterator[tuple[int, type[_Readyz]]]:
    handler = type("Handler", (_Readyz,), {})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler
    server.shutdown()
    server.server_close()


def test_api_healthcheck_command_passes_on_200_and_fails_on_503(
    services: dict[str, Any], readyz_server: tuple[int, type[_Readyz]]
) -> None:
    """Runs the real healthcheck command (python -c ...) against a stand-in /readyz."""
    port, handler = readyz_server
    argv = healthcheck_argv(services["api"])[1:]
    assert argv[0] == "python"
    argv = [sys.executable] + [a.replace("localhost:8000", f"127.0.0.1:{port}") for a in argv[1:]]
    assert subprocess.run(argv, capture_output=True, timeout=30).returncode == 0
    handler.status = 503
    assert subprocess.run(argv, capture_output=True, timeout=30).returncode != 0


# --------------------------------------------------------------------------- the checks can fail


def _set_url(compose: Compose, service: str, url: str) -> None:
    compose["services"][service]["environment"] = {**env_of(compose["services"][service]), "VECDEX_DATABASE_URL": url}


MISWIRINGS: dict[str, tuple[Callable[[Compose], list[str]], Callable[[Compose], None]]] = {
    "password differs": (
        url_wiring_problems,
        lambda c: c["services"]["db"]["environment"].update(POSTGRES_PASSWORD="secret"),
    ),
    "api url points at localhost": (
        url_wiring_problems,
        lambda c: _set_url(c, "api", "postgresql+psycopg://vecdex:vecdex@localhost:5432/vecdex"),
    ),
    "worker uses another database": (
        url_wiring_problems,
        lambda c: _set_url(c, "worker", "postgresql+psycopg://vecdex:vecdex@db:5432/other"),
    ),
    "api starts before migrations finish": (
        start_order_problems,
        lambda c: c["services"]["api"].update(depends_on={"db": {"condition": "service_healthy"}}),
    ),
    "worker only waits for db to start": (
        start_order_problems,
        lambda c: c["services"]["worker"].update(depends_on=["db", "migrate"]),
    ),
    "worker has its own data volume": (
        data_volume_problems,
        lambda c: c["services"]["worker"].update(volumes=["worker-data:/data"]),
    ),
}


@pytest.mark.parametrize("case", MISWIRINGS)
def test_checks_catch_a_miswired_compose_file(compose: Compose, case: str) -> None:
    check, break_it = MISWIRINGS[case]
    broken = copy.deepcopy(compose)
    break_it(broken)
    assert check(broken) != []


# --------------------------------------------------------------------------- Dockerfile


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return dockerfile_instructions(REPO / "Dockerfile")


def _final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def test_dockerfile_runs_the_api_as_a_non_root_user(dockerfile: list[tuple[str, str]]) -> None:
    final = _final_stage(dockerfile)
    assert final[0][1].split()[0] == "python:3.11-slim"
    users = [args for keyword, args in final if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    cmd = [args for keyword, args in final if keyword == "CMD"][-1]
    assert yaml.safe_load(cmd) == ["vecdex", "serve", "--host", "0.0.0.0", "--port", "8000"]


def test_dockerfile_declares_the_data_volume(dockerfile: list[tuple[str, str]]) -> None:
    final = _final_stage(dockerfile)
    env = " ".join(args for keyword, args in final if keyword == "ENV")
    assert "VECDEX_DATA_DIR=/data" in env.split()
    volumes = [args for keyword, args in final if keyword == "VOLUME"]
    assert any("/data" in (yaml.safe_load(v) if v.startswith("[") else v.split()) for v in volumes)


def test_dockerfile_copies_every_package_the_build_needs(dockerfile: list[tuple[str, str]]) -> None:
    """`pip install .` inside the image fails if a package or the README was not copied."""
    copied = set()
    for keyword, args in dockerfile:
        if keyword == "COPY" and not args.startswith("--from"):
            sources = args.split()[:-1]
            for source in sources:
                assert (REPO / source).exists(), f"COPY source {source} is missing from the repo"
            copied.update(Path(s).name for s in sources)
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages | {"pyproject.toml", pyproject["project"]["readme"]} <= copied
    assert any(keyword == "RUN" and "pip install ." in args for keyword, args in dockerfile)


# --------------------------------------------------------------------------- docker compose itself


def _compose_plugin_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(
    not _compose_plugin_available(),
    reason="the `docker compose` CLI plugin is not installed (needed only to run `docker compose config -q`)",
)
def test_docker_compose_config_accepts_the_file() -> None:
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- running it on a network


def _interpolated(value: str) -> str:
    """``${NAME:-default}`` as Compose resolves it when NAME is unset (the file's defaults)."""
    import re

    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_the_api_on_the_network_keeps_keys_on_and_says_how_to_make_the_first(services: dict[str, Any]) -> None:
    """The api binds 0.0.0.0, so by default it must enforce keys (and refuse to start without one), and the
    file must say how to create the first key; the environment must be valid settings."""
    from service.settings import Settings

    api = services["api"]
    argv = command_of(api)
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    env = {k: _interpolated(v) for k, v in env_of(api).items()}
    settings = Settings(**{k.removeprefix("VECDEX_").lower(): v for k, v in env.items() if k.startswith("VECDEX_")})
    assert settings.auth == "on"
    assert "vecdex keys create" in COMPOSE_FILE.read_text(encoding="utf-8")
