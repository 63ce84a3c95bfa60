"""Agent configuration: the shipped example loads, overrides apply, mistakes are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import load_config
from agent.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_shipped_example_is_valid() -> None:
    cfg = load_config(REPO / "firmware_config" / "agent.example.toml", env={})
    assert cfg["device.id"] == "truck-001"
    assert cfg["can.obd_pids"]["0C"] == 1.0
    assert cfg["outbox.max_mb"] == 256.0


def test_environment_overrides_win(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text('[device]\nid = "t1"\n[uplink]\ninflight = 4\n')
    cfg = load_config(
        path,
        env={
            "FLEETWIRE_AGENT__UPLINK__INFLIGHT": "2",
            "FLEETWIRE_AGENT__CAN__DBC": '["/x.dbc"]',
            "FLEETWIRE_AGENT__GNSS__ENABLED": "off",
            "UNRELATED": "1",
        },
    )
    assert (cfg["uplink.inflight"], cfg["can.dbc"], cfg["gnss.enabled"]) == (2, ["/x.dbc"], False)


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ('[device]\nid = "t1"\n[uplink]\ninflght = 4\n', {}, "unknown key 'uplink.inflght'"),
        ('[device]\nid = "t1"\n[uplink]\ninflight = "four"\n', {}, "'uplink.inflight' must be int"),
        ("[device]\n", {}, "'device.id' is required"),
        ('[device]\nid = "a/b"\n', {}, "invalid device id"),
        ('[device\nid = "x"', {}, "not valid TOML"),
        ('[device]\nid = "t1"\n', {"FLEETWIRE_AGENT__UPLINK__NOPE": "1"}, "names no key"),
        ('[device]\nid = "t1"\n', {"FLEETWIRE_AGENT__UPLINK__INFLIGHT": "x"}, "cannot read"),
        ('[device]\nid = "t1"\n[uplink]\ninflight = 0\n', {}, "at least 1"),
    ],
)
def test_mistakes_name_file_and_key(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, env=env)


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"agent\.example\.toml"):
        load_config(tmp_path / "nope.toml", env={})
