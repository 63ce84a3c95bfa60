"""`make bench`: run every benchmark module, print one table, write build/bench.json.

Each ``bench/bench_*.py`` has ``run() -> {"figure_name": {"value": number, "unit": str}}``.
A module that fails is reported and the others still run. Figures are measurements of
this machine at this moment; nothing here is asserted.

    python -m bench.run                 # all
    python -m bench.run nmea wire       # only bench_nmea and bench_wire
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ORDER = ["wire", "nmea", "can", "hos", "ingest", "backlog", "e2e"]


def main(argv: list[str]) -> int:
    available = sorted(p.stem[len("bench_") :] for p in (REPO / "bench").glob("bench_*.py"))
    wanted = argv or [n for n in ORDER if n in available] + [n for n in available if n not in ORDER]
    results: dict[str, dict[str, object]] = {}
    failures = 0
    for name in wanted:
        if name not in available:
            print(f"no benchmark named {name!r}; available: {', '.join(available)}")
            return 2
        started = time.monotonic()
        print(f"running bench_{name} ...", flush=True)
        try:
            module = importlib.import_module(f"bench.bench_{name}")
            figures = module.run()
        except Exception:
            failures += 1
            traceback.print_exc()
            print(f"bench_{name} failed; continuing with the others")
            continue
        results.update(figures)
        print(f"  done in {time.monotonic() - started:.1f} s", flush=True)
    width = max([len(k) for k in results] + [6])
    print()
    print(f"{'figure':<{width}}  {'value':>14}  unit")
    print(f"{'-' * width}  {'-' * 14}  {'-' * 12}")
    for key, fig in results.items():
        value = fig.get("value")
        shown = (
            "n/a"
            if value is None
            else (f"{value:,.2f}" if isinstance(value, float) else f"{value:,}")
        )
        print(f"{key:<{width}}  {shown:>14}  {fig.get('unit', '')}")
    out = REPO / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out.relative_to(REPO)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
