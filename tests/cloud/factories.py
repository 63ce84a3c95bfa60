"""Build realistic wire batches for cloud tests: a drive with trips, idling and engine samples."""

from __future__ import annotations

import math

from wire import Batch, Record, encode_batch, quantize_position, topic_for

T0 = 1_714_564_800_000  # 2024-05-01T12:00:00Z, UTC ms


def position(seq: int, time_ms: int, lat: float, lon: float, speed_mps: float) -> Record:
    return Record(
        "position",
        seq,
        time_ms,
        quantize_position(
            {
                "lat": lat,
                "lon": lon,
                "alt_m": 212.5,
                "speed_mps": speed_mps,
                "course_deg": 90.0,
                "sats": 9,
                "hdop": 0.9,
                "pdop": 1.6,
                "mode": 3,
                "quality": 1,
                "valid": True,
            }
        ),
    )


def engine(seq: int, time_ms: int, speed_kmh: float, odometer_km: float) -> Record:
    return Record(
        "engine",
        seq,
        time_ms,
        {
            "Vehicle.Speed": speed_kmh,
            "Vehicle.Powertrain.CombustionEngine.Speed": 700.0 if speed_kmh == 0 else 1450.0,
            "Vehicle.Powertrain.CombustionEngine.ECT": 88,
            "Vehicle.TraveledDistance": round(odometer_km, 3),
        },
    )


def event(seq: int, time_ms: int, name: str, **attrs: object) -> Record:
    return Record("event", seq, time_ms, {"name": name, **attrs})


def drive(seconds_per_trip: int = 120, start_ms: int = T0) -> list[Record]:
    """Records of two trips with an idle period inside each, 1 Hz fixes, engine every 5 s."""
    out: list[Record] = []
    seq = 0
    t = start_ms
    lat, lon, odo = 45.07, 7.68, 12_345.0

    def add(rec_fn, *args, **kw) -> None:
        nonlocal seq
        seq += 1
        out.append(rec_fn(seq, *args, **kw))

    for trip in range(2):
        add(event, t, "ignition_on")
        add(event, t, "trip_start", trip=trip)
        for s in range(seconds_per_trip):
            t += 1000
            idling = seconds_per_trip // 3 <= s < seconds_per_trip // 2
            speed = 0.0 if idling else 12.0 + 3 * math.sin(s / 7)
            if s == seconds_per_trip // 3:
                add(event, t, "idle_start")
            if s == seconds_per_trip // 2:
                add(event, t, "idle_end")
            lon += speed / 111_000 / math.cos(math.radians(lat))
            odo += speed / 1000
            add(position, t, lat, lon, speed)
            if s % 5 == 0:
                add(engine, t, speed * 3.6, odo)
        t += 1000
        add(event, t, "trip_end")
        add(event, t, "ignition_off")
        t += 600_000  # parked ten minutes
    return out


def batches(records: list[Record], device: str, boot: int = 1, size: int = 50) -> list[Batch]:
    """Split records in sequence order into batches of ``size``."""
    return [
        Batch(device, boot, tuple(records[i : i + size]), sent_ms=records[i].time_ms + 500)
        for i in range(0, len(records), size)
    ]


def up(fleet: str, device: str) -> str:
    return topic_for(fleet, device, "up")


def payload(batch: Batch) -> bytes:
    return encode_batch(batch)
