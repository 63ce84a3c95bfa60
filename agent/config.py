"""Agent configuration: every key declared once (type, default, doc), read from a TOML
file and overridden by environment variables.

An override is ``FLEETWIRE_AGENT__<SECTION>__<KEY>=value``, e.g.
``FLEETWIRE_AGENT__UPLINK__MQTT_URL=mqtt://broker:1883``. Errors name the key and the
file. ``docs/configuration.md`` is generated from ``KEYS`` (``fleetwire-agent config-doc``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import ConfigError

ENV_PREFIX = "FLEETWIRE_AGENT__"


@dataclass(frozen=True, slots=True)
class Key:
    path: str  # "section.key"
    type: type
    default: Any
    doc: str


# Subsections handed whole to the component that validates them (sampling rules,
# quality checks, detector thresholds, OBD-II PIDs).
TABLE = dict

KEYS: tuple[Key, ...] = (
    Key("device.id", str, None, "Device id, unique in the fleet (A-Z a-z 0-9 _ . -). Required."),
    Key("device.fleet", str, "default", "Fleet (tenant) the device belongs to."),
    Key("gnss.enabled", bool, True, "Read GPS from a serial NMEA 0183 receiver."),
    Key(
        "gnss.url",
        str,
        "/dev/ttyACM0",
        "Serial device path or pyserial URL (socket://, rfc2217://).",
    ),
    Key("gnss.baudrate", int, 9600, "Serial speed in bit/s."),
    Key("gnss.stall_timeout_s", float, 5.0, "No bytes for this long = receiver stalled; reopen."),
    Key("gnss.allow_missing_checksum", bool, False, "Accept NMEA sentences without '*hh'."),
    Key("gnss.max_sentence_chars", int, 100, "Longer sentences are rejected (NMEA allows 82)."),
    Key(
        "gnss.date_floor",
        str,
        "2026-01-01",
        "Receiver dates before this are GPS week-rollover suspects.",
    ),
    Key("gnss.backoff_max_s", float, 5.0, "Longest wait between attempts to reopen the receiver."),
    Key("gnss.sampling", TABLE, {}, "Recording rules (see 'Sampling' below)."),
    Key("gnss.quality", TABLE, {}, "Fix quality checks (see 'Quality' below)."),
    Key("can.enabled", bool, True, "Read engine data from a CAN bus."),
    Key(
        "can.interface",
        str,
        "socketcan",
        "python-can interface: socketcan, virtual, udp_multicast...",
    ),
    Key("can.channel", str, "can0", "python-can channel (can0, a virtual bus name, ...)."),
    Key("can.bitrate", int, 250000, "Bus speed in bit/s (J1939: 250000 or 500000)."),
    Key("can.options", TABLE, {}, "Extra python-can Bus arguments, e.g. {port = 43113}."),
    Key("can.j1939", bool, True, "Decode passive SAE J1939 broadcast traffic."),
    Key("can.obd", bool, False, "Poll OBD-II PIDs over ISO 15765-4 (ISO-TP)."),
    Key(
        "can.obd_addressing",
        str,
        "11bit",
        "OBD-II addressing: 11bit (7DF/7E8) or 29bit (18DB33F1).",
    ),
    Key("can.obd_pids", TABLE, {}, 'PID (hex string) -> poll period in seconds, e.g. {"0C" = 1}.'),
    Key("can.dbc", list, [], "Extra DBC files decoded by parameter group, any source address."),
    Key(
        "engine.sample_period_s",
        float,
        1.0,
        "Record an engine sample of changed values this often.",
    ),
    Key("detectors", TABLE, {}, "Detector thresholds (idle time, harsh braking, overspeed...)."),
    Key(
        "eld.enabled",
        bool,
        False,
        "Record ELD events (49 CFR 395 App. A) and serve the driver's page.",
    ),
    Key(
        "eld.store_path",
        str,
        "/var/lib/fleetwire/eld.db",
        "SQLite file: login, duty status, ELD event sequence counter.",
    ),
    Key(
        "eld.ui_host",
        str,
        "127.0.0.1",
        "Address of the driver's page (0.0.0.0: reachable from the cab network; no auth).",
    ),
    Key("eld.ui_port", int, 8081, "Port of the driver's page."),
    Key("eld.allow_personal_conveyance", bool, False, "Carrier allows personal conveyance (PC)."),
    Key("eld.allow_yard_move", bool, False, "Carrier allows yard moves (YM)."),
    Key(
        "eld.driving_threshold_kmh",
        float,
        8.04672,
        "In motion above this speed; at most 5 mph = 8.04672 km/h.",
    ),
    Key(
        "eld.standstill_kmh",
        float,
        0.8,
        "Speed at or below this counts as 0 mph (stopped after 3 s).",
    ),
    Key("eld.can_speed_stale_s", float, 5.0, "Use GNSS speed after this long without a CAN speed."),
    Key(
        "eld.engine_rpm_min", float, 0.0, "Engine counts as running above this engine speed (rpm)."
    ),
    Key("eld.engine_on_s", float, 1.0, "Running evidence this long = engine power-up."),
    Key("eld.engine_off_s", float, 5.0, "Stopped evidence this long = engine shut-down."),
    Key("eld.engine_silent_s", float, 10.0, "No engine data this long while on = shut-down."),
    Key(
        "eld.yard_move_max_kmh",
        float,
        0.0,
        "Carrier policy: yard move above this speed becomes driving (0 = off).",
    ),
    Key(
        "eld.tick_s",
        float,
        1.0,
        "Run the ELD timers (prompt timeout) this often even without data.",
    ),
    Key("outbox.path", str, "/var/lib/fleetwire/outbox.db", "SQLite outbox file."),
    Key("outbox.max_mb", float, 256.0, "Disk cap; samples are thinned, then dropped, above it."),
    Key("outbox.commit_window_ms", int, 1000, "Samples are group-committed within this window."),
    Key("outbox.keep_sent_s", float, 0.0, "Keep acknowledged records this long (0 = forget)."),
    Key(
        "uplink.mqtt_url",
        str,
        "mqtt://127.0.0.1:1883",
        "Broker URL: mqtt://[user:pass@]host[:port] or mqtts://.",
    ),
    Key("uplink.tls_ca", str, "", "CA bundle for mqtts:// (empty = system store)."),
    Key("uplink.keepalive_s", int, 30, "MQTT keepalive in seconds."),
    Key("uplink.batch_max_records", int, 300, "Records per message at most."),
    Key("uplink.batch_max_bytes", int, 16384, "Encoded bytes per message at most."),
    Key(
        "uplink.batch_max_age_s",
        float,
        5.0,
        "Send a partial batch once its oldest record is this old.",
    ),
    Key("uplink.inflight", int, 8, "Messages awaiting PUBACK at once."),
    Key(
        "uplink.backlog_records_per_s",
        float,
        2000.0,
        "Rate limit of backlog replay after an outage.",
    ),
    Key("uplink.status_period_s", float, 60.0, "Publish health on the status topic this often."),
)
_BY_PATH = {key.path: key for key in KEYS}


class Config:
    """Validated configuration; ``cfg["uplink.mqtt_url"]`` or ``cfg.section("gnss")``."""

    def __init__(self, values: Mapping[str, Any], source: str) -> None:
        self._values = dict(values)
        self.source = source

    def __getitem__(self, path: str) -> Any:
        return self._values[path]

    def section(self, name: str) -> dict[str, Any]:
        prefix = name + "."
        return {p[len(prefix) :]: v for p, v in self._values.items() if p.startswith(prefix)}

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)


def _coerce(key: Key, value: Any, where: str) -> Any:
    expected = key.type
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is TABLE and isinstance(value, dict):
        return value
    if isinstance(value, expected) and not (expected is int and isinstance(value, bool)):
        return value
    raise ConfigError(
        f"{where}: '{key.path}' must be {expected.__name__}, got {type(value).__name__} {value!r}"
    )


def _from_env_text(key: Key, text: str, where: str) -> Any:
    try:
        if key.type is bool:
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if key.type in (int, float):
            return key.type(text)
        if key.type in (list, TABLE):
            return tomllib.loads(f"v = {text}")["v"]
        return text
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read '{key.path}' from {text!r}: {exc}") from exc


def _flatten(table: Mapping[str, Any], where: str, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in table.items():
        path = f"{prefix}{name}"
        if path in _BY_PATH:
            flat[path] = value
        elif isinstance(value, dict):
            flat.update(_flatten(value, where, path + "."))
        else:
            known = ", ".join(sorted(_BY_PATH))
            raise ConfigError(f"{where}: unknown key '{path}'. Known keys: {known}")
    return flat


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (if any), apply environment overrides, validate every key."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    where = "defaults"
    if path is not None:
        where = str(path)
        try:
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise ConfigError(
                f"{where}: file not found; copy firmware_config/agent.example.toml and edit it"
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{where}: not valid TOML: {exc}") from exc
    values = {key.path: key.default for key in KEYS}
    for kpath, value in _flatten(raw, where).items():
        values[kpath] = _coerce(_BY_PATH[kpath], value, where)
    for name, text in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        kpath = name[len(ENV_PREFIX) :].lower().replace("__", ".")
        key = _BY_PATH.get(kpath)
        if key is None:
            raise ConfigError(f"environment: {name} names no key ('{kpath}' is unknown)")
        values[kpath] = _coerce(key, _from_env_text(key, text, f"environment {name}"), name)
    if not values["device.id"]:
        raise ConfigError(f"{where}: 'device.id' is required (set [device] id = \"truck-001\")")
    from wire.errors import WireError
    from wire.topics import check_id

    try:
        check_id("device", values["device.id"])
        check_id("fleet", values["device.fleet"])
    except WireError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    if not 0 <= values["eld.ui_port"] <= 65535:
        raise ConfigError(f"{where}: 'eld.ui_port' must be 0..65535")
    for kpath in ("uplink.batch_max_records", "uplink.inflight", "uplink.batch_max_bytes"):
        if values[kpath] < 1:
            raise ConfigError(f"{where}: '{kpath}' must be at least 1")
    return Config(values, where)


def config_markdown() -> str:
    """docs/configuration.md's table of keys, generated from the declarations."""
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key in KEYS:
        default = "(required)" if key.default is None else repr(key.default)
        tname = "table" if key.type is TABLE else key.type.__name__
        lines.append(f"| `{key.path}` | {tname} | `{default}` | {key.doc} |")
    return "\n".join(lines) + "\n"


def config_schema() -> dict[str, Any]:
    """A JSON Schema of the TOML file (firmware_config/agent.schema.json), for editors."""
    json_types = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array"}
    sections: dict[str, Any] = {}
    for key in KEYS:
        prop: dict[str, Any] = {"description": key.doc}
        prop["type"] = "object" if key.type is TABLE else json_types[key.type]
        if key.default is not None:
            prop["default"] = key.default
        if "." in key.path:
            section, name = key.path.split(".", 1)
            entry = sections.setdefault(
                section, {"type": "object", "additionalProperties": False, "properties": {}}
            )
            entry["properties"][name] = prop
        else:
            sections[key.path] = prop
    sections["device"]["required"] = ["id"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "fleetwire agent configuration",
        "type": "object",
        "additionalProperties": False,
        "required": ["device"],
        "properties": sections,
    }
