"""Regenerate the documents made from declarations: docs/configuration.md (agent keys)
and firmware_config/agent.schema.json. tests/test_docs.py fails when they are stale."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.config import config_markdown, config_schema  # noqa: E402

CONFIG_DOC_HEAD = REPO / "docs" / "configuration.head.md"


def configuration_md() -> str:
    return CONFIG_DOC_HEAD.read_text() + "\n" + config_markdown()


def schema_json() -> str:
    return json.dumps(config_schema(), indent=2) + "\n"


def main() -> None:
    (REPO / "docs" / "configuration.md").write_text(configuration_md())
    (REPO / "firmware_config" / "agent.schema.json").write_text(schema_json())
    print("wrote docs/configuration.md and firmware_config/agent.schema.json")


if __name__ == "__main__":
    main()
