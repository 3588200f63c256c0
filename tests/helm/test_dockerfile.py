"""The Dockerfile, read as text: no container engine runs here, so the image is not built.

What can be checked without building it is checked: the stages, the base image, the user, the
signal path, the health check, and that the image agrees with the chart (uid, ports, probe path)
and with the packages pyproject.toml ships.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.helm.settings_env import settings_env_names

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
VALUES = ROOT / "helm" / "wismo" / "values.yaml"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


@dataclass
class Dockerfile:
    args: dict[str, str]
    stages: list[Stage]


def parse(text: str) -> Dockerfile:
    """Instructions with their continuation lines joined, grouped by stage."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "dangling line continuation"
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif not stages:
            assert keyword == "ARG", f"{keyword} before the first FROM"
            key, _, default = rest.partition("=")
            args[key] = default
        else:
            stages[-1].instructions.append((keyword, rest))
    return Dockerfile(args, stages)


def resolve(ref: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], ref)


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def values() -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load(VALUES.read_text())
    return loaded


def test_parser_handles_continuations_and_stages() -> None:
    parsed = parse(
        "ARG BASE=python:3.11-slim\nFROM ${BASE} AS build\n# note\nRUN a \\\n    && b\n"
        "FROM ${BASE}\nUSER 1:1\n"
    )
    assert parsed.args == {"BASE": "python:3.11-slim"}
    assert [s.name for s in parsed.stages] == ["build", None]
    assert parsed.stages[0].all("RUN") == ["a && b"]


def test_multi_stage_on_a_maintained_slim_python_311(dockerfile: Dockerfile) -> None:
    assert len(dockerfile.stages) >= 2
    bases = {resolve(stage.base, dockerfile.args) for stage in dockerfile.stages}
    assert len(bases) == 1
    (base,) = bases
    # Debian 13 (trixie) is the current stable; bookworm and older are past their main support.
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim-trixie", base), base


def test_build_stage_builds_a_wheel_and_runtime_installs_it(dockerfile: Dockerfile) -> None:
    build, runtime = dockerfile.stages[0], dockerfile.stages[-1]
    assert build.name == "build"
    assert any("pip wheel" in run for run in build.all("RUN"))
    installs = [run for run in runtime.all("RUN") if "pip install" in run]
    assert len(installs) == 1
    assert "--no-index" in installs[0]
    assert "from=build" in installs[0]
    # Sources and compilers stay in the build stage.
    assert runtime.all("COPY") == []
    assert not any("build-essential" in run for run in runtime.all("RUN"))


def test_runs_as_the_chart_s_non_root_user(
    dockerfile: Dockerfile, values: dict[str, object]
) -> None:
    runtime = dockerfile.stages[-1]
    users = runtime.all("USER")
    assert users, "the runtime stage never leaves root"
    uid, _, gid = users[-1].partition(":")
    assert uid not in {"0", "root"}
    assert gid not in {"0", "root"}
    pod = values["podSecurityContext"]
    assert isinstance(pod, dict)
    assert (int(uid), int(gid)) == (pod["runAsUser"], pod["runAsGroup"])
    user_index = max(i for i, (kw, _) in enumerate(runtime.instructions) if kw == "USER")
    later = [kw for kw, _ in runtime.instructions[user_index:]]
    assert "RUN" not in later, "commands after USER would be the only non-root ones"


def test_signals_reach_wismo(dockerfile: Dockerfile) -> None:
    runtime = dockerfile.stages[-1]
    (entrypoint,) = runtime.all("ENTRYPOINT")
    argv = json.loads(entrypoint)  # exec form: no shell swallowing SIGTERM
    assert argv[0] == "tini"
    assert argv[-1] == "wismo"
    assert json.loads(runtime.all("CMD")[-1]) == ["api"]


def test_ports_and_health_check_match_the_chart(
    dockerfile: Dockerfile, values: dict[str, object]
) -> None:
    runtime = dockerfile.stages[-1]
    settings = values["settings"]
    workers = values["workers"]
    assert isinstance(settings, dict)
    assert isinstance(workers, dict)
    api_port = settings["api"]["port"]
    exposed = {int(p) for line in runtime.all("EXPOSE") for p in line.split()}
    assert exposed == {api_port, workers["port"]}
    (check,) = runtime.all("HEALTHCHECK")
    options, _, command = check.partition("CMD ")
    assert "--interval=" in options
    assert "--timeout=" in options
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"]
    assert f"127.0.0.1:{api_port}/healthz" in argv[2]
    compile(argv[2], "HEALTHCHECK", "exec")
    probe = values["api"]
    assert isinstance(probe, dict)
    assert probe["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_runtime_environment_names_are_settings(dockerfile: Dockerfile) -> None:
    runtime = dockerfile.stages[-1]
    names = {word.split("=", 1)[0] for line in runtime.all("ENV") for word in shlex.split(line)}
    wismo = {n for n in names if n.startswith("WISMO_")}
    assert wismo
    assert wismo <= settings_env_names()


def test_dockerignore_admits_exactly_the_shipped_packages() -> None:
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {p.rstrip("*") for p in patterns}
    assert packages <= admitted
    assert {"pyproject.toml", "README.md"} <= admitted
    assert not admitted & {".venv", "tests", "helm", "docs", ".git"}
