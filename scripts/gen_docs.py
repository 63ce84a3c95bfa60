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


def _dataclass_table(title: str, section: str, cls: type, intro: str) -> str:
    import dataclasses

    lines = [f"### {title} (`[{section}]`)", "", intro, "", "| key | default |", "|---|---|"]
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        if dataclasses.is_dataclass(default):
            for g in dataclasses.fields(default):
                lines.append(f"| `{f.name}.{g.name}` | `{getattr(default, g.name)!r}` |")
        else:
            lines.append(f"| `{f.name}` | `{default!r}` |")
    return "\n".join(lines) + "\n"


def tables_md() -> str:
    from agent.detectors import DetectorParams
    from agent.stages.quality import QualityParams
    from agent.stages.sampling import SamplingConfig

    return "\n".join(
        [
            "## Tables",
            "",
            _dataclass_table(
                "Sampling",
                "gnss.sampling",
                SamplingConfig,
                "Which fixes become position records, separately when moving and stopped. A fix is "
                "recorded when any enabled trigger fires (0 disables one): `max_period_s` (while "
                "stopped: the heartbeat), `min_distance_m`, `min_heading_deg` (359 to 1 is 2 degrees), "
                "`min_speed_change_mps`, or a change between moving and stopped; `min_period_s` "
                "limits the rate. Example: `[gnss.sampling.moving]` `min_distance_m = 100`.",
            ),
            _dataclass_table(
                "Quality",
                "gnss.quality",
                QualityParams,
                "Checks that mark a fix (never drop it): `no_fix`, `few_sats` (< `min_sats`), "
                "`high_hdop` (> `max_hdop`), `zero_position` (0,0) and `jump` (implied speed above "
                "`max_speed_mps` beyond `jump_slack_m`). Marked fixes are sent with their `flags`.",
            ),
            _dataclass_table(
                "Detectors",
                "detectors",
                DetectorParams,
                "Thresholds of the engine and trip detectors (speeds km/h, times s, accelerations "
                "m/s², engine speed rpm).",
            ),
        ]
    )


def cloud_md() -> str:
    from cloud.settings import Settings

    lines = [
        "## Cloud",
        "",
        "The cloud reads `FLEETWIRE_<NAME>` environment variables (or a `.env` file in the "
        "working directory). With no `FLEETWIRE_MQTT_URL`, `fleetwire-cloud run` starts its "
        "embedded broker; with no `FLEETWIRE_DATABASE_URL` it uses SQLite in `./data/`.",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default
        lines.append(f"| `FLEETWIRE_{name.upper()}` | `{default!r}` | {field.description or ''} |")
    return "\n".join(lines) + "\n"


def configuration_md() -> str:
    return "\n".join([CONFIG_DOC_HEAD.read_text(), config_markdown(), tables_md(), cloud_md()])


def schema_json() -> str:
    return json.dumps(config_schema(), indent=2) + "\n"


def main() -> None:
    (REPO / "docs" / "configuration.md").write_text(configuration_md())
    (REPO / "firmware_config" / "agent.schema.json").write_text(schema_json())
    print("wrote docs/configuration.md and firmware_config/agent.schema.json")


if __name__ == "__main__":
    main()
