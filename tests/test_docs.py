"""Docs stay honest: generated documents are current, every command has help, every
config key and API route is documented."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _gen_docs():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_docs", REPO / "scripts" / "gen_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_documents_are_current() -> None:
    gen = _gen_docs()
    assert (REPO / "docs" / "configuration.md").read_text() == gen.configuration_md(), (
        "docs/configuration.md is stale: run `make docs`"
    )
    assert (REPO / "firmware_config" / "agent.schema.json").read_text() == gen.schema_json(), (
        "firmware_config/agent.schema.json is stale: run `make docs`"
    )


@pytest.mark.parametrize("script", ["fleetwire-agent", "fleetwire-cloud", "fleetwire-sim"])
def test_every_console_script_teaches_with_help(script: str) -> None:
    result = subprocess.run(
        [str(BIN / script), "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout and "example" in result.stdout.lower()


def test_readme_gives_the_two_commands_first() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert readme.index("make demo") < readme.index("## ", readme.index("make demo") - 200) + 2000


def test_every_api_route_is_documented() -> None:
    from cloud.api.app import create_app
    from cloud.settings import Settings

    docs = "".join(
        (REPO / "docs" / name).read_text()
        for name in ("api.md", "hos.md", "alerts.md", "routes.md")
    )
    import re

    def shape(text: str) -> str:  # "/v1/vehicles/{vehicle_id}" and "/v1/vehicles/{id}" agree
        return re.sub(r"\{[^}/]*\}", "{}", text)

    paths = create_app(Settings(database_url="sqlite://")).openapi()["paths"]
    undocumented = [p for p in paths if shape(p) not in shape(docs)]
    assert not undocumented, f"routes missing from docs/: {undocumented}"


def test_every_agent_config_key_is_documented() -> None:
    from agent.config import KEYS

    text = (REPO / "docs" / "configuration.md").read_text()
    assert all(f"`{key.path}`" in text for key in KEYS)


def _subcommands(parser) -> set[str]:  # type: ignore[no-untyped-def]
    import argparse

    return {
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    }


def test_every_subcommand_is_documented() -> None:
    from agent.cli import _parser as agent_parser
    from cloud.cli import build_parser as cloud_parser
    from sim.cli import build_parser as sim_parser

    text = (REPO / "README.md").read_text() + "".join(
        p.read_text() for p in sorted((REPO / "docs").glob("*.md"))
    )
    for tool, parser in (
        ("fleetwire-agent", agent_parser()),
        ("fleetwire-cloud", cloud_parser()),
        ("fleetwire-sim", sim_parser()),
    ):
        commands = _subcommands(parser)
        assert commands, tool
        missing = sorted(c for c in commands if f"{tool} {c}" not in text and f"`{c}`" not in text)
        assert not missing, f"{tool}: undocumented subcommands {missing}"
