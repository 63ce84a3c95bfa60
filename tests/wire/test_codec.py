"""The wire codec: exact round trips, compactness, and clear errors on bad payloads."""

from __future__ import annotations

import math
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire import Batch, Record, WireError, decode_batch, encode_batch, quantize_position
from wire.errors import UnsupportedVersion
from wire.topics import parse_topic, topic_for

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
positions = st.fixed_dictionaries(
    {},
    optional={
        "lat": st.floats(-90, 90),
        "lon": st.floats(-180, 180),
        "alt_m": st.floats(-500, 9000),
        "speed_mps": st.floats(0, 120),
        "course_deg": st.floats(0, 360),
        "sats": st.integers(0, 64),
        "hdop": st.floats(0, 99),
        "mode": st.sampled_from([0, 2, 3]),
        "quality": st.integers(0, 8),
        "valid": st.booleans(),
        "flags": st.lists(st.sampled_from(["no_fix", "high_hdop", "jump"]), max_size=3),
    },
).map(quantize_position)


@st.composite
def batches(draw: st.DrawFn) -> Batch:
    n = draw(st.integers(1, 30))
    seqs = draw(st.lists(st.integers(0, 2**40), min_size=n, max_size=n, unique=True))
    records = []
    for seq in seqs:
        kind = draw(st.sampled_from(["position", "engine", "event"]))
        time_ms = draw(st.integers(0, 2**45))
        if kind == "position":
            data = draw(positions)
        else:
            data = draw(st.dictionaries(st.text(max_size=12), values, max_size=6))
        records.append(Record(kind, seq, time_ms, data))
    records.sort(key=lambda r: r.seq)
    device = draw(st.from_regex(r"[A-Za-z0-9_.\-]{1,20}", fullmatch=True))
    return Batch(device, draw(st.integers(0, 2**40)), tuple(records), draw(st.integers(0, 2**45)))


def _same(a: object, b: object) -> bool:
    # NaN never occurs; floats must come back bit-exact (and as floats, not ints).
    if isinstance(a, float) or isinstance(b, float):
        return type(a) is type(b) and (a == b or (math.isnan(a) and math.isnan(b)))  # type: ignore[arg-type]
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None)
@given(batches(), st.booleans())
def test_round_trip_is_exact(batch: Batch, compress: bool) -> None:
    decoded = decode_batch(encode_batch(batch, compress=compress))
    assert (decoded.device_id, decoded.boot_id, decoded.sent_ms) == (
        batch.device_id,
        batch.boot_id,
        batch.sent_ms,
    )
    assert len(decoded.records) == len(batch.records)
    for got, want in zip(decoded.records, batch.records, strict=True):
        assert (got.kind, got.seq, got.time_ms) == (want.kind, want.seq, want.time_ms)
        assert _same(got.data, want.data), (got.data, want.data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_wire_error_only(payload: bytes) -> None:
    try:
        batch = decode_batch(payload)
    except WireError as exc:
        assert str(exc)  # every refusal says why
        return
    assert batch.records and all(r.kind in ("position", "engine", "event") for r in batch.records)


@settings(max_examples=200, deadline=None)
@given(batches(), st.data())
def test_corrupted_payloads_never_crash(batch: Batch, data: st.DataObject) -> None:
    payload = bytearray(encode_batch(batch, compress=False))
    i = data.draw(st.integers(4, len(payload) - 1))
    payload[i] ^= data.draw(st.integers(1, 255))
    cut = data.draw(st.integers(0, len(payload)))
    try:
        decoded = decode_batch(bytes(payload[:cut]))
    except WireError as exc:
        assert str(exc)
        return
    assert decoded.records  # a corruption that still decodes yields a well-formed batch


def test_one_hertz_track_is_compact() -> None:
    """A realistic 1 Hz drive (varying speed and heading) packs to well under 15 B/fix."""
    lat, lon, speed, course = 40.0, -75.0, 0.0, 90.0
    records = []
    for i in range(300):
        speed = min(25.0, speed + 0.7) if i % 90 < 70 else max(0.0, speed - 2.0)
        course = (course + (3.0 if i % 40 < 10 else 0.2)) % 360
        lat += speed * math.cos(math.radians(course)) / 111_320
        lon += speed * math.sin(math.radians(course)) / 85_000
        data = {
            "lat": lat,
            "lon": lon,
            "alt_m": 120 + i * 0.05,
            "speed_mps": speed,
            "course_deg": course,
            "sats": 9 + i % 3,
            "hdop": 0.9,
            "mode": 3,
            "quality": 1,
            "valid": True,
            "flags": [],
        }
        records.append(
            Record("position", i + 1, 1_700_000_000_000 + i * 1000, quantize_position(data))
        )
    payload = encode_batch(Batch("truck-001", 1_700_000_000, tuple(records)))
    assert len(payload) / len(records) < 15
    assert decode_batch(payload).records == tuple(records)


def test_unknown_version_and_bad_magic_are_named() -> None:
    good = encode_batch(Batch("d", 1, (Record("event", 1, 5, {"name": "x"}),)))
    with pytest.raises(UnsupportedVersion, match="version 9"):
        decode_batch(good[:2] + bytes([9]) + good[3:])
    with pytest.raises(WireError, match="bad magic"):
        decode_batch(b"XX" + good[2:])
    with pytest.raises(WireError, match="at least one record"):
        encode_batch(Batch("d", 1, ()))


def test_decompression_bomb_is_refused() -> None:
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = deflater.compress(b"\x00" * (8 * 1024 * 1024)) + deflater.flush()
    with pytest.raises(WireError, match="inflates to more than"):
        decode_batch(b"FW\x01\x01" + bomb)


def test_values_the_contract_cannot_carry_are_refused() -> None:
    with pytest.raises(WireError, match="non-finite"):
        encode_batch(Batch("d", 1, (Record("engine", 1, 5, {"x": float("nan")}),)))
    with pytest.raises(WireError, match="cannot encode"):
        encode_batch(Batch("d", 1, (Record("engine", 1, 5, {"x": object()}),)))
    with pytest.raises(WireError, match="unknown record kind"):
        encode_batch(Batch("d", 1, (Record("gossip", 1, 5, {}),)))


def test_topics_round_trip_and_reject_foreign_ones() -> None:
    topic = topic_for("acme", "truck-7", "up")
    assert topic == "fw/v1/acme/truck-7/up"
    parsed = parse_topic(topic)
    assert (parsed.fleet, parsed.device, parsed.channel) == ("acme", "truck-7", "up")
    assert parse_topic("fw/v1/acme/truck-7/down/ack").channel == "down/ack"
    for bad in ("fw/v2/a/b/up", "fw/v1/a/b/sideways", "fw/v1/a/b", "fw/v1/a b/c/up"):
        with pytest.raises(WireError):
            parse_topic(bad)
    with pytest.raises(WireError, match="device id"):
        topic_for("acme", "truck/7", "up")
