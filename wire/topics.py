"""MQTT topic layout (wire contract v1).

    fw/v1/{fleet}/{device}/up       agent -> cloud, binary batches, QoS 1
    fw/v1/{fleet}/{device}/status   agent -> cloud, JSON, retained; last will "offline"
    fw/v1/{fleet}/{device}/down     cloud -> agent, JSON commands / config, QoS 1
    fw/v1/{fleet}/{device}/down/ack agent -> cloud, JSON command results

The fleet is in the topic so that a broker ACL can confine a device (and a tenant)
to its own subtree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wire.errors import WireError

PREFIX = "fw/v1"
CHANNELS = ("up", "status", "down", "down/ack")
_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
INGEST_SHARE_GROUP = "fleetwire-ingest"


def check_id(kind: str, value: str) -> str:
    """Return ``value`` if it is a valid fleet or device id, else raise WireError."""
    if not isinstance(value, str) or not _ID.match(value):
        raise WireError(f"invalid {kind} id {value!r}: use 1-64 characters from A-Z a-z 0-9 _ . -")
    return value


def topic_for(fleet: str, device: str, channel: str) -> str:
    """Build the topic of one device's channel (``up``, ``status``, ``down``, ``down/ack``)."""
    if channel not in CHANNELS:
        raise WireError(f"unknown channel {channel!r}; expected one of {CHANNELS}")
    return f"{PREFIX}/{check_id('fleet', fleet)}/{check_id('device', device)}/{channel}"


def uplink_subscription(shared: bool = False) -> str:
    """The cloud's subscription to every device's uplink (optionally an MQTT 5 shared one)."""
    topic = f"{PREFIX}/+/+/up"
    return f"$share/{INGEST_SHARE_GROUP}/{topic}" if shared else topic


@dataclass(frozen=True, slots=True)
class DeviceTopic:
    fleet: str
    device: str
    channel: str


def parse_topic(topic: str) -> DeviceTopic:
    """Split a topic into fleet, device and channel; raise WireError if it is not ours."""
    parts = topic.split("/")
    if len(parts) < 5 or "/".join(parts[:2]) != PREFIX:
        raise WireError(f"topic {topic!r} is not under {PREFIX}/")
    channel = "/".join(parts[4:])
    if channel not in CHANNELS:
        raise WireError(f"topic {topic!r} has unknown channel {channel!r}")
    return DeviceTopic(check_id("fleet", parts[2]), check_id("device", parts[3]), channel)
