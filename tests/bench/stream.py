"""Live feed and ingest figures: many stream subscribers on one Alpine, and ingest
requests per second with one and with two workers.

The subscribers run in a child process (`python -m tests.bench.stream subscribe`):
one asyncio loop holding every SSE connection (a bare `asyncio.Protocol` each, so a
read costs little), so their reading does not compete with the sender for one
interpreter. Every loop is bounded in count and time.

Three measurements, on loopback, Alpine on PostgreSQL:

- `stream_10_*`, `stream_1000_*`: 10 and then 1,000 streams (tiers dealt round-robin)
  while signals arrive at 10/s; every signal is due for starter 1 s after it is sent,
  so the delayed tier is released by the feed's timer. Latency from the sender's
  `201` (for starter: from its due time) to the subscriber reading the event.
- `stream_100hz_*`: the same 1,000 streams, then signals at 100/s, each timestamped
  further back than the starter delay so every tier may see it at commit. Latency
  from a clock read just before the ingest POST (so Alpine's ingest and commit are
  inside it) to the subscriber reading the event; Argo's own relay hop is not.
- `stream_idle_*`: 10,000 idle streams on a fresh one-worker Alpine: its RSS growth
  per stream, and the fan-out of signals at 1/s (POST sent -> the last of every
  stream has read the event).
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.bench.stats import percentile
from tests.kit.pgdb import conninfo
from tests.support import ROOT, AlpineServer, child_env, cli, signal_payload

TIERS = ("elite", "pro", "starter")  # subscribers are dealt round-robin over these
TICKS = os.sysconf("SC_CLK_TCK")
STARTER_DELAY = timedelta(minutes=15)
PAST = STARTER_DELAY + timedelta(minutes=1)  # a signal this old: every tier at commit
DRAIN_SECONDS = 2.0
WARM_UP_SECONDS = 3.0
FAST_WARM_UP_SECONDS = 1.0
SETTLE_SECONDS = 1.0
FD_SPARE = 200  # descriptors a process keeps for everything but the streams
OPENING = 500  # streams connecting at once in the child (the accept queue is 2,048)
OPEN_TIMEOUT = 180.0  # every stream has had its `retry:` line (or failed)
PRIME_TIMEOUT = 60.0  # every open stream has read a first signal
PROBE_SECONDS = 0.5
FAST_SENDERS = 4  # so one slow POST does not hold back the signals after it
Arrivals = dict[str, dict[str, list[float]]]  # signal_id -> tier -> read at (wall clock)


@dataclass(frozen=True)
class StreamFigures:
    subscribers: int
    deliveries: int
    expected: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    alpine_cpu_pct: float
    client_cpu_pct: float
    db_queries_per_s: float


@dataclass(frozen=True)
class FastFigures:
    """Signals at `rate_per_s` to every tier at commit; times from the POST's send."""

    subscribers: int
    rate_per_s: float
    deliveries: int
    expected: int
    sent_to_read_p50_ms: float
    sent_to_read_p99_ms: float
    sent_to_read_max_ms: float
    answered_to_read_p50_ms: float
    answered_to_read_p99_ms: float
    post_p50_ms: float
    post_p99_ms: float
    streams_closed: int
    alpine_cpu_pct: float
    alpine_cpu_us_per_delivery: float  # Alpine's CPU / events written to streams
    client_cpu_pct: float
    db_queries_per_s: float
    load_1m: float  # the machine's load average as the run ended (2 cores: > 2 is busy)


@dataclass(frozen=True)
class IdleFigures:
    """Many idle streams on one worker: memory each, and fan-out at 1 signal/s."""

    requested: int
    subscribers: int
    fd_soft_limit: int
    open_s: float
    rss_start_mib: float
    rss_open_mib: float
    rss_end_mib: float
    rss_per_sub_kib: float
    signals: int
    signals_to_all: int
    deliveries: int
    expected: int
    fanout_p50_ms: float
    fanout_p99_ms: float
    fanout_max_ms: float
    first_read_p50_ms: float
    streams_closed: int
    alpine_cpu_pct: float
    alpine_cpu_ms_per_signal: float  # Alpine's CPU per signal fanned out to every stream
    client_cpu_pct: float
    load_1m: float


@dataclass(frozen=True, slots=True)
class Sent:
    sent: float  # wall clock just before the POST
    acked: float  # wall clock when its 201 was read
    due: float  # when starter may see it


def tokens(database_url: str) -> dict[str, str]:
    """One subscriber per tier (streams of a tier share its token)."""
    found = {}
    for tier in TIERS:
        result = cli(
            "alpine",
            "subscribers",
            "add",
            f"bench-{tier}",
            "--tier",
            tier,
            env={"ALPINE_DATABASE_URL": database_url},
        )
        assert result.returncode == 0, result.stderr
        found[tier] = result.stdout.strip().splitlines()[-1]
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and its (reaped or live) worker children."""
    total = 0.0
    for proc in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15]) / TICKS  # utime stime cutime cstime
    return total


def rss_kib(pid: int) -> int:
    """Resident memory of `pid` and its live children, KiB."""
    total = 0
    for proc in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{proc}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.M)
        total += int(found.group(1)) if found else 0
    return total


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def db_queries(server: AlpineServer) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    found = re.search(r"^alpine_db_queries_total ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards `wanted` (never past the hard
    limit); children started afterwards inherit it. Returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


class Subscribers:
    """The child process holding `count` streams, tiers dealt round-robin."""

    def __init__(
        self, server: AlpineServer, token_of: dict[str, str], count: int, limit: float, work: Path
    ) -> None:
        self.out = work / f"arrivals-{count}-{time.monotonic_ns()}.json"
        args = [server.url, str(count), str(limit), str(self.out), json.dumps(token_of)]
        self.child = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.stream", "subscribe", *args],
            cwd=ROOT,
            env=child_env({}),
            stdout=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.fd_soft_limit, self.count = self.expect("fds", 30)
        self.closed = 0

    def _read(self) -> None:
        assert self.child.stdout is not None
        for line in self.child.stdout:  # ends at the child's exit
            self._lines.put(line)
        self._lines.put("")

    def expect(self, word: str, timeout: float) -> tuple[int, ...]:
        """The numbers on the child's next line, which must start with `word`."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"subscriber child: no {word!r} in {timeout} s") from None
        parts = line.split()
        assert parts and parts[0] == word, f"subscriber child said {line!r}, not {word!r}"
        return tuple(int(p) for p in parts[1:])

    def open(self) -> int:
        """Waits until every stream had its first line; how many did."""
        return self.expect("open", OPEN_TIMEOUT + 30)[0]

    def prime(self, server: AlpineServer) -> int:
        """Sends probe signals (every tier at commit) until every open stream has read
        one, so each is subscribed to the feed, not only answered; how many have."""
        deadline = time.monotonic() + PRIME_TIMEOUT + 30
        with httpx.Client(base_url=server.url, timeout=10) as client:
            while time.monotonic() < deadline:
                _post(client, server, datetime.now(UTC) - PAST, 0)
                try:
                    line = self._lines.get(timeout=PROBE_SECONDS)
                except queue.Empty:
                    continue
                parts = line.split()
                assert parts and parts[0] == "primed", f"subscriber child said {line!r}"
                return int(parts[1])
        raise AssertionError("subscriber child: streams not primed in time")

    def arrivals(self) -> Arrivals:
        """Stops the child (it writes what it read on SIGTERM) and reads that."""
        try:
            self.child.terminate()
            self.child.wait(60)
        finally:
            if self.child.poll() is None:
                self.child.kill()
                self.child.wait(10)
        written = json.loads(self.out.read_text())
        self.closed = int(written["closed"])
        arrivals: Arrivals = written["arrivals"]
        return arrivals

    def kill(self) -> None:
        if self.child.poll() is None:
            self.child.kill()
            self.child.wait(10)


def stream_runs(
    server: AlpineServer,
    token_of: dict[str, str],
    subscribers: int,
    seconds: float,
    work: Path,
    fast_rate: float | None = None,
) -> tuple[StreamFigures, FastFigures | None]:
    """`subscribers` open streams while signals arrive at 10/s for `seconds`; then, if
    `fast_rate`, the same streams while signals arrive at `fast_rate`/s."""
    limit = OPEN_TIMEOUT + PRIME_TIMEOUT + 2 * (seconds + WARM_UP_SECONDS + DRAIN_SECONDS) + 60
    group = Subscribers(server, token_of, subscribers, limit, work)
    fast: tuple[dict[str, Sent], tuple[float, float], float, float] | None = None
    try:
        opened = group.open()
        assert opened == subscribers, f"{opened} of {subscribers} streams opened"
        primed = group.prime(server)
        assert primed == subscribers, f"{primed} of {subscribers} streams read a signal"
        # Warm-up, not measured: the objects of 1,000 new connections get promoted
        # through the garbage collector's generations in the first seconds.
        send_paced(server, rate=10.0, seconds=WARM_UP_SECONDS)
        sent, cpu, qps, _ = _measured(server, group, 10.0, seconds, past=False)
        time.sleep(DRAIN_SECONDS)  # let the last starter releases (due 1 s after sending) land
        if fast_rate is not None:
            send_paced(server, fast_rate, FAST_WARM_UP_SECONDS, past=True, senders=FAST_SENDERS)
            fast = _measured(server, group, fast_rate, seconds, past=True, senders=FAST_SENDERS)
            time.sleep(DRAIN_SECONDS)
        arrivals = group.arrivals()
    finally:
        group.kill()
    slow = _figures(subscribers, sent, arrivals, cpu, qps)
    if fast is None:
        return slow, None
    return slow, _fast_figures(subscribers, fast, arrivals, group.closed)


def _measured(
    server: AlpineServer,
    group: Subscribers,
    rate: float,
    seconds: float,
    past: bool,
    senders: int = 1,
) -> tuple[dict[str, Sent], tuple[float, float], float, float]:
    """Signals at `rate` for `seconds`: what was sent, Alpine's and the client's CPU
    (fraction of one core), Alpine's queries/s, the rate achieved."""
    cpu0, q0, t0 = cpu_seconds(server.process.pid), db_queries(server), time.monotonic()
    client0 = cpu_seconds(group.child.pid)
    sent = send_paced(server, rate=rate, seconds=seconds, past=past, senders=senders)
    wall = time.monotonic() - t0
    cpu1, q1 = cpu_seconds(server.process.pid), db_queries(server)
    client_cpu = (cpu_seconds(group.child.pid) - client0) / wall
    return sent, ((cpu1 - cpu0) / wall, client_cpu), (q1 - q0) / wall, len(sent) / wall


def _figures(
    subscribers: int,
    sent: dict[str, Sent],
    arrivals: Arrivals,
    cpu: tuple[float, float],
    qps: float,
) -> StreamFigures:
    latencies: list[float] = []
    per_tier = {t: len(range(i, subscribers, len(TIERS))) for i, t in enumerate(TIERS)}
    expected = 0
    for signal_id, s in sent.items():
        for tier, times in arrivals.get(signal_id, {}).items():
            visible = max(s.acked, s.due) if tier == "starter" else s.acked
            latencies += [(t - visible) * 1000 for t in times]
        due_in_run = s.due < s.acked + 60  # else due for starter 15 minutes on
        expected += per_tier["elite"] + per_tier["pro"] + (per_tier["starter"] if due_in_run else 0)
    return StreamFigures(
        subscribers,
        len(latencies),
        expected,
        percentile(latencies, 50),
        percentile(latencies, 99),
        max(latencies, default=0.0),
        round(100 * cpu[0], 1),
        round(100 * cpu[1], 1),
        round(qps, 1),
    )


def _fast_figures(
    subscribers: int,
    run: tuple[dict[str, Sent], tuple[float, float], float, float],
    arrivals: Arrivals,
    closed: int,
) -> FastFigures:
    sent, cpu, qps, rate = run
    from_sent: list[float] = []
    from_acked: list[float] = []
    for signal_id, s in sent.items():
        for times in arrivals.get(signal_id, {}).values():
            from_sent += [(t - s.sent) * 1000 for t in times]
            from_acked += [(t - s.acked) * 1000 for t in times]
    posts = [(s.acked - s.sent) * 1000 for s in sent.values()]
    return FastFigures(
        subscribers,
        round(rate, 1),
        len(from_sent),
        len(sent) * subscribers,
        percentile(from_sent, 50),
        percentile(from_sent, 99),
        max(from_sent, default=0.0),
        percentile(from_acked, 50),
        percentile(from_acked, 99),
        percentile(posts, 50),
        percentile(posts, 99),
        closed,
        round(100 * cpu[0], 1),
        round(1e6 * cpu[0] * len(sent) / rate / len(from_sent), 2) if from_sent else 0.0,
        round(100 * cpu[1], 1),
        round(qps, 1),
        round(os.getloadavg()[0], 1),
    )


def idle_run(
    start: Any, token_of: dict[str, str], requested: int, seconds: float, work: Path
) -> IdleFigures:
    """`requested` idle streams on a fresh one-worker Alpine: its RSS before and after
    they open, then one signal a second (every tier at commit) for `seconds`."""
    from tests.support import stop

    raise_fd_limit(requested + FD_SPARE)  # Alpine, started next, inherits it
    server = start(1)
    group: Subscribers | None = None
    try:
        send_paced(server, rate=10.0, seconds=0.5, past=True)  # ingest path warm
        time.sleep(SETTLE_SECONDS)
        rss_start = rss_kib(server.process.pid)
        limit = OPEN_TIMEOUT + PRIME_TIMEOUT + seconds + 60
        t0 = time.monotonic()
        group = Subscribers(server, token_of, requested, limit, work)
        opened = group.open()
        primed = group.prime(server)
        open_s = time.monotonic() - t0
        time.sleep(SETTLE_SECONDS)
        rss_open = rss_kib(server.process.pid)
        cpu0, client0, t1 = (
            cpu_seconds(server.process.pid),
            cpu_seconds(group.child.pid),
            time.monotonic(),
        )
        sent = send_paced(server, rate=1.0, seconds=seconds, past=True)
        time.sleep(2 * SETTLE_SECONDS)  # the last one's fan-out
        wall = time.monotonic() - t1
        cpu = (cpu_seconds(server.process.pid) - cpu0) / wall
        client_cpu = (cpu_seconds(group.child.pid) - client0) / wall
        rss_end = rss_kib(server.process.pid)
        load = os.getloadavg()[0]
        arrivals = group.arrivals()
    finally:
        if group is not None:
            group.kill()
        stop(server.process)
    n = min(opened, primed)
    fanout: list[float] = []
    first: list[float] = []
    complete = deliveries = 0
    for signal_id, s in sent.items():
        times = [t for per_tier in arrivals.get(signal_id, {}).values() for t in per_tier]
        deliveries += len(times)
        if times:
            fanout.append((max(times) - s.sent) * 1000)
            first.append((min(times) - s.sent) * 1000)
        complete += len(times) >= n
    growth = max(rss_open, rss_end) - rss_start
    return IdleFigures(
        requested=requested,
        subscribers=n,
        fd_soft_limit=group.fd_soft_limit,
        open_s=round(open_s, 1),
        rss_start_mib=round(rss_start / 1024, 1),
        rss_open_mib=round(rss_open / 1024, 1),
        rss_end_mib=round(rss_end / 1024, 1),
        rss_per_sub_kib=round(growth / n, 2) if n else 0.0,
        signals=len(sent),
        signals_to_all=complete,
        deliveries=deliveries,
        expected=len(sent) * n,
        fanout_p50_ms=percentile(fanout, 50),
        fanout_p99_ms=percentile(fanout, 99),
        fanout_max_ms=max(fanout, default=0.0),
        first_read_p50_ms=percentile(first, 50),
        streams_closed=group.closed,
        alpine_cpu_pct=round(100 * cpu, 1),
        alpine_cpu_ms_per_signal=round(1000 * cpu * wall / len(sent), 1) if sent else 0.0,
        client_cpu_pct=round(100 * client_cpu, 1),
        load_1m=round(load, 1),
    )


def _post(client: httpx.Client, server: AlpineServer, moment: datetime, i: int) -> tuple[str, Sent]:
    """One signal timestamped `moment`: its id, its send, answer and starter due times."""
    payload = signal_payload(
        timestamp=moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        confidence=97.0,
        entry_price=170.0 + i / 1000,
    )
    sent = time.time()
    answer = client.post(
        "/api/v1/argo/sync/signal", json=payload, headers={"X-API-Key": server.api_key}
    )
    acked = time.time()
    assert answer.status_code == 201, answer.text
    return payload["signal_id"], Sent(sent, acked, (moment + STARTER_DELAY).timestamp())


def send_paced(
    server: AlpineServer, rate: float, seconds: float, past: bool = False, senders: int = 1
) -> dict[str, Sent]:
    """POST signals at `rate`/s for `seconds` from `senders` threads (signal i from
    thread i % senders, at `i / rate` s). Each is due for starter 1 s after sending, or,
    with `past`, timestamped so long ago that every tier may see it at commit. A sender
    that falls behind catches up without pausing, but stops 1 s after `seconds`: the
    rate achieved is len(result) / the time taken.

    Returns signal_id -> its send, answer and starter due times (wall clock)."""
    sent: dict[str, Sent] = {}
    failures: list[BaseException] = []
    count = int(rate * seconds)
    started = time.monotonic()
    deadline = started + seconds + 1.0

    def send(first: int) -> None:
        try:
            with httpx.Client(base_url=server.url, timeout=10) as client:
                for i in range(first, count, senders):
                    pause = started + i / rate - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)  # pacing, not waiting for a condition
                    elif time.monotonic() > deadline:
                        return
                    now = datetime.now(UTC)
                    moment = now - PAST if past else now - STARTER_DELAY + timedelta(seconds=1)
                    signal_id, times = _post(client, server, moment, i)
                    sent[signal_id] = times
        except BaseException as exc:  # re-raised in the caller's thread
            failures.append(exc)

    if senders == 1:
        send(0)
    else:
        pool = [threading.Thread(target=send, args=(k,)) for k in range(senders)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(seconds + 30)
    if failures:
        raise failures[0]
    return sent


def ingest_rate(server: AlpineServer, total: int, threads: int, seconds: float) -> float:
    """Single-signal POSTs per second from `threads` clients, `total` at most."""
    payloads = [
        signal_payload(timestamp=f"2026-11-22T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z")
        for i in range(total)
    ]
    done = [0] * threads
    deadline = time.monotonic() + seconds
    gate = threading.Barrier(threads + 1)

    def post(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            gate.wait(30)
            for body in payloads[worker::threads]:
                if time.monotonic() > deadline:
                    return
                answer = client.post(
                    "/api/v1/argo/sync/signal", json=body, headers={"X-API-Key": server.api_key}
                )
                assert answer.status_code in (200, 201), answer.text
                done[worker] += 1

    pool = [threading.Thread(target=post, args=(w,)) for w in range(threads)]
    for thread in pool:
        thread.start()
    gate.wait(30)
    started = time.monotonic()
    for thread in pool:
        thread.join(seconds + 30)
    return sum(done) / (time.monotonic() - started)


# ----- the child process: many SSE streams on one asyncio loop -----

_MARK = b'"signal_id":"'


@dataclass
class _Counts:
    window: asyncio.Semaphore  # streams still waiting for their first line
    opened: int = 0
    failed: int = 0
    primed: int = 0
    closed: int = 0  # by the server (or the network) after they opened


class _Stream(asyncio.Protocol):
    """One SSE connection: notes when it reads each signal, per tier."""

    def __init__(self, request: bytes, tier: str, log: Arrivals, counts: _Counts) -> None:
        self.request, self.tier, self.log, self.counts = request, tier, log, counts
        self.buffer = b""
        self.opened = self.primed = self.done = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer + data if self.buffer else data
        end = buffer.rfind(b"\n\n")  # only whole events; Alpine writes each whole
        if not self.opened and b"\r\n\r\n" in buffer and not buffer.startswith(b"HTTP/1.1 200 "):
            self._fail()  # 401, 429, 503...: not a stream
            return
        if end < 0:
            self.buffer = buffer
            return
        self.buffer = buffer[end + 2 :]
        if not self.opened:
            self.opened = True
            self.counts.opened += 1
            self.counts.window.release()
        pos = 0
        while (i := buffer.find(_MARK, pos, end)) >= 0:
            j = buffer.index(b'"', i + len(_MARK))
            signal_id = buffer[i + len(_MARK) : j].decode()
            self.log.setdefault(signal_id, {}).setdefault(self.tier, []).append(now)
            pos = j
            if not self.primed:
                self.primed = True
                self.counts.primed += 1

    def _fail(self) -> None:
        if not self.opened and not self.done:
            self.counts.failed += 1
            self.counts.window.release()
        self.done = True
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.opened and not self.done:
            self.counts.closed += 1
        self._fail()

    def close(self) -> None:
        self.done = True
        if self.transport is not None:
            self.transport.close()


async def _connect(
    host: str, port: int, request: bytes, tier: str, log: Arrivals, counts: _Counts
) -> _Stream | None:
    await counts.window.acquire()
    stream = _Stream(request, tier, log, counts)
    try:
        await asyncio.wait_for(
            asyncio.get_running_loop().create_connection(lambda: stream, host, port), 30
        )
    except (OSError, TimeoutError):
        stream._fail()
        return None
    return stream


async def _until(condition: Any, timeout: float) -> None:
    """Check `condition()` every 50 ms until true or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def _subscribe(
    url: str, count: int, seconds: float, out: Path, token_of: dict[str, str]
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(15, stop.set)
    soft = raise_fd_limit(count + FD_SPARE)
    count = min(count, soft - FD_SPARE)  # what the descriptors allow; the parent is told
    print(f"fds {soft} {count}", flush=True)
    host, port = url.removeprefix("http://").split(":")
    log: Arrivals = {}
    counts = _Counts(asyncio.Semaphore(OPENING))
    tasks = []
    for i in range(count):
        tier = TIERS[i % len(TIERS)]
        request = (
            f"GET /api/v1/signals/stream HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token_of[tier]}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
        tasks.append(asyncio.create_task(_connect(host, int(port), request, tier, log, counts)))
    await _until(lambda: counts.opened + counts.failed >= count, OPEN_TIMEOUT)
    print(f"open {counts.opened}", flush=True)
    live = counts.opened - counts.closed
    await _until(lambda: counts.primed >= live or stop.is_set(), PRIME_TIMEOUT)
    print(f"primed {counts.primed}", flush=True)
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
    closed = counts.closed
    for task in tasks:
        task.cancel()
        if task.done() and not task.cancelled() and (stream := task.result()) is not None:
            stream.close()
    out.write_text(json.dumps({"arrivals": log, "closed": closed}))


def main(argv: list[str]) -> int:
    _, url, count, seconds, out, token_json = argv
    asyncio.run(_subscribe(url, int(count), float(seconds), Path(out), json.loads(token_json)))
    return 0


def run_all(
    start: Any,
    database_url: str,
    work: Path,
    seconds: float,
    counts: tuple[int, ...],
    fast_rate: float = 100.0,
    idle: int = 10000,
) -> dict[str, Any]:
    """The figures for `make bench`: streams at each count (the last also at
    `fast_rate`), `idle` idle streams on one worker, then ingest with 1 and 2 workers.

    `start(workers)` starts an Alpine on `database_url` and returns its AlpineServer."""
    from tests.support import stop

    results: dict[str, Any] = {}
    token_of = tokens(database_url)
    server = start(int(os.environ.get("BENCH_STREAM_WORKERS", "1")))
    try:
        for count in counts:
            last = count == counts[-1]
            slow, fast = stream_runs(
                server, token_of, count, seconds, work, fast_rate if last else None
            )
            for name, value in slow.__dict__.items():
                if name != "subscribers":
                    results[f"stream_{count}_{name}"] = round(value, 2)
            for name, value in (fast.__dict__ if fast else {}).items():
                results[f"stream_100hz_{name}"] = round(value, 2)
    finally:
        stop(server.process)
    if idle:
        figures = idle_run(start, token_of, idle, seconds, work)
        for name, value in figures.__dict__.items():
            results[f"stream_idle_{name}"] = round(value, 2)
    for workers in (1, 2):
        with psycopg.connect(conninfo(database_url)) as conn:
            # CASCADE: feed_events (and outcomes, executions) reference signals
            conn.execute("TRUNCATE signals RESTART IDENTITY CASCADE")
        server = start(workers)
        try:
            cpu0, t0 = cpu_seconds(server.process.pid), time.monotonic()
            rate = ingest_rate(server, total=int(1000 * seconds), threads=8, seconds=seconds)
            cpu = (cpu_seconds(server.process.pid) - cpu0) / (time.monotonic() - t0)
            results[f"ingest_{workers}w_per_s"] = round(rate, 1)
            results[f"ingest_{workers}w_alpine_cpu_pct"] = round(100 * cpu, 1)
        finally:
            stop(server.process)
    return results


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
