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
