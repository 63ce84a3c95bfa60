"""Bytes on the wire per 1 Hz position: an hour of a synthetic city/highway drive
(varying speed, turns, GPS noise) encoded in batches as the uplink sends them, plus the
MQTT PUBLISH/PUBACK framing of each message."""

from __future__ import annotations

import math
import random

from wire import Batch, Record, encode_batch, quantize_position
from wire.topics import topic_for

TOPIC = topic_for("acme-logistics", "truck-001", "up")


def mqtt_overhead(payload_len: int) -> int:
    """PUBLISH (QoS 1) framing plus its PUBACK, in bytes (MQTT 3.1.1, no TCP/TLS)."""
    remaining = 2 + len(TOPIC) + 2 + payload_len
    length_bytes = 1 if remaining < 128 else 2 if remaining < 16384 else 3
    return 1 + length_bytes + 2 + len(TOPIC) + 2 + 4


def _drive(n: int, seed: int = 7) -> list[Record]:
    rnd = random.Random(seed)
    lat, lon, speed, course = 41.8781, -87.6298, 0.0, 90.0
    out = []
    for i in range(n):
        phase = i % 240
        target = 0.0 if phase > 220 else (13.9 if (i // 240) % 2 else 24.0)
        speed = max(0.0, min(target, speed + (1.2 if speed < target else -2.5)))
        if phase % 60 == 0:
            course = (course + rnd.choice((-90, 0, 90))) % 360
        course = (course + rnd.gauss(0, 0.5)) % 360
        lat += speed * math.cos(math.radians(course)) / 111_320 + rnd.gauss(0, 1e-6)
        lon += speed * math.sin(math.radians(course)) / (111_320 * math.cos(math.radians(lat)))
        data = {
            "lat": lat,
            "lon": lon,
            "alt_m": 180 + rnd.gauss(0, 0.3),
            "speed_mps": speed,
            "course_deg": course,
            "sats": rnd.randint(8, 12),
            "hdop": round(rnd.uniform(0.7, 1.2), 2),
            "pdop": round(rnd.uniform(1.2, 2.0), 2),
            "mode": 3,
            "quality": 1,
            "valid": True,
            "flags": [],
        }
        out.append(Record("position", i + 1, 1_760_000_000_000 + i * 1000, quantize_position(data)))
    return out


def run() -> dict[str, dict[str, object]]:
    records = _drive(3600)
    figures: dict[str, dict[str, object]] = {}
    for size, name in ((60, "wire_bytes_per_position_batch60"), (300, "wire_bytes_per_position")):
        total = 0
        for i in range(0, len(records), size):
            total += len(
                encode_batch(Batch("truck-001", 1_760_000_000, tuple(records[i : i + size])))
            )
        figures[name] = {"value": round(total / len(records), 2), "unit": "bytes/position"}
    return figures
