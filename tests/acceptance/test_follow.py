"""`alpine follow` as a subscriber runs it: a real process against a real `alpine serve`
on PostgreSQL while signals and outcomes keep arriving. It is SIGKILLed and restarted,
Alpine is SIGKILLed and restarted mid-stream, and the file ends with every event the
tier may see, once each, in feed order, linked without a gap."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx

from alpine.follow import load
from alpine.store import make_engine
from alpine.subscriber_store import SubscriberStore
from tests.feedload import make_signals, outcome_for
from tests.integration.test_feed_stress import feed_order
from tests.support import AlpineServer, free_port, spawn, start_alpine, stop, wait_for

SIGNALS = 400
ALPINE_ENV = {
    "ALPINE_RATE_LIMIT": "0",
    "ALPINE_SUBSCRIBER_RATE_LIMIT": "0",
    "ALPINE_STREAM_HEARTBEAT_SECONDS": "1",
}


class Trickle:
    """Posts batches of signals (and an outcome for every tenth) until all are stored,
    waiting out Alpine's restarts; in PHASES parts, each when the test opens its gate,
    so the kills below fall while events are still coming on any machine."""

    PHASES = 4

    def __init__(self, url: str, api_key: str) -> None:
        self.payloads = make_signals(SIGNALS, seed=7)
        self.outcomes: set[str] = set()
        self._url, self._key = url, api_key
        self.gates = [threading.Event() for _ in range(self.PHASES)]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _post(self, client: httpx.Client, path: str, body: object) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if client.post(path, json=body).status_code in (200, 201):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # Alpine is restarting: send again, as the relay would
        raise AssertionError(f"{path} not accepted within 60 s")

    def _run(self) -> None:
        headers = {"X-API-Key": self._key}
        with httpx.Client(base_url=self._url, headers=headers, timeout=5.0) as client:
            for start in range(0, SIGNALS, 10):
                phase = start * self.PHASES // SIGNALS
                if not self.gates[phase].wait(120):
                    return
                batch = self.payloads[start : start + 10]
                self._post(client, "/api/v1/argo/sync/signals", {"signals": batch})
                self._post(client, "/api/v1/argo/sync/outcome", outcome_for(batch[0]))
                self.outcomes.add(batch[0]["signal_id"])
                time.sleep(0.03)  # a steady stream across the kills below
        self.done.set()


def follower(url: str, token: str, out: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {"ALPINE_URL": url, "ALPINE_SUBSCRIBER_TOKEN": token}
    return spawn("alpine", "follow", "--out", str(out), env=env, log=log)


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_follow_survives_its_own_kill_and_alpine_restarts(pg_url: str, tmp_path: Path) -> None:
    engine = make_engine(pg_url)
    token = SubscriberStore(engine).add("follower", "elite")
    engine.dispose()
    port = free_port()
    server: AlpineServer = start_alpine(pg_url, tmp_path, port=port, extra_env=ALPINE_ENV)
    out, log = tmp_path / "feed.jsonl", tmp_path / "follow.log"
    trickle = Trickle(server.url, server.api_key)
    process = follower(server.url, token, out, log)
    try:
        trickle.thread.start()
        trickle.gates[0].set()
        wait_for(lambda: lines(out) >= 30, timeout=60, what="the first events in the file")
        process.send_signal(signal.SIGKILL)  # mid-stream, maybe mid-line
        process.wait(10)
        process = follower(server.url, token, out, log)
        held = lines(out)
        trickle.gates[1].set()
        wait_for(lambda: lines(out) >= held + 30, timeout=60, what="events after the restart")
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        trickle.gates[2].set()  # posted while Alpine is down: sent again until it is back
        server = start_alpine(
            pg_url, tmp_path, port=port, api_keys=server.api_keys, extra_env=ALPINE_ENV
        )
        trickle.gates[3].set()
        assert trickle.done.wait(120), "the writer did not finish"
        order = feed_order(pg_url)
        assert order is not None
        wait_for(lambda: lines(out) >= len(order), timeout=60, what="every event in the file")
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0, log.read_text()
    finally:
        stop(process)
        stop(server.process)
    said = log.read_text()
    after_restart = said.partition("resuming:")[2]
    assert after_restart, said  # the follower's own kill was felt, and Alpine's:
    assert "caught up" in after_restart or "Alpine unreachable" in after_restart, said
    summary = said.strip().splitlines()[-1]
    assert "no gap" in summary, summary
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert [f"{i['event']}:{i['signal_id']}" for i in items] == order  # each once, in order
    assert [i["seq"] for i in items] == list(range(1, len(order) + 1))
    assert all(b["prev_seq"] == a["seq"] for a, b in itertools.pairwise(items))
    assert len(order) == SIGNALS + len(trickle.outcomes)
    held = load(out)
    assert held.kinds["signal"] == SIGNALS and not held.gaps
