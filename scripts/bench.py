"""Load benchmark: scripted customer conversations through the real stack.

`make bench` calls this. It starts its own Rasa server and API on free loopback ports
(with a temporary SQLite database unless `--database-url` is given), runs scripted
conversations over the widget's websocket protocol (docs/protocol.md), sends the same
conversations straight to Rasa's channel for comparison, prints the numbers with
PASS/MISS against the targets, and writes them to docs/benchmarks/. See
docs/performance.md for what each number means.

A message round trip is: send a `message` frame, until the `typing` frame with
`active: false` (the end of the assistant's turn).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import platform
import resource
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import aiohttp
import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from api.config import Settings  # noqa: E402
from api.services.rasa_client import mint_jwt  # noqa: E402
from scripts.stack import Stack, free_port  # noqa: E402

ALL_SCENARIOS = ("warm", "c1", "direct", "c10", "c50", "idle", "long")
SMOKE_SCENARIOS = ("warm", "c1", "direct", "c10")
TURN_TIMEOUT = 30.0  # seconds one assistant turn may take before it counts as an error
CONNECT_TIMEOUT = 15.0
MAX_CONVERSATIONS_PER_WORKER = 10_000  # a count limit next to every time limit

# --------------------------------------------------------------------------- conversations
# A step is either ("text", "what the customer types") or ("button", index): press the
# button with that index in the assistant's last reply (title as text, payload sent). When
# the last reply has no such button, the fallback text is sent instead.

Step = tuple[str, Any]

CONVERSATIONS: dict[str, list[Step]] = {
    # Router lights look fine, the restart does not help, a ticket is opened.
    "internet_ticket": [
        ("text", "my internet is not working"),
        ("button", 0),
        ("text", "no"),
        ("text", "still not working"),
    ],
    # No signal on the TV: the box is on, the input and cables do not help.
    "tv_no_signal": [
        ("text", "my tv has no signal"),
        ("button", 0),
        ("text", "yes"),
        ("text", "no"),
        ("text", "no"),
    ],
    # Router lights look fine and a restart fixes it.
    "internet_resolved": [
        ("text", "my internet is not working"),
        ("button", 0),
        ("text", "yes it works now"),
    ],
}

# The long conversation cycles through these: start a flow, answer, start over, ...
LONG_CYCLE: list[Step] = [
    ("text", "my internet is not working"),
    ("button", 0),
    ("text", "yes it works now"),
    ("text", "my tv has no signal"),
    ("button", 0),
    ("text", "start over"),
]

FALLBACK_TEXT = "no"

TARGETS = {
    "c1_p50_ms": 40.0,
    "c1_p99_ms": 150.0,
    "c50_throughput": 60.0,
    "c50_p99_ms": 1000.0,
    "overhead_ratio": 1.2,
    "idle_errors": 0,
    "idle_api_rss_mb": 250.0,
    "long_ratio": 1.5,
    "rasa_rss_mb": 900.0,
    "warm_start_s": 20.0,
}


def next_message(step: Step, buttons: list[dict[str, str]]) -> tuple[str, Optional[str]]:
    """The (text, payload) the customer sends for a step."""
    kind, value = step
    if kind == "button":
        if len(buttons) > value:
            button = buttons[value]
            return button["title"] or button["payload"], button["payload"]
        return FALLBACK_TEXT, None
    return str(value), None


# --------------------------------------------------------------------------- measurements


@dataclass
class Recorder:
    """Latencies (seconds) and errors of one scenario."""

    latencies: list[float] = field(default_factory=list)
    completed_at: list[float] = field(default_factory=list)
    # Latencies by the message sent ("2. [button]", "3. no"): where the slow turns are.
    by_message: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    conversations: int = 0
    started: float = 0.0
    finished: float = 0.0
    window_end: Optional[float] = None  # end of the measured window; the rest is drain

    def record(self, elapsed: float, message: Optional[str] = None) -> None:
        self.latencies.append(elapsed)
        self.completed_at.append(time.perf_counter())
        if message is not None:
            self.by_message.setdefault(message, []).append(elapsed)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def summary(self) -> dict[str, Any]:
        elapsed = max(self.finished - self.started, 1e-9)
        end = self.window_end if self.window_end is not None else self.finished
        window = max(min(end, self.finished) - self.started, 1e-9)
        in_window = sum(1 for t in self.completed_at if t <= self.started + window)
        return {
            "messages": len(self.latencies),
            "conversations": self.conversations,
            "elapsed_s": round(elapsed, 2),
            "window_s": round(window, 2),
            # Messages whose round trip ended inside the window, per second of the window.
            "throughput_msg_s": round(in_window / window, 2),
            "errors": self.error_count,
            "error_kinds": dict(self.errors),
            **percentiles_ms(self.latencies),
            "by_message": {
                message: {"messages": len(values), **percentiles_ms(values)}
                for message, values in sorted(self.by_message.items())
            },
        }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def percentiles_ms(values: list[float]) -> dict[str, Optional[float]]:
    if not values:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "mean_ms": None, "max_ms": None}
    return {
        "p50_ms": round(percentile(values, 50) * 1000, 1),
        "p90_ms": round(percentile(values, 90) * 1000, 1),
        "p99_ms": round(percentile(values, 99) * 1000, 1),
        "mean_ms": round(statistics.fmean(values) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{pid}/task/{task}/children").read_text()
                found.extend(int(p) for p in text.split())
    return found


def rss_mb(pid: Optional[int]) -> Optional[float]:
    """VmRSS of a process and all its descendants, in MB (None when it is gone)."""
    if pid is None:
        return None
    total_kb = 0
    seen: set[int] = set()
    todo = [pid]
    while todo and len(seen) < 1000:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
                    break
        todo.extend(_children(current))
    if pid not in seen or total_kb == 0:
        return None
    return round(total_kb / 1024, 1)


def cpu_seconds(pid: Optional[int]) -> Optional[float]:
    """User + system CPU time of a process and its descendants (live ones), in seconds."""
    if pid is None:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    seen: set[int] = set()
    todo = [pid]
    while todo and len(seen) < 1000:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        todo.extend(_children(current))
    return round(total / ticks, 2)


class RssSampler:
    """Samples the RSS of the API and Rasa in a thread, keeping the peaks."""

    def __init__(self, stack: Stack, interval: float = 0.5) -> None:
        self.stack = stack
        self.interval = interval
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.cpu_before: dict[str, Optional[float]] = {}
        self.cpu_used: dict[str, Optional[float]] = {}

    def sample(self) -> dict[str, Optional[float]]:
        values = {
            "api": rss_mb(self.stack.api.pid if self.stack.api else None),
            "rasa": rss_mb(self.stack.rasa.pid if self.stack.rasa else None),
        }
        for name, value in values.items():
            if value is not None:
                self.peak[name] = max(self.peak.get(name, 0.0), value)
        return values

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def cpu(self) -> dict[str, Optional[float]]:
        return {
            "api": cpu_seconds(self.stack.api.pid if self.stack.api else None),
            "rasa": cpu_seconds(self.stack.rasa.pid if self.stack.rasa else None),
        }

    def checkpoint(self) -> dict[str, Optional[float]]:
        """CPU seconds used since the scenario or the last checkpoint; restarts the count."""
        now = self.cpu()
        used = {
            name: None
            if now[name] is None or self.cpu_before.get(name) is None
            else round(now[name] - self.cpu_before[name], 2)
            for name in now
        }
        self.cpu_before = now
        return used

    def __enter__(self) -> RssSampler:
        self.peak = {}
        self.cpu_before = self.cpu()
        self.sample()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.sample()
        self.cpu_used = self.checkpoint()


# --------------------------------------------------------------------------- websocket client


class TurnError(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Customer:
    """One widget connection speaking docs/protocol.md."""

    def __init__(self, ws_url: str) -> None:
        self.ws_url = ws_url
        self.socket: Any = None
        self.sent = 0

    async def connect(self) -> dict[str, Any]:
        try:
            self.socket = await asyncio.wait_for(
                websockets.connect(self.ws_url, max_size=2**20, open_timeout=CONNECT_TIMEOUT),
                CONNECT_TIMEOUT,
            )
            await self.socket.send(json.dumps({"type": "hello", "session_token": None}))
            while True:
                frame = json.loads(await asyncio.wait_for(self.socket.recv(), CONNECT_TIMEOUT))
                if frame.get("type") == "welcome":
                    return frame
                if frame.get("type") == "error":
                    raise TurnError(f"hello_{frame.get('code')}")
        except TurnError:
            raise
        except asyncio.TimeoutError as error:
            raise TurnError("connect_timeout") from error
        except (OSError, websockets.exceptions.WebSocketException) as error:
            raise TurnError("connect_failed") from error

    async def say(
        self, text: str, payload: Optional[str]
    ) -> tuple[float, list[dict[str, str]], list[str]]:
        """Send a message; return (round trip in s, buttons, texts) of the assistant's turn."""
        self.sent += 1
        client_id = f"b-{self.sent}-{uuid.uuid4().hex[:8]}"
        frame: dict[str, Any] = {"type": "message", "client_id": client_id, "text": text}
        if payload is not None:
            frame["payload"] = payload
        buttons: list[dict[str, str]] = []
        texts: list[str] = []
        started = time.perf_counter()
        deadline = started + TURN_TIMEOUT
        try:
            await self.socket.send(json.dumps(frame))
            while True:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    raise TurnError("turn_timeout")
                reply = json.loads(await asyncio.wait_for(self.socket.recv(), remaining))
                kind = reply.get("type")
                if kind == "error":
                    raise TurnError(f"error_{reply.get('code')}")
                if kind == "message" and reply.get("sender") in ("bot", "system"):
                    if reply["sender"] == "system":
                        raise TurnError("assistant_unavailable")
                    texts.append(reply.get("text", ""))
                    buttons = reply.get("buttons") or buttons
                if kind == "typing" and reply.get("active") is False:
                    return time.perf_counter() - started, buttons, texts
        except asyncio.TimeoutError as error:
            raise TurnError("turn_timeout") from error
        except websockets.exceptions.WebSocketException as error:
            raise TurnError("connection_closed") from error

    async def close(self) -> None:
        if self.socket is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.socket.close(), 5)


async def run_ws_conversation(
    ws_url: str, steps: list[Step], recorder: Recorder, *, show: bool = False
) -> list[float]:
    """One scripted conversation over the websocket; returns its round trips."""
    customer = Customer(ws_url)
    times: list[float] = []
    try:
        await customer.connect()
        buttons: list[dict[str, str]] = []
        for number, step in enumerate(steps, start=1):
            text, payload = next_message(step, buttons)
            elapsed, buttons, texts = await customer.say(text, payload)
            recorder.record(elapsed, f"{number}. {'[button]' if payload else text}")
            times.append(elapsed)
            if show:
                print(f"  > {text}" + (f"  [{payload}]" if payload else ""))
                for line in texts:
                    print(f"    < {line[:110]}")
                print(f"    buttons: {[b['title'] for b in buttons]}  ({elapsed * 1000:.0f} ms)")
        recorder.conversations += 1
    except TurnError as error:
        recorder.error(error.kind)
    finally:
        await customer.close()
    return times


# --------------------------------------------------------------------------- straight to Rasa


class RasaDirect:
    """Sends messages to Rasa's gateway channel as the API does (aiohttp, kept connections)."""

    def __init__(self, rasa_url: str, secret: str) -> None:
        self.url = rasa_url.rstrip("/") + "/webhooks/gateway/webhook"
        self.headers = {"Authorization": f"Bearer {mint_jwt(secret)}"}
        self.client: Optional[aiohttp.ClientSession] = None

    async def say(
        self, sender: str, text: str, payload: Optional[str], message_id: int
    ) -> tuple[float, list[dict[str, str]]]:
        if self.client is None:
            self.client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=2.0),
                timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT, connect=2.0),
                headers=self.headers,
            )
        body = {"sender": sender, "message": payload or text, "metadata": {"message_id": 0}}
        body["metadata"]["message_id"] = message_id
        started = time.perf_counter()
        try:
            async with self.client.post(self.url, json=body) as response:
                status, content = response.status, await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise TurnError("rasa_http_error") from error
        elapsed = time.perf_counter() - started
        if status != 200:
            raise TurnError(f"rasa_status_{status}")
        buttons: list[dict[str, str]] = []
        for item in json.loads(content):
            if isinstance(item, dict) and item.get("buttons"):
                buttons = [
                    {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                    for b in item["buttons"]
                ]
        return elapsed, buttons

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()


async def run_direct_conversation(rasa: RasaDirect, steps: list[Step], recorder: Recorder) -> None:
    sender = f"bench-{uuid.uuid4().hex}"
    buttons: list[dict[str, str]] = []
    try:
        for number, step in enumerate(steps, start=1):
            text, payload = next_message(step, buttons)
            elapsed, buttons = await rasa.say(sender, text, payload, number)
            recorder.record(elapsed)
        recorder.conversations += 1
    except TurnError as error:
        recorder.error(error.kind)


# --------------------------------------------------------------------------- scenarios


async def concurrent_load(
    workers: int, duration: float, run_one: Any, *, max_conversations: int
) -> Recorder:
    """`workers` customers, each running conversations back to back until the time is up."""
    recorder = Recorder()
    deadline = time.monotonic() + duration
    scripts = list(CONVERSATIONS.values())
    started_count = 0

    async def worker(index: int) -> None:
        nonlocal started_count
        for round_number in range(MAX_CONVERSATIONS_PER_WORKER):
            if time.monotonic() >= deadline or started_count >= max_conversations:
                return
            started_count += 1
            await run_one(scripts[(index + round_number) % len(scripts)], recorder)

    recorder.started = time.perf_counter()
    # Stagger the starts a little so the customers do not move in lockstep.
    tasks = []
    for index in range(workers):
        tasks.append(asyncio.create_task(worker(index)))
        await asyncio.sleep(min(0.02, duration / max(workers, 1) / 10))
    recorder.window_end = recorder.started + duration
    await asyncio.wait_for(asyncio.gather(*tasks), duration + 4 * TURN_TIMEOUT)
    recorder.finished = time.perf_counter()
    return recorder


async def paired_load(
    ws_url: str, direct: RasaDirect, duration: float, *, max_conversations: int
) -> tuple[Recorder, Recorder]:
    """One conversation at a time, alternating: Rasa alone, then the same script through
    the whole stack. Alternating keeps both sides under the same background load."""
    alone, whole = Recorder(), Recorder()
    scripts = list(CONVERSATIONS.values())
    deadline = time.monotonic() + duration
    alone.started = whole.started = time.perf_counter()
    for number in range(min(max_conversations, MAX_CONVERSATIONS_PER_WORKER)):
        if time.monotonic() >= deadline:
            break
        steps = scripts[number % len(scripts)]
        await asyncio.wait_for(
            run_direct_conversation(direct, steps, alone), TURN_TIMEOUT * len(steps)
        )
        await run_ws_conversation(ws_url, steps, whole)
    alone.finished = whole.finished = time.perf_counter()
    alone.window_end = whole.window_end = alone.finished
    return alone, whole


async def open_idle_sockets(ws_url: str, count: int, errors: Recorder) -> list[Customer]:
    """Open `count` sockets that each send hello and then stay quiet."""
    opened: list[Customer] = []
    gate = asyncio.Semaphore(50)

    async def open_one() -> None:
        async with gate:
            customer = Customer(ws_url)
            try:
                await customer.connect()
                opened.append(customer)
            except TurnError as error:
                errors.error(f"idle_{error.kind}")

    await asyncio.wait_for(asyncio.gather(*(open_one() for _ in range(count))), 120 + count * 0.1)
    return opened


async def idle_still_open(customers: list[Customer]) -> int:
    """How many idle sockets still answer a ping frame."""

    async def check(customer: Customer) -> bool:
        try:
            await customer.socket.send(json.dumps({"type": "ping"}))
            while True:
                frame = json.loads(await asyncio.wait_for(customer.socket.recv(), 20))
                if frame.get("type") == "pong":
                    return True
        except Exception:  # noqa: BLE001 - any failure means the socket is not usable
            return False

    gate = asyncio.Semaphore(100)

    async def gated(customer: Customer) -> bool:
        async with gate:
            return await check(customer)

    results = await asyncio.gather(*(gated(c) for c in customers))
    return sum(results)


async def long_conversation(ws_url: str, turns: int, time_limit: float) -> dict[str, Any]:
    customer = Customer(ws_url)
    recorder = Recorder()
    per_turn: list[Optional[float]] = []
    deadline = time.monotonic() + time_limit
    recorder.started = time.perf_counter()
    try:
        await customer.connect()
        buttons: list[dict[str, str]] = []
        for turn in range(turns):
            if time.monotonic() >= deadline:
                recorder.error("time_limit")
                break
            text, payload = next_message(LONG_CYCLE[turn % len(LONG_CYCLE)], buttons)
            try:
                elapsed, buttons, _ = await customer.say(text, payload)
            except TurnError as error:
                recorder.error(error.kind)
                per_turn.append(None)
                if error.kind == "connection_closed":
                    break
                continue
            recorder.record(elapsed)
            per_turn.append(elapsed)
        recorder.conversations = 1
    except TurnError as error:
        recorder.error(error.kind)
    finally:
        await customer.close()
    recorder.finished = time.perf_counter()

    def window(first: int, last: int) -> list[float]:
        return [t for t in per_turn[first - 1 : last] if t is not None]

    head, tail = window(1, 10), window(turns - 10, turns)
    result = recorder.summary()
    result.update(
        {
            "turns": turns,
            "per_turn_ms": [None if t is None else round(t * 1000, 1) for t in per_turn],
            "turns_1_10": percentiles_ms(head),
            f"turns_{turns - 10}_{turns}": percentiles_ms(tail),
        }
    )
    if len(per_turn) >= 5:
        result["turn_5_ms"] = result["per_turn_ms"][4]
    if len(per_turn) >= turns:
        result[f"turn_{turns}_ms"] = result["per_turn_ms"][turns - 1]
    if head and tail:
        result["tail_head_p50_ratio"] = round(statistics.median(tail) / statistics.median(head), 2)
    return result


# --------------------------------------------------------------------------- stack


def raise_fd_limit(wanted: int) -> dict[str, int]:
    """Raise RLIMIT_NOFILE for this process; the Stack's children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(soft, wanted)
    if hard != resource.RLIM_INFINITY and target > hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, target))
            hard = target
        except (ValueError, OSError):
            target = hard
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {"soft": soft, "hard": hard}


def newest_model() -> Optional[Path]:
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def pick_model(path: Optional[Path], parser: argparse.ArgumentParser) -> Path:
    """The model named on the command line, or the one matching the data (trained if needed)."""
    if path:
        model = path.resolve()
    else:
        from scripts.train import ensure_model

        model = ensure_model()
    if not model.is_file():
        parser.error(f"no model at {model}")
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    return model


def run_header(script: str, argv: Optional[list[str]], model: Path) -> dict[str, Any]:
    """What every results file starts with: when, the exact command, the machine, the model."""
    started = dt.datetime.now(dt.timezone.utc)
    return {
        "date": started.strftime("%Y-%m-%d"),
        "started_at": started.isoformat(timespec="seconds"),
        "command": f"{script} " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "model": model.name,
    }


def make_stack(workdir: Path, model: Path, database_url: Optional[str]) -> Stack:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        port=free_port(),
        database_url=database_url or f"sqlite:///{workdir / 'app.db'}",
        tracker_url=f"sqlite:///{workdir / 'tracker.db'}",
        rasa_jwt_secret=secrets.token_urlsafe(24),
        action_token=secrets.token_urlsafe(24),
        operator_token=secrets.token_urlsafe(24),
        # Scripted customers type faster than people; the per-socket limit would stop
        # the 200-turn conversation, so it is lifted for the benchmark.
        max_messages_per_minute=100_000,
        # All the scripted customers come from this machine.
        limits_exempt_addresses="127.0.0.1",
        rasa_timeout_seconds=TURN_TIMEOUT - 5,
    )
    return Stack(settings=settings, rasa_port=free_port(), model=model, log_dir=workdir / "log")


def wait_warm(stack: Stack, time_limit: float = 180) -> dict[str, Any]:
    """Start Rasa and the API; time Rasa's start until /status reports a loaded model."""
    started = time.monotonic()
    stack.start_rasa(wait=False)
    stack.start_api(wait=False)
    headers = {"Authorization": f"Bearer {mint_jwt(stack.settings.rasa_jwt_secret)}"}
    status_url = f"http://127.0.0.1:{stack.rasa_port}/status"
    rasa_ready: Optional[float] = None
    health_ready: Optional[float] = None
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() - started < time_limit:
            for name, process in (("Rasa", stack.rasa), ("API", stack.api)):
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"{name} exited early; see {stack.log_dir}")
            now = time.monotonic() - started
            if rasa_ready is None:
                with contextlib.suppress(httpx.HTTPError):
                    response = client.get(status_url, headers=headers)
                    if response.status_code == 200 and response.json().get("model_file"):
                        rasa_ready = now
            if health_ready is None:
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{stack.base_url}/health").status_code == 200:
                        health_ready = now
            if rasa_ready is not None and health_ready is not None:
                break
            time.sleep(0.2)
    if rasa_ready is None or health_ready is None:
        raise TimeoutError(f"The stack was not healthy within {time_limit:.0f} s")
    return {"rasa_status_s": round(rasa_ready, 2), "api_health_s": round(health_ready, 2)}


# --------------------------------------------------------------------------- reporting


def verdict(ok: Optional[bool]) -> str:
    return "n/a " if ok is None else ("PASS" if ok else "MISS")


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    s = results["scenarios"]
    checks: list[dict[str, Any]] = []

    def add(name: str, value: Any, target: str, ok: Optional[bool]) -> None:
        checks.append({"check": name, "value": value, "target": target, "result": verdict(ok)})

    def le(value: Any, limit: float) -> Optional[bool]:
        return None if value is None else value <= limit

    c1 = s.get("c1")
    if c1:
        add("1 conversation p50 (ms)", c1["p50_ms"], "<= 40", le(c1["p50_ms"], 40))
        add("1 conversation p99 (ms)", c1["p99_ms"], "<= 150", le(c1["p99_ms"], 150))
    c50 = s.get("c50")
    if c50:
        add(
            "50 conversations throughput (msg/s)",
            c50["throughput_msg_s"],
            ">= 60",
            c50["throughput_msg_s"] >= 60,
        )
        add("50 conversations p99 (ms)", c50["p99_ms"], "<= 1000", le(c50["p99_ms"], 1000))
    overhead = results.get("gateway_overhead")
    if overhead:
        add("gateway overhead p50", overhead["p50_ratio"], "<= 1.2", le(overhead["p50_ratio"], 1.2))
        add("gateway overhead p99", overhead["p99_ratio"], "<= 1.2", le(overhead["p99_ratio"], 1.2))
    idle = s.get("idle")
    if idle:
        label = f"{idle['idle_sockets_requested']:,} idle + 50 active"
        add(f"{label}: errors", idle["errors"], "== 0", idle["errors"] == 0)
        add(
            f"{label}: API RSS (MB)",
            idle["api_rss_peak_mb"],
            "<= 250",
            le(idle["api_rss_peak_mb"], 250),
        )
    long = s.get("long")
    if long and long.get("tail_head_p50_ratio") is not None:
        add(
            f"long conversation: p50 of turns {long['turns'] - 10}-{long['turns']} / turns 1-10",
            long["tail_head_p50_ratio"],
            "<= 1.5",
            le(long["tail_head_p50_ratio"], 1.5),
        )
    rasa_rss = results.get("rss_mb", {}).get("rasa_peak")
    if rasa_rss is not None:
        add("Rasa RSS after load (MB)", rasa_rss, "<= 900", le(rasa_rss, 900))
    warm = s.get("warm")
    if warm:
        add(
            "warm start, Rasa /status (s)",
            warm["rasa_status_s"],
            "<= 20",
            le(warm["rasa_status_s"], 20),
        )
    return checks


def print_summary(results: dict[str, Any]) -> None:
    print("\n== Results ==")
    print(f"load average before: {results['load_average_before']}")
    header = f"{'scenario':<10}{'msgs':>7}{'conv':>6}{'msg/s':>8}{'p50':>8}{'p90':>8}"
    print(header + f"{'p99':>8}{'err':>5}   RSS api/rasa MB (peak)")
    for name, data in results["scenarios"].items():
        if "messages" not in data:
            continue
        rss = data.get("rss_peak_mb", {})
        print(
            f"{name:<10}{data['messages']:>7}{data['conversations']:>6}"
            f"{data['throughput_msg_s']:>8}{fmt(data['p50_ms']):>8}{fmt(data['p90_ms']):>8}"
            f"{fmt(data['p99_ms']):>8}{data['errors']:>5}   "
            f"{rss.get('api', '-')}/{rss.get('rasa', '-')}"
        )
        if data["errors"]:
            print(f"{'':<10}errors: {data['error_kinds']}")
        if data.get("cpu_ms_per_message"):
            print(f"{'':<10}CPU ms per message (api/rasa): {data['cpu_ms_per_message']}")
    c50 = results["scenarios"].get("c50", {}).get("by_message")
    if c50:
        print("c50 by message sent (p50 / p99 ms):")
        for message, data in c50.items():
            print(
                f"{'':<10}{message[:30]:<32}{data['messages']:>6}"
                f"{fmt(data['p50_ms']):>8}{fmt(data['p99_ms']):>8}"
            )
    long = results["scenarios"].get("long")
    if long:
        head = long["turns_1_10"]["p50_ms"]
        tail_key = next(k for k in long if k.startswith("turns_") and k != "turns_1_10")
        print(
            f"long conversation: p50 turns 1-10 {fmt(head)} ms, {tail_key} "
            f"{fmt(long[tail_key]['p50_ms'])} ms, ratio {long.get('tail_head_p50_ratio')}"
        )
    overhead = results.get("gateway_overhead")
    if overhead:
        print(
            f"gateway overhead (whole stack / Rasa alone, 1 conversation, alternating): "
            f"p50 {overhead['p50_ratio']}, p99 {overhead['p99_ratio']} "
            f"(+{overhead['p50_added_ms']} ms at p50)"
        )
    warm = results["scenarios"].get("warm")
    if warm:
        print(
            f"warm start: Rasa /status after {warm['rasa_status_s']} s, "
            f"API /health after {warm['api_health_s']} s"
        )
    print(f"RSS (MB): {results.get('rss_mb')}")
    print("\n== Targets (2-core machine) ==")
    for check in results["checks"]:
        print(f"  {check['result']}  {check['check']}: {check['value']} (target {check['target']})")


def fmt(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.0f}"


def write_svg(results: dict[str, Any], path: Path) -> None:
    """A small dependency-free SVG: percentiles per scenario, and the long conversation."""
    width, height = 760, 300
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="16" font-size="13">Message round trip (ms), '
        f"{results['date']}, load avg {results['load_average_before'][0]}</text>",
    ]
    rows = [
        (name, data)
        for name, data in results["scenarios"].items()
        if "p50_ms" in data and data.get("p99_ms") is not None and name != "long"
    ]
    # Left: grouped bars p50/p90/p99 on a logarithmic scale from 10 ms.
    left, top, plot_w, plot_h = 50, 40, 360, 210
    decades = max(1, math.ceil(math.log10(max([d["p99_ms"] for _, d in rows] + [100.0])) - 1))

    def scaled(value: float) -> float:
        return plot_h * min(max(math.log10(max(value, 10.0)) - 1, 0.0) / decades, 1.0)

    colours = {"p50_ms": "#4c78a8", "p90_ms": "#f58518", "p99_ms": "#e45756"}
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="black"/>'
    )
    for tick in range(decades + 1):
        value = 10 ** (tick + 1)
        y = top + plot_h - plot_h * tick / decades
        parts.append(f'<text x="{left - 4}" y="{y + 4:.0f}" text-anchor="end">{value:.0f}</text>')
        parts.append(
            f'<line x1="{left}" y1="{y:.0f}" x2="{left + plot_w}" y2="{y:.0f}" stroke="#ddd"/>'
        )
    group = plot_w / max(len(rows), 1)
    for index, (name, data) in enumerate(rows):
        for offset, key in enumerate(colours):
            bar_h = scaled(data[key] or 0)
            x = left + index * group + 6 + offset * (group - 12) / 3
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" width="{(group - 12) / 3:.1f}" '
                f'height="{bar_h:.1f}" fill="{colours[key]}"/>'
            )
        parts.append(
            f'<text x="{left + index * group + group / 2:.0f}" y="{top + plot_h + 14}" '
            f'text-anchor="middle">{name}</text>'
        )
    for offset, key in enumerate(colours):
        parts.append(
            f'<rect x="{left + offset * 60}" y="{height - 22}" width="10" height="10" '
            f'fill="{colours[key]}"/><text x="{left + offset * 60 + 14}" y="{height - 13}">'
            f"{key[:3]}</text>"
        )
    # Right: the long conversation, latency per turn.
    long = results["scenarios"].get("long")
    left2, plot_w2 = 460, 280
    parts.append(f'<text x="{left2}" y="34">long conversation: ms per turn</text>')
    if long and long.get("per_turn_ms"):
        points = [(i, v) for i, v in enumerate(long["per_turn_ms"]) if v is not None]
        top2 = max([v for _, v in points] + [1.0])
        count = max(len(long["per_turn_ms"]) - 1, 1)
        coords = " ".join(
            f"{left2 + plot_w2 * i / count:.1f},{top + plot_h - plot_h * v / top2:.1f}"
            for i, v in points
        )
        parts.append(f'<polyline points="{coords}" fill="none" stroke="#4c78a8"/>')
        parts.append(
            f'<line x1="{left2}" y1="{top + plot_h}" x2="{left2 + plot_w2}" y2="{top + plot_h}" '
            'stroke="black"/>'
        )
        parts.append(f'<text x="{left2 - 4}" y="{top + 4}" text-anchor="end">{top2:.0f}</text>')
        parts.append(f'<text x="{left2}" y="{top + plot_h + 14}">1</text>')
        parts.append(
            f'<text x="{left2 + plot_w2}" y="{top + plot_h + 14}" text-anchor="end">'
            f"{count + 1}</text>"
        )
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


# --------------------------------------------------------------------------- main


async def run_scenarios(
    stack: Stack, args: argparse.Namespace, results: dict[str, Any], sampler: RssSampler
) -> None:
    scenarios = results["scenario_list"]
    out = results["scenarios"]
    duration = args.duration
    ws_url = stack.ws_url

    async def ws_one(steps: list[Step], recorder: Recorder) -> None:
        await run_ws_conversation(ws_url, steps, recorder)

    if args.show:
        print("\nSample conversations (whole stack):")
        for name, steps in CONVERSATIONS.items():
            print(f"- {name}")
            await run_ws_conversation(ws_url, steps, Recorder(), show=True)

    # A short warm-up so the first measured messages do not pay for lazy loading.
    warmup = Recorder()
    for steps in CONVERSATIONS.values():
        await run_ws_conversation(ws_url, steps, warmup)
    results["warmup_errors"] = warmup.error_count

    direct: Optional[RasaDirect] = None
    load_cpu: dict[str, Optional[float]] = {}
    try:
        for name in scenarios:
            if name == "warm":
                continue
            print(f"-- scenario {name} …", flush=True)
            with sampler:
                if name in ("c1", "c10", "c50"):
                    workers = int(name[1:])
                    recorder = await concurrent_load(
                        workers, duration, ws_one, max_conversations=args.max_conversations
                    )
                    out[name] = recorder.summary()
                elif name == "direct":
                    direct = RasaDirect(
                        f"http://127.0.0.1:{stack.rasa_port}", stack.settings.rasa_jwt_secret
                    )
                    alone, whole = await paired_load(
                        ws_url, direct, duration, max_conversations=args.max_conversations
                    )
                    out[name] = alone.summary()
                    out["paired_ws"] = whole.summary()
                    out["paired_ws"]["rss_peak_mb"] = dict(sampler.peak)
                elif name == "idle":
                    connect_errors = Recorder()
                    opened_at = time.perf_counter()
                    idle = await open_idle_sockets(ws_url, args.idle_sockets, connect_errors)
                    open_s = time.perf_counter() - opened_at
                    # Opening 2,000 sockets costs CPU too: counted apart from the load.
                    opening_cpu = sampler.checkpoint()
                    try:
                        print(f"   {len(idle)} idle sockets open after {open_s:.1f} s", flush=True)
                        recorder = await concurrent_load(
                            50, duration, ws_one, max_conversations=args.max_conversations
                        )
                        load_cpu = sampler.checkpoint()
                        alive = await idle_still_open(idle)
                    finally:
                        await asyncio.gather(*(c.close() for c in idle))
                    summary = recorder.summary()
                    summary["idle_sockets_requested"] = args.idle_sockets
                    summary["idle_sockets_opened"] = len(idle)
                    summary["idle_sockets_alive_after"] = alive
                    summary["idle_open_s"] = round(open_s, 1)
                    summary["cpu_s_opening_sockets"] = opening_cpu
                    lost = args.idle_sockets - alive
                    if lost:
                        summary["error_kinds"]["idle_sockets_lost"] = lost
                    for kind, count in connect_errors.errors.items():
                        summary["error_kinds"][kind] = count
                    summary["errors"] = recorder.error_count + lost
                    out[name] = summary
                elif name == "long":
                    out[name] = await long_conversation(ws_url, args.long_turns, args.long_limit)
            out[name]["rss_peak_mb"] = dict(sampler.peak)
            # CPU seconds each process used during the scenario's load (for `idle`,
            # without opening and closing the idle sockets), and per message (ms).
            cpu_used = load_cpu if name == "idle" else dict(sampler.cpu_used)
            out[name]["cpu_s"] = cpu_used
            total = out[name].get("messages") or 0
            if name == "direct":
                total += out["paired_ws"].get("messages") or 0
            if total:
                out[name]["cpu_ms_per_message"] = {
                    k: None if v is None else round(v * 1000 / total, 1)
                    for k, v in cpu_used.items()
                }
            if name == "idle":
                out[name]["api_rss_peak_mb"] = sampler.peak.get("api")
            data = out[name]
            print(
                f"   {data.get('messages')} messages, p50 {fmt(data.get('p50_ms'))} ms, "
                f"p99 {fmt(data.get('p99_ms'))} ms, {data.get('throughput_msg_s')} msg/s, "
                f"errors {data.get('errors')}",
                flush=True,
            )
    finally:
        if direct is not None:
            await direct.close()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenarios",
        default=",".join(ALL_SCENARIOS),
        help=f"comma-separated, from {','.join(ALL_SCENARIOS)} (default: all)",
    )
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per load scenario")
    parser.add_argument("--smoke", action="store_true", help="1 and 10 conversations, short")
    parser.add_argument("--model", type=Path, help="a trained model (default: match the data)")
    parser.add_argument("--database-url", help="the API's database (default: a temp SQLite)")
    parser.add_argument("--idle-sockets", type=int, default=2000)
    parser.add_argument("--long-turns", type=int, default=200)
    parser.add_argument("--long-limit", type=float, default=600.0, help="seconds, long scenario")
    parser.add_argument("--max-conversations", type=int, default=100_000)
    parser.add_argument(
        "--output-dir",
        type=Path,
        help="where results go (default: docs/benchmarks, or var/bench with --smoke)",
    )
    parser.add_argument("--show", action="store_true", help="print one transcript of each script")
    parser.add_argument("--replot", type=Path, help="only redraw latency.svg from a results JSON")
    args = parser.parse_args(argv)
    if args.replot:
        target = (args.output_dir or args.replot.parent) / "latency.svg"
        write_svg(json.loads(args.replot.read_text()), target)
        print(f"Wrote {target}")
        return 0

    if args.smoke:
        if args.scenarios == ",".join(ALL_SCENARIOS):
            args.scenarios = ",".join(SMOKE_SCENARIOS)
        args.duration = min(args.duration, 10.0)
    scenario_list = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in scenario_list if s not in ALL_SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")
    if args.duration <= 0 or args.idle_sockets < 0 or args.long_turns < 20:
        parser.error("--duration must be > 0, --idle-sockets >= 0, --long-turns >= 20")
    output_dir = args.output_dir or (ROOT / ("var/bench" if args.smoke else "docs/benchmarks"))

    # Every socket is a file descriptor in this process and in the API: raise the limit
    # before the Stack starts so its children inherit it.
    fd_limit = raise_fd_limit(args.idle_sockets * 2 + 1024)

    model = pick_model(args.model, parser)
    results: dict[str, Any] = {
        **run_header("scripts/bench.py", argv, model),
        "database": "postgresql" if args.database_url else "sqlite (temporary file)",
        "duration_s": args.duration,
        "fd_limit": fd_limit,
        "scenario_list": scenario_list,
        "scenarios": {},
    }

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Explicit handlers: a job started in the background inherits an ignored SIGINT.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    stack = make_stack(workdir, model, args.database_url)
    sampler = RssSampler(stack)
    interrupted = False
    try:
        print(f"Starting Rasa and the API (logs in {workdir / 'log'}) …", flush=True)
        warm = wait_warm(stack)
        if "warm" in scenario_list:
            results["scenarios"]["warm"] = warm
        results["rss_mb"] = {"after_start": sampler.sample()}
        print(f"   healthy: {warm}", flush=True)
        asyncio.run(run_scenarios(stack, args, results, sampler))
        final = sampler.sample()
        results["rss_mb"]["after_load"] = final
        results["rss_mb"]["api_peak"] = max(
            [d.get("rss_peak_mb", {}).get("api", 0) for d in results["scenarios"].values()]
            + [final["api"] or 0]
        )
        results["rss_mb"]["rasa_peak"] = max(
            [d.get("rss_peak_mb", {}).get("rasa", 0) for d in results["scenarios"].values()]
            + [final["rasa"] or 0]
        )
    except KeyboardInterrupt:
        interrupted = True
        print("\nInterrupted; stopping …", flush=True)
    finally:
        stack.stop()
        keep_logs = interrupted or sys.exc_info()[0] is not None
        if keep_logs:
            print(f"Logs kept in {workdir / 'log'}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if interrupted:
        return 130

    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    whole, direct = results["scenarios"].get("paired_ws"), results["scenarios"].get("direct")
    if whole and direct and whole["p50_ms"] and direct["p50_ms"]:
        results["gateway_overhead"] = {
            "p50_ratio": round(whole["p50_ms"] / direct["p50_ms"], 2),
            "p99_ratio": round(whole["p99_ms"] / direct["p99_ms"], 2),
            "p50_added_ms": round(whole["p50_ms"] - direct["p50_ms"], 1),
            "p99_added_ms": round(whole["p99_ms"] - direct["p99_ms"], 1),
        }
    results["checks"] = evaluate(results)
    print_summary(results)

    output_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2) + "\n"
    dated = output_dir / f"results-{results['date']}.json"
    dated.write_text(text)
    (output_dir / "latest.json").write_text(text)
    write_svg(results, output_dir / "latency.svg")
    print(f"\nWrote {dated}, {output_dir / 'latest.json'} and {output_dir / 'latency.svg'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
