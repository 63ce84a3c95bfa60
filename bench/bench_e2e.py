"""End-to-end throughput: simulator -> agent process -> Mosquitto -> cloud ingest
process -> SQLite, with the simulated truck running far faster than real time.

Figure: positions stored in the cloud database per wall-clock second while the stream
is steady (``e2e_positions_per_s``). At a speed-up of 1000 the simulator itself makes
about 1000 fixes a second, so the figure is a lower bound of what the chain can carry.
Needs the real Mosquitto on 127.0.0.1:1883.
"""

from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path

from tests.harness import CAN_GROUP, Processes, cloud_records, outbox_rows, write_agent_config

SPEEDUP = 1000.0
SIM_SECONDS = 15000.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run() -> dict[str, dict[str, object]]:
    from sim.runner import SimConfig, Simulator

    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
    except OSError:
        return {"e2e_positions_per_s": {"value": None, "unit": "positions/s (no Mosquitto)"}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        fleet, device, can_port = f"bench{int(time.time())}", "truck-bench", _free_port()
        db_url = f"sqlite:///{tmp_path / 'cloud.db'}"
        procs = Processes(tmp_path)
        sim = Simulator(
            SimConfig(
                speedup=SPEEDUP,
                duration_s=SIM_SECONDS,
                loop=True,
                can_interface="udp_multicast",
                can_channel=CAN_GROUP,
                can_options={"port": can_port},
                seed=5,
            )
        )
        try:
            procs.ingest(db_url, "mqtt://127.0.0.1:1883", f"bench-ingest-{fleet}", fleet)
            time.sleep(1.0)
            sim.start()
            outbox = tmp_path / "outbox.db"
            procs.agent(
                write_agent_config(
                    tmp_path / "agent.toml",
                    device=device,
                    fleet=fleet,
                    nmea=sim.nmea_endpoint,
                    can_port=can_port,
                    outbox=outbox,
                )
            )

            def stored() -> int:
                return sum(1 for r in cloud_records(db_url, fleet, device) if r[2] == "position")

            deadline = time.monotonic() + 60
            while stored() < 200 and time.monotonic() < deadline:
                time.sleep(0.5)
            n0, t0 = stored(), time.monotonic()
            sim.wait_finished(SIM_SECONDS / SPEEDUP + 30)
            # wait for the tail to arrive, then take the steady-state rate
            last, same_since = -1, time.monotonic()
            while time.monotonic() - same_since < 3:
                n = stored()
                if n != last:
                    last, same_since = n, time.monotonic()
                time.sleep(0.5)
            elapsed = same_since - t0
            generated = sum(1 for r in outbox_rows(outbox) if r["kind"] == "position")
        finally:
            sim.stop()
            procs.stop_all()
    rate = (last - n0) / elapsed if elapsed > 0 else None
    return {
        "e2e_positions_per_s": {"value": round(rate, 1) if rate else None, "unit": "positions/s"},
        "e2e_positions_generated": {"value": generated, "unit": "positions"},
        "e2e_positions_stored": {"value": last, "unit": "positions"},
    }
