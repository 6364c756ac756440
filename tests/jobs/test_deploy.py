"""The Dockerfile and the systemd unit, checked by reading them (Docker cannot run here)."""

from __future__ import annotations

import configparser
import json
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) pairs with continuation lines joined."""
    text = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n\s*", " ", text)
    instructions = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def arguments_of(keyword: str) -> list[str]:
    return [arguments for name, arguments in final_stage() if name == keyword]


def test_image_is_slim_python_311():
    bases = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "FROM"]

    assert bases
    assert all(base.startswith("python:3.11-slim") for base in bases)


def test_image_runs_daemon_as_non_root_user():
    [user] = arguments_of("USER")
    [entrypoint] = arguments_of("ENTRYPOINT")
    [command] = arguments_of("CMD")

    assert user not in ("root", "0")
    assert json.loads(entrypoint) == ["leadscore"]
    assert json.loads(command) == ["run"]


def test_image_checks_health_with_heartbeat():
    [healthcheck] = arguments_of("HEALTHCHECK")

    assert "CMD" in healthcheck
    assert '["leadscore", "health"]' in healthcheck
    assert re.search(r"--interval=\d+s", healthcheck)


def test_image_keeps_state_on_data_volume():
    [volume] = arguments_of("VOLUME")
    environment = " ".join(arguments_of("ENV"))

    assert json.loads(volume) == ["/data"]
    assert "LEADSCORE_DATABASE_URL=sqlite:////data/" in environment
    assert "LEADSCORE_HEARTBEAT_FILE=/data/" in environment


def test_docker_context_excludes_secrets_and_local_state():
    patterns = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()

    for excluded in (".env", ".venv", ".git", "*.db", "tests"):
        assert excluded in patterns


def test_copied_sources_exist():
    sources = [
        source
        for keyword, arguments in dockerfile_instructions()
        if keyword == "COPY" and not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    ]

    assert "pyproject.toml" in sources
    for source in sources:
        assert (REPO_ROOT / source).exists(), source


def test_systemd_unit_runs_daemon_unprivileged():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(REPO_ROOT / "deploy" / "leadscore.service", encoding="utf-8")
    service = unit["Service"]

    assert service["ExecStart"].endswith("leadscore run")
    assert service["User"] not in ("root", "0")
    assert service["KillSignal"] == "SIGTERM"
    assert service["Restart"] == "on-failure"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
