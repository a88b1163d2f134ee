"""How long a trainer's edit to a flow takes to go live, and what the check costs.

The API checks the flow files' timestamps on every customer turn and reloads
what changed, so an edit is live on the next message. This measures, on a
copy of data/flows/, the time from saving an edited file to the engine asking
the edited question (the validator's checks included, as in the API), and the
cost of the per-turn check when nothing changed.

Usage: python scripts/measure_flow_reload.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.flows.engine import FlowEngine  # noqa: E402
from bot.flows.loader import FlowLibrary  # noqa: E402
from bot.flows.validate import flow_errors  # noqa: E402

FLOW = "internet_no_connection"
QUESTION = "Let's look at your router. What do its lights show?"


async def unknown(name: str, slots: dict) -> str:
    return "unknown"


async def measure(rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        flows = Path(folder) / "flows"
        shutil.copytree(ROOT / "data" / "flows", flows)
        # As in the API: every edit is checked as `make validate` checks it.
        check = flow_errors(ROOT / "domain.yml", ROOT / "data" / "catalog")
        library = FlowLibrary(flows, check=check)
        library.reload()
        engine = FlowEngine(library, unknown)
        path = flows / f"{FLOW}.yml"
        original = path.read_text(encoding="utf-8")
        live_ms = []
        for round_number in range(rounds):
            edited = f"Round {round_number}, what do the router's lights show?"
            path.write_text(original.replace(QUESTION, edited), encoding="utf-8")
            saved = time.perf_counter()
            for _ in range(10_000):  # bounded: a broken edit would never go live
                reply = (await engine.start(library.get(FLOW))).replies[-1].text
                if reply == edited:
                    break
            else:
                raise SystemExit(f"The edit never went live: {library.last_error}")
            live_ms.append((time.perf_counter() - saved) * 1000)
            time.sleep(0.02)  # a new modification time for the next round
        checks_us = []
        for _ in range(2000):
            started = time.perf_counter()
            library.reload_if_changed()
            checks_us.append((time.perf_counter() - started) * 1e6)
    return {
        "flow_files": len(list((ROOT / "data" / "flows").glob("*.yml"))),
        "edit_to_live_ms_p50": round(statistics.median(live_ms), 2),
        "edit_to_live_ms_max": round(max(live_ms), 2),
        "unchanged_check_us_p50": round(statistics.median(checks_us), 1),
        "rounds": rounds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    result = asyncio.run(measure(parser.parse_args().rounds))
    print(
        f"An edited flow is live on the next message: saving to asking took "
        f"{result['edit_to_live_ms_p50']} ms (p50), {result['edit_to_live_ms_max']} ms (max); "
        f"the per-turn check costs {result['unchanged_check_us_p50']} µs."
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
