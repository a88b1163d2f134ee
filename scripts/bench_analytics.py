"""How long every analytics request takes on a seeded history: `make bench-analytics`.

Run `scripts/seed_analytics.py` first (100,000 conversations by default). This
builds the API in-process on that database (no Rasa needed: analytics never
calls it), signs in with the operator key and times each analytics request
`--repeat` times, printing the median and the slowest against the 1 s target.
Then it adds `--new` fresh conversations and times the first request after
them, which brings the flow-run rollup up to date on the way.

    .venv/bin/python scripts/bench_analytics.py
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import create_engine, func, select  # noqa: E402

from api.config import Settings  # noqa: E402
from api.main import create_app  # noqa: E402
from api.models import Conversation, FlowEvent, FlowRun  # noqa: E402
from bot.flows.loader import FlowLibrary  # noqa: E402
from scripts.seed_analytics import DEFAULT_DATABASE, History, Walker, conversation, write  # noqa: E402

TARGET_SECONDS = 1.0


def requests_to_time(flows: list[str], today: str, first_of_90: str) -> list[tuple[str, str]]:
    wide = f"from={first_of_90}&to={today}"
    timed = [
        ("flows, last 30 days", "/analytics/flows"),
        ("flows, 90 days", f"/analytics/flows?{wide}"),
        ("flows CSV, 90 days", f"/analytics/flows.csv?{wide}"),
        ("by day, 90 days", f"/analytics/daily?{wide}"),
        ("by day, one flow, 90 days", f"/analytics/daily?flow_id={flows[0]}&{wide}"),
        ("by day CSV, 90 days", f"/analytics/daily.csv?{wide}"),
        ("review list, 30 days", "/analytics/review"),
        ("review list, all, 90 days", f"/analytics/review?status=all&{wide}"),
        ("intents", "/analytics/intents"),
    ]
    for flow_id in flows[:3]:
        timed.append((f"steps of {flow_id}, 90 days", f"/analytics/flows/{flow_id}/steps?{wide}"))
    timed.append(
        (f"steps CSV of {flows[0]}, 90 days", f"/analytics/flows/{flows[0]}/steps.csv?{wide}")
    )
    return timed


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--new", type=int, default=1000, help="conversations added at the end")
    args = parser.parse_args(argv)

    token = secrets.token_urlsafe(24)
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=args.database_url,
        operator_token=token,
        rasa_jwt_secret=secrets.token_urlsafe(24),
        action_token=secrets.token_urlsafe(24),
    )
    engine = create_engine(settings.sync_database_url)
    with engine.connect() as connection:
        conversations = connection.execute(select(func.count()).select_from(Conversation)).scalar()
        events = connection.execute(select(func.count()).select_from(FlowEvent)).scalar()
        runs = connection.execute(select(func.count()).select_from(FlowRun)).scalar()
        busiest = connection.execute(
            select(FlowRun.flow_id).group_by(FlowRun.flow_id).order_by(func.count().desc())
        ).scalars()
        flows = list(busiest)
    print(f"Database: {args.database_url}")
    print(f"{conversations} conversations, {events} flow events, {runs} flow runs")
    if not flows:
        print("No history: run scripts/seed_analytics.py first.")
        return 1
    load = os.getloadavg()
    print(
        f"Load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs"
    )

    today = datetime.now(timezone.utc).date()
    headers = {"Authorization": f"Bearer {token}"}
    slowest = 0.0
    with TestClient(create_app(settings)) as client:
        print(f"\n{'request':<52} {'median':>8} {'slowest':>8}")
        for name, path in requests_to_time(
            flows, today.isoformat(), (today - timedelta(days=89)).isoformat()
        ):
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                response = client.get(path, headers=headers)
                times.append(time.perf_counter() - started)
                if response.status_code != 200:
                    print(f"{name}: HTTP {response.status_code} {response.text[:200]}")
                    return 1
            slowest = max(slowest, max(times))
            verdict = "PASS" if max(times) <= TARGET_SECONDS else "MISS"
            print(f"{name:<52} {statistics.median(times):>7.3f}s {max(times):>7.3f}s {verdict}")

        if args.new:
            library = FlowLibrary(settings.flows_dir)
            library.reload()
            rng = random.Random()
            history = History()
            now = datetime.now(timezone.utc)
            prefix = secrets.token_hex(4)
            for number in range(args.new):
                at = now - timedelta(minutes=rng.uniform(40, 600))
                conversation(Walker(library, rng), rng, f"new{prefix}{number:06d}", at, history)
            write(engine, history)
            started = time.perf_counter()
            response = client.get("/analytics/flows", headers=headers)
            elapsed = time.perf_counter() - started
            slowest = max(slowest, elapsed)
            verdict = (
                "PASS" if elapsed <= TARGET_SECONDS and response.status_code == 200 else "MISS"
            )
            label = f"flows after {args.new} new conversations"
            print(f"{label:<52} {elapsed:>7.3f}s {elapsed:>7.3f}s {verdict}")
    engine.dispose()
    load = os.getloadavg()
    print(f"\nLoad average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"Slowest request: {slowest:.3f} s (target {TARGET_SECONDS:.1f} s)")
    return 0 if slowest <= TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
