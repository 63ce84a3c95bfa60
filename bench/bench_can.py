"""CAN replay throughput on the real heavy-truck capture (12,597 frames, 30 s of J1939).

``can_bare_read_frames_per_s``: python-can's LogReader alone (parsing the candump text).
``can_pipeline_frames_per_s``: LogReader + CanDecoder + DetectorChain, i.e. what
``replay-can`` does minus printing. Best of a few rounds, so a busy core skews less.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import can

from agent.decode.can_decoder import CanDecoder
from agent.detectors import DetectorChain

LOG = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "can"
    / "css_11111111_j1939_heavy_duty_first30s.candump.log"
).resolve()
ROUNDS = 5


def _bare() -> int:
    n = 0
    for _ in can.LogReader(str(LOG)):
        n += 1
    return n


def _pipeline() -> int:
    decoder = CanDecoder()
    chain = DetectorChain()
    feed = chain.feed
    n = 0
    for msg in can.LogReader(str(LOG)):
        n += 1
        for sig in decoder.feed(msg):
            feed(sig)
    return n


def _rate(fn: Callable[[], int]) -> float:
    start = time.perf_counter()
    frames = fn()
    return frames / (time.perf_counter() - start)


def run() -> dict[str, dict[str, float | str]]:
    # Rounds alternate between the two so a burst of load from elsewhere hits both alike.
    bare = pipeline = 0.0
    for _ in range(ROUNDS):
        bare = max(bare, _rate(_bare))
        pipeline = max(pipeline, _rate(_pipeline))
    return {
        "can_pipeline_frames_per_s": {"value": round(pipeline), "unit": "frames/s"},
        "can_bare_read_frames_per_s": {"value": round(bare), "unit": "frames/s"},
    }


if __name__ == "__main__":
    for key, fig in run().items():
        print(f"{key}: {fig['value']} {fig['unit']}")
