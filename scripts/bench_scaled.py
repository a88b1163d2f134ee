"""Benchmark of the scaled-out stack: messages per second with 1 and with 2 Rasa instances.

`make bench-scaled` calls this. For each instance count N (default 1, then 2) it starts a
`ScaledStack` (scripts/run_scaled.py) with N API workers and N Rasa instances on the local
PostgreSQL, in fresh databases that are dropped afterwards, and Redis, all on free loopback
ports; runs the load of `scripts/bench.py`'s c50 scenario (50 scripted customers,
conversations back to back) with the customers spread round-robin over the workers'
websockets, as a load balancer would; and reports throughput, latency, CPU per message and
peak memory, and the scaling ratio msg/s(2) / msg/s(1). Results go to
docs/benchmarks/scaled-latest.json. See docs/scaling.md for how to read them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import secrets
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from api.config import Settings  # noqa: E402
from scripts.bench import (  # noqa: E402
    CONVERSATIONS,
    TURN_TIMEOUT,
    Recorder,
    RssSampler,
    Step,
    concurrent_load,
    fmt,
    pick_model,
    raise_fd_limit,
    run_header,
    run_ws_conversation,
)
from scripts.run_scaled import ScaledStack  # noqa: E402
from scripts.stack import free_port  # noqa: E402

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_HOST = "redis://127.0.0.1:6379"
CUSTOMERS = 50  # as in bench.py's c50 scenario


def free_ports(count: int, taken: set[int]) -> list[int]:
    """`count` free loopback ports, distinct from each other and from `taken`."""
    ports: list[int] = []
    for _ in range(1000):
        if len(ports) == count:
            return ports
        port = free_port()
        if port not in taken:
            taken.add(port)
            ports.append(port)
    raise RuntimeError("could not find enough free ports")


def create_databases(admin_url: str, names: list[str]) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        for name in names:
            connection.execute(f'CREATE DATABASE "{name}"')


def drop_databases(admin_url: str, names: list[str]) -> None:
    import psycopg

    try:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            for name in names:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error as error:
        print(f"   could not drop {', '.join(names)}: {error}", flush=True)


def make_scaled_stack(
    instances: int, model: Path, log_dir: Path, admin_url: str, redis_db: int, names: list[str]
) -> ScaledStack:
    base = admin_url.rsplit("/", 1)[0]
    app_db, tracker_db = names
    taken: set[int] = set()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        port=free_ports(1, taken)[0],
        database_url=f"{base}/{app_db}",
        tracker_url=f"{base}/{tracker_db}",
        redis_url=f"{REDIS_HOST}/{redis_db}",
        rasa_jwt_secret=secrets.token_urlsafe(24),
        action_token=secrets.token_urlsafe(24),
        operator_token=secrets.token_urlsafe(24),
        # As in bench.py: scripted customers type faster than people.
        max_messages_per_minute=100_000,
        # All the scripted customers come from this machine.
        limits_exempt_addresses="127.0.0.1",
        rasa_timeout_seconds=TURN_TIMEOUT - 5,
    )
    return ScaledStack.create(
        settings,
        model=model,
        api_ports=free_ports(instances, taken),
        rasa_ports=free_ports(instances, taken),
        actions_port=free_ports(1, taken)[0],
        log_dir=log_dir,
    )


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def load(
    scaled: ScaledStack, args: argparse.Namespace, samplers: list[RssSampler]
) -> dict[str, Any]:
    urls = [stack.ws_url for stack in scaled.stacks]
    # A short warm-up so the first measured messages do not pay for lazy loading: every
    # script through every worker (the API spreads conversations over the Rasa instances).
    warmup = Recorder()
    for _ in range(2):
        for url in urls:
            for steps in CONVERSATIONS.values():
                await run_ws_conversation(url, steps, warmup)

    # Each new conversation opens a websocket on the next worker, as a load balancer would.
    opened = [0] * len(urls)
    turn = 0

    async def one(steps: list[Step], recorder: Recorder) -> None:
        nonlocal turn
        index = turn % len(urls)
        turn += 1
        opened[index] += 1
        await run_ws_conversation(urls[index], steps, recorder)

    with contextlib.ExitStack() as sampling:
        for sampler in samplers:
            sampling.enter_context(sampler)
        client_before = client_cpu_seconds()
        recorder = await concurrent_load(
            args.customers, args.duration, one, max_conversations=args.max_conversations
        )
        client_used = client_cpu_seconds() - client_before

    summary = recorder.summary()
    summary["warmup_errors"] = warmup.error_count
    summary["conversations_per_worker"] = opened
    per_instance = []
    totals: dict[str, float] = {"api": 0.0, "rasa": 0.0}
    peaks: dict[str, float] = {"api": 0.0, "rasa": 0.0}
    for stack, sampler in zip(scaled.stacks, samplers, strict=True):
        per_instance.append(
            {"name": stack.name, "cpu_s": dict(sampler.cpu_used), "rss_peak_mb": dict(sampler.peak)}
        )
        for kind in totals:
            totals[kind] += sampler.cpu_used.get(kind) or 0.0
            peaks[kind] += sampler.peak.get(kind) or 0.0
    messages = summary["messages"] or 0
    summary["cpu_s"] = {k: round(v, 2) for k, v in totals.items()}
    summary["cpu_s"]["client"] = round(client_used, 2)
    summary["cpu_ms_per_message"] = (
        {k: round(v * 1000 / messages, 1) for k, v in summary["cpu_s"].items()}
        if messages
        else None
    )
    # The sum over the processes of each one's peak RSS during the load.
    summary["rss_peak_mb_sum"] = {k: round(v, 1) for k, v in peaks.items()}
    summary["per_instance"] = per_instance
    return summary


def run_one(instances: int, args: argparse.Namespace, model: Path, workdir: Path) -> dict[str, Any]:
    """Start N workers and N Rasa instances, load them, stop them, drop their databases."""
    suffix = uuid.uuid4().hex[:8]
    names = [f"bench_scaled_{suffix}", f"bench_scaled_tracker_{suffix}"]
    log_dir = workdir / f"log-{instances}"
    scaled = make_scaled_stack(
        instances, model, log_dir, args.postgres_admin_url, args.redis_db, names
    )
    load_before = [round(x, 2) for x in os.getloadavg()]
    print(
        f"\n-- {instances} API worker(s) + {instances} Rasa instance(s); "
        f"load average {load_before}; logs in {log_dir}",
        flush=True,
    )
    create_databases(args.postgres_admin_url, names)
    try:
        started = time.monotonic()
        scaled.start()
        start_s = round(time.monotonic() - started, 1)
        print(f"   healthy after {start_s} s; {args.customers} customers …", flush=True)
        samplers = [RssSampler(stack) for stack in scaled.stacks]
        summary = asyncio.run(load(scaled, args, samplers))
    finally:
        # A second Ctrl-C must not leave processes or databases behind.
        previous = (
            signal.signal(signal.SIGINT, signal.SIG_IGN),
            signal.signal(signal.SIGTERM, signal.SIG_IGN),
        )
        try:
            for stack in scaled.stacks:  # ScaledStack.stop, going on past a failure
                try:
                    stack.stop()
                except Exception as error:  # noqa: BLE001
                    print(f"   stopping worker {stack.name}: {error!r}", flush=True)
            drop_databases(args.postgres_admin_url, names)
        finally:
            signal.signal(signal.SIGINT, previous[0])
            signal.signal(signal.SIGTERM, previous[1])
    summary = {
        "instances": instances,
        "api_workers": instances,
        "load_average_before": load_before,
        "start_s": start_s,
        **summary,
    }
    print(
        f"   {summary['messages']} messages, {summary['throughput_msg_s']} msg/s, "
        f"p50 {fmt(summary['p50_ms'])} ms, p99 {fmt(summary['p99_ms'])} ms, "
        f"errors {summary['errors']}",
        flush=True,
    )
    return summary


def print_summary(results: dict[str, Any]) -> None:
    print("\n== Scaled-out benchmark ==")
    print(f"cpus: {results['machine']['cpus']}, model {results['model']}")
    print(
        f"{'N':>2}{'load avg':>18}{'msgs':>8}{'msg/s':>8}{'p50':>7}{'p90':>7}{'p99':>7}"
        f"{'err':>5}   CPU ms/msg api/rasa/client   RSS peak MB api/rasa (sum)"
    )
    for run in results["runs"]:
        cpu = run.get("cpu_ms_per_message") or {}
        rss = run["rss_peak_mb_sum"]
        print(
            f"{run['instances']:>2}{str(run['load_average_before']):>18}{run['messages']:>8}"
            f"{run['throughput_msg_s']:>8}{fmt(run['p50_ms']):>7}{fmt(run['p90_ms']):>7}"
            f"{fmt(run['p99_ms']):>7}{run['errors']:>5}   "
            f"{cpu.get('api', '-')}/{cpu.get('rasa', '-')}/{cpu.get('client', '-'):<16}"
            f"{rss['api']}/{rss['rasa']}"
        )
        if run["errors"]:
            print(f"{'':>2}errors: {run['error_kinds']}")
    if results.get("scaling_ratio") is not None:
        print(
            f"scaling: msg/s with {results['scaling_between'][1]} / with "
            f"{results['scaling_between'][0]} instance(s) = {results['scaling_ratio']}"
        )


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", default="1,2", help="comma-separated (default: 1,2)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per run")
    parser.add_argument("--customers", type=int, default=CUSTOMERS, help="concurrent customers")
    parser.add_argument("--model", type=Path, help="a trained model (default: match the data)")
    parser.add_argument("--max-conversations", type=int, default=100_000)
    parser.add_argument("--postgres-admin-url", default=POSTGRES_ADMIN_URL)
    parser.add_argument(
        "--redis-db",
        type=int,
        default=8,
        help="Redis database of the API (Rasa's locks use the next one; default 8)",
    )
    parser.add_argument("--output-dir", type=Path, help="default: docs/benchmarks")
    args = parser.parse_args(argv)
    try:
        instance_list = [int(n) for n in args.instances.split(",") if n.strip()]
    except ValueError:
        parser.error("--instances takes numbers, e.g. 1,2")
    if not instance_list or min(instance_list) < 1 or args.duration <= 0 or args.customers < 1:
        parser.error("--instances must be >= 1, --duration > 0, --customers >= 1")
    output_dir = args.output_dir or ROOT / "docs" / "benchmarks"

    fd_limit = raise_fd_limit(4096)
    model = pick_model(args.model, parser)
    results: dict[str, Any] = {
        **run_header("scripts/bench_scaled.py", argv, model),
        "database": "postgresql",
        "redis_db": args.redis_db,
        "scenario": f"c{args.customers}",
        "customers": args.customers,
        "duration_s": args.duration,
        "fd_limit": fd_limit,
        "runs": [],
    }
    print(
        f"cpus: {os.cpu_count()}, load average before: {results['load_average_before']}",
        flush=True,
    )

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Explicit handlers: a job started in the background inherits an ignored SIGINT.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    workdir = Path(tempfile.mkdtemp(prefix="bench-scaled-"))
    failed = False
    try:
        for instances in instance_list:
            try:
                results["runs"].append(run_one(instances, args, model, workdir))
            except Exception as error:  # noqa: BLE001 - no stack, no PostgreSQL, …
                print(f"The run with {instances} instance(s) failed: {error!r}", flush=True)
                failed = True
                break
    except KeyboardInterrupt:
        print(f"\nInterrupted; stopped. Logs kept in {workdir}", flush=True)
        return 130
    if failed:
        print(f"Logs kept in {workdir}", flush=True)
        return 1
    shutil.rmtree(workdir, ignore_errors=True)

    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    by_count = {run["instances"]: run["throughput_msg_s"] for run in results["runs"]}
    if len(by_count) >= 2:
        low, high = min(by_count), max(by_count)
        results["scaling_between"] = [low, high]
        results["scaling_ratio"] = (
            round(by_count[high] / by_count[low], 2) if by_count[low] else None
        )
    print_summary(results)

    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / "scaled-latest.json"
    target.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nWrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
