"""Run the driver's local ELD page on its own (bench tests, UI work): events are printed
as JSON lines instead of going to the outbox. The agent itself starts the page when
``[eld] enabled = true``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from agent.eld.duty import DutyStore
from agent.eld.errors import DutyStoreError
from agent.eld.local_ui import LocalUi
from agent.model import Event


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agent.eld.cli",
        description=(
            "Serve the fleetwire driver page (login, duty status, 'still driving?' prompt) "
            "from a duty-store file, printing every ELD event it records as one JSON line. "
            "No vehicle data: motion and engine state stay as last stored."
        ),
        epilog="example: python -m agent.eld.cli --store /tmp/eld.db --port 8081 --allow-pc",
    )
    parser.add_argument("--store", required=True, help="duty-store SQLite file (created)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=8081, help="port (default %(default)s)")
    parser.add_argument("--allow-pc", action="store_true", help="enable personal conveyance")
    parser.add_argument("--allow-ym", action="store_true", help="enable yard move")
    args = parser.parse_args(argv)
    try:
        store = DutyStore(
            args.store, allow_personal_conveyance=args.allow_pc, allow_yard_move=args.allow_ym
        )
    except DutyStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code

    def show(event: Event) -> None:
        line = {"time_ms": event.time_ms, "name": event.name, "lane": event.lane, **event.attrs}
        print(json.dumps(line), flush=True)

    ui = LocalUi(store, show, args.host, args.port)
    try:
        ui.start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        store.close()
        return 3
    print(f"driver page on http://{args.host}:{ui.port}/ (Ctrl-C stops)", file=sys.stderr)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        ui.stop()
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
