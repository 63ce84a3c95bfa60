"""Who may import whom: walks every module's imports (AST, not a runtime guess).

- agent and cloud never import each other; both may import wire.
- wire uses the standard library only.
- the agent never imports FastAPI, SQLAlchemy, Alembic, pydantic or uvicorn (the Pi
  installs `fleetwire[agent]` without them); the simulator imports neither agent nor cloud.
- paho is used by the agent's uplink only, and on the cloud side only by its MQTT edges
  (ingest consumer, alert publisher).
- decoding, stages, detectors and ELD logic do not touch the outbox or the uplink.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STDLIB = set(sys.stdlib_module_names)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize(("package", "forbidden"), [("agent", "cloud"), ("cloud", "agent")])
def test_agent_and_cloud_never_import_each_other(package: str, forbidden: str) -> None:
    offenders = {
        str(p.relative_to(REPO)): sorted(m for m in imports_of(p) if top(m) == forbidden)
        for p in modules(package)
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_wire_uses_only_the_standard_library() -> None:
    for path in modules("wire"):
        outside = {m for m in imports_of(path) if top(m) not in STDLIB and top(m) != "wire"}
        assert not outside, f"{path.relative_to(REPO)} imports {outside}"


def test_the_agent_stays_light() -> None:
    heavy = {
        "fastapi",
        "sqlalchemy",
        "alembic",
        "pydantic",
        "pydantic_settings",
        "uvicorn",
        "amqtt",
    }
    for path in modules("agent"):
        used = {top(m) for m in imports_of(path)} & heavy
        assert not used, f"{path.relative_to(REPO)} imports {used}"


def test_the_simulator_is_independent_of_agent_and_cloud() -> None:
    for path in modules("sim"):
        used = {top(m) for m in imports_of(path)} & {"agent", "cloud"}
        assert not used, f"{path.relative_to(REPO)} imports {used}"


def test_only_the_mqtt_edges_import_paho() -> None:
    allowed = {"agent/uplink.py", "cloud/ingest/consumer.py", "cloud/alerts/mqtt_out.py"}
    users = {
        str(p.relative_to(REPO))
        for package in ("agent", "cloud")
        for p in modules(package)
        if any(top(m) == "paho" for m in imports_of(p))
    }
    assert users <= allowed, users - allowed
    assert "agent/uplink.py" in users and "cloud/ingest/consumer.py" in users


def test_pure_agent_layers_do_not_reach_the_outbox_or_uplink() -> None:
    for sub in ("agent/decode", "agent/stages", "agent/detectors", "agent/eld"):
        for path in sorted((REPO / sub).rglob("*.py")):
            used = {
                m for m in imports_of(path) if m in ("agent.outbox", "agent.uplink", "agent.app")
            }
            assert not used, f"{path.relative_to(REPO)} imports {used}"


def test_nothing_imports_the_composition_roots() -> None:
    roots = {"agent.app", "agent.cli", "cloud.cli", "cloud.api.app"}
    allowed_importers = {"agent/cli.py", "cloud/cli.py"}
    for package in ("agent", "cloud", "wire"):
        for path in modules(package):
            rel = str(path.relative_to(REPO))
            used = imports_of(path) & roots
            assert not used or rel in allowed_importers, f"{rel} imports {used}"


# import name -> distribution, for the packages the code uses
DISTRIBUTIONS = {
    "serial": "pyserial",
    "pynmea2": "pynmea2",
    "can": "python-can",
    "isotp": "can-isotp",
    "cantools": "cantools",
    "sqlite_utils": "sqlite-utils",
    "paho": "paho-mqtt",
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
    "sqlalchemy": "sqlalchemy",
    "alembic": "alembic",
    "psycopg": "psycopg",
    "pydantic": "pydantic",
    "pydantic_settings": "pydantic-settings",
    "amqtt": "amqtt",
    "msgpack": "msgpack",
    "starlette": "fastapi",
}


def _extra(name: str) -> set[str]:
    import re
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = project["optional-dependencies"][name]
    return {re.split(r"[<>=\[ ;]", d, maxsplit=1)[0].lower() for d in deps}


@pytest.mark.parametrize(
    ("package", "extra"), [("agent", "agent"), ("cloud", "cloud"), ("sim", "sim")]
)
def test_each_install_extra_covers_what_its_package_imports(package: str, extra: str) -> None:
    """`pip install fleetwire[agent]` must be enough for the agent, and so on."""
    provided = _extra(extra)
    own = {"agent", "cloud", "wire", "sim"}
    for path in modules(package):
        for name in imports_of(path):
            root = top(name)
            if root in STDLIB or root in own or root == "__future__":
                continue
            dist = DISTRIBUTIONS.get(root)
            assert dist is not None, (
                f"{path.relative_to(REPO)} imports {root}: add it to DISTRIBUTIONS"
            )
            assert dist in provided, f"{path.relative_to(REPO)} needs {dist} in the [{extra}] extra"


def test_the_agent_extra_stays_light() -> None:
    assert not _extra("agent") & {"fastapi", "sqlalchemy", "alembic", "uvicorn", "pydantic"}
