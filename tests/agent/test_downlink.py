"""Commands from the cloud over the real Mosquitto: each gets exactly one answer on
down/ack, bad ones a clear error, and a dispatcher's duty-status change becomes an ELD
record with origin "cloud"."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from agent.downlink import Downlink
from agent.eld import DutyStore
from agent.model import LANE_ELD, Event
from agent.outbox import OutboxReader, OutboxWriter
from agent.uplink import Uplink
from wire.topics import topic_for


def test_commands_are_answered_once_each(
    tmp_path: Path, mqtt_broker: tuple[str, int], unique_id: str
) -> None:
    host, port = mqtt_broker
    fleet, device = f"f{unique_id}", "truck-9"
    OutboxWriter(tmp_path / "o.db").close()
    duty = DutyStore(tmp_path / "eld.db")
    duty.login("D0001")
    submitted: list[Event] = []
    downlink = Downlink(lambda: {"pipeline": {"alive": True}}, submitted.append, duty)
    uplink = Uplink(lambda: OutboxReader(tmp_path / "o.db"), fleet, device, f"mqtt://{host}:{port}")
    uplink.command_handler = downlink.handle

    answers: list[dict[str, Any]] = []
    subscribed = threading.Event()
    cloud = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
    cloud.on_subscribe = lambda *a: subscribed.set()
    cloud.on_message = lambda c, u, m: answers.append(json.loads(m.payload))
    cloud.connect(host, port)
    cloud.subscribe(topic_for(fleet, device, "down/ack"), qos=1)
    cloud.loop_start()
    assert subscribed.wait(10)
    uplink.start()
    try:
        deadline = time.monotonic() + 10
        while not uplink.downlink_ready and time.monotonic() < deadline:
            time.sleep(0.05)
        assert uplink.downlink_ready, "the agent never subscribed to its down topic"
        down = topic_for(fleet, device, "down")
        commands = [
            b'{"id": "c1", "command": "ping"}',
            b'{"id": "c2", "command": "reboot"}',
            b"not json",
            b'{"command": "ping"}',
            b'{"id": "c3", "command": "status"}',
            b'{"id": "c4", "command": "eld_set_status", "args": {"status": "on_duty", "note": "loading at dock 4"}}',
            b'{"id": "c5", "command": "eld_set_status", "args": {"status": "flying"}}',
        ]
        for payload in commands:
            cloud.publish(down, payload, qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 15
        while len(answers) < len(commands) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        uplink.stop()
        cloud.loop_stop()
        duty.close()
    by_id = {a["id"]: a for a in answers if a["id"]}
    assert len(answers) == len(commands)
    assert by_id["c1"]["ok"] and by_id["c1"]["result"]["time_ms"] > 0
    assert not by_id["c2"]["ok"] and "unknown command 'reboot'" in by_id["c2"]["error"]
    anonymous = [a for a in answers if a["id"] is None]
    assert len(anonymous) == 2 and all(not a["ok"] for a in anonymous)
    assert any("not JSON" in a["error"] for a in anonymous)
    assert by_id["c3"]["result"] == {"pipeline": {"alive": True}}
    assert by_id["c4"]["ok"] and by_id["c4"]["result"]["status"] == "on_duty"
    assert not by_id["c5"]["ok"] and "status" in by_id["c5"]["error"]
    assert [e.name for e in submitted] == ["eld_duty_status"]
    assert submitted[0].lane == LANE_ELD and submitted[0].attrs["origin"] == "cloud"
