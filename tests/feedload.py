"""Load on Alpine's feed from outside, as Argo and subscribers make it: writers posting
signals (single and batch) and outcomes as fast as they can, and many subscribers on
the live stream, some dropping and resuming with Last-Event-ID. Used by the feed's
stress test and `alpine follow`'s acceptance test. Bounded in count and time.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from alpine.tiers import DEFAULT_TIERS, Tier
from argo.signal import AssetType
from tests.support import signal_payload

STREAM = "/api/v1/signals/stream"


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_signals(count: int, seed: int, starter_boundary: int = 0) -> list[dict[str, Any]]:
    """`count` distinct payloads across tiers: stocks and crypto, confidence 85 to 99;
    a tenth old enough for the starter tier at once, and `starter_boundary` of them
    released to it a few seconds from now (its 15-minute delay ends then)."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    old = count // 10
    payloads = []
    for n in range(count):
        if n < starter_boundary:
            moment = now - timedelta(minutes=15) + timedelta(seconds=3, microseconds=n)
        elif n < starter_boundary + old:
            moment = now - timedelta(minutes=20, microseconds=n)
        else:
            moment = now + timedelta(microseconds=n)
        payloads.append(
            signal_payload(
                timestamp=stamp(moment),
                asset_type=AssetType.CRYPTO if rng.random() < 0.3 else AssetType.STOCK,
                symbol="BTC-USD" if rng.random() < 0.3 else "AAPL",
                confidence=rng.choice([85.0, 91.0, 96.0, 99.0]),
                entry_price=100.0 + n / 1000,
                target_price=200.0,
                stop_price=50.0,
                strategy=f"load-{seed}",
            )
        )
    return payloads


def outcome_for(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "signal_id": payload["signal_id"],
        "outcome": "win",
        "exit_price": 180.0,
        "profit_loss_pct": 5.0,
        "closed_at": stamp(datetime.now(UTC)),
    }


def entitled(tier: Tier, payload: dict[str, Any]) -> bool:
    return (
        payload["asset_type"] in tier.asset_types and payload["confidence"] >= tier.min_confidence
    )


def expected_events(
    tier: Tier,
    payloads: Iterable[dict[str, Any]],
    outcomes: set[str],
    order: list[str] | None,
    now: datetime,
) -> set[str]:
    """`kind:signal_id` of every event `tier` may see at `now`.

    With the feed's order known, a delayed tier sees its prefix: up to the first event
    whose signal is younger than the delay. Without it (a feed without positions),
    each signal old enough.
    """
    by_id = {p["signal_id"]: p for p in payloads}

    def released(payload: dict[str, Any]) -> bool:
        moment = datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00"))
        return moment + tier.delay <= now

    if order is None:
        return {f"signal:{i}" for i, p in by_id.items() if entitled(tier, p) and released(p)}
    kinds = {"signal"} | ({"outcome"} if "outcome" in tier.fields else set())
    expected = set()
    for key in order:
        kind, signal_id = key.split(":")
        payload = by_id.get(signal_id)
        if payload is None or kind not in kinds or not entitled(tier, payload):
            continue
        if kind == "outcome" and signal_id not in outcomes:
            continue
        if not released(payload):
            break
        expected.add(key)
    return expected


@dataclass
class Writers:
    """Threads posting `payloads` through the single and the batch endpoint, then an
    outcome for every fifth signal."""

    url: str
    api_key: str
    payloads: list[dict[str, Any]]
    threads: int = 4
    deadline_seconds: float = 120.0
    outcomes: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    def run(self) -> None:
        shares = [self.payloads[i :: self.threads] for i in range(self.threads)]
        workers = [
            threading.Thread(target=self._post, args=(share, i % 2 == 0), daemon=True)
            for i, share in enumerate(shares)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(self.deadline_seconds)
        assert not any(w.is_alive() for w in workers), "writers did not finish in time"
        assert not self.errors, self.errors[:5]

    def _post(self, share: list[dict[str, Any]], batches: bool) -> None:
        headers = {"X-API-Key": self.api_key}
        end = time.monotonic() + self.deadline_seconds
        with httpx.Client(base_url=self.url, timeout=30.0, headers=headers) as client:
            step = 25 if batches else 1
            for i in range(0, len(share), step):
                if time.monotonic() > end:
                    self.errors.append("deadline")
                    return
                chunk = share[i : i + step]
                if batches:
                    answer = client.post("/api/v1/argo/sync/signals", json={"signals": chunk})
                else:
                    answer = client.post("/api/v1/argo/sync/signal", json=chunk[0])
                if answer.status_code not in (200, 201):
                    self.errors.append(f"{answer.status_code} {answer.text[:200]}")
                    return
            for payload in share[::5]:
                answer = client.post("/api/v1/argo/sync/outcome", json=outcome_for(payload))
                if answer.status_code != 200:
                    self.errors.append(f"outcome {answer.status_code} {answer.text[:200]}")
                    return
                self.outcomes.add(payload["signal_id"])


@dataclass
class Subscriber:
    token: str
    tier: Tier
    drops: int  # how many times it drops the stream and resumes
    items: list[dict[str, Any]] = field(default_factory=list)
    cursor: str | None = None
    connected: bool = False

    def keys(self) -> list[str]:
        return [f"{i.get('event', 'signal')}:{i['signal_id']}" for i in self.items]


async def _follow(client: httpx.AsyncClient, sub: Subscriber, rng: random.Random) -> None:
    while True:
        headers = {"Authorization": f"Bearer {sub.token}"}
        if sub.cursor:
            headers["Last-Event-ID"] = sub.cursor
        budget = rng.randint(1, 60) if sub.drops else -1
        try:
            async with client.stream("GET", STREAM, headers=headers) as response:
                if response.status_code != 200:
                    await asyncio.sleep(0.2)
                    continue
                budget = await _read(response, sub, budget)
        except httpx.HTTPError:
            await asyncio.sleep(0.1)
            continue
        if budget == 0:
            sub.drops -= 1
            await asyncio.sleep(rng.uniform(0.0, 0.3))  # away a moment, then resume


async def _read(response: httpx.Response, sub: Subscriber, budget: int) -> int:
    """Record events until the stream ends or `budget` events are read; the budget left."""
    event_id, data = None, ""
    async for line in response.aiter_lines():
        if line.startswith("retry:"):
            sub.connected = True
        elif line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and data:
            sub.items.append(json.loads(data))
            sub.cursor, data = event_id, ""
            budget -= 1
            if budget == 0:
                break
    return budget


class Subscribers:
    """`subscribers` following the stream in one event loop on a thread of their own."""

    def __init__(self, url: str, subscribers: list[Subscriber], seed: int) -> None:
        self.url = url
        self.subscribers = subscribers
        self._rng = random.Random(seed)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tasks: list[asyncio.Future[None]] = []

    def start(self) -> None:
        self._thread.start()
        limits = httpx.Limits(max_connections=len(self.subscribers) + 10)
        timeout = httpx.Timeout(30.0, read=None)

        async def make_client() -> httpx.AsyncClient:
            return httpx.AsyncClient(base_url=self.url, limits=limits, timeout=timeout)

        self._client = asyncio.run_coroutine_threadsafe(make_client(), self._loop).result()
        for sub in self.subscribers:
            rng = random.Random(self._rng.random())
            self._tasks.append(
                asyncio.run_coroutine_threadsafe(_follow(self._client, sub, rng), self._loop)
            )

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def tier_mix(tokens: dict[str, list[str]], drop_share: float, seed: int) -> list[Subscriber]:
    """Subscribers for the tokens of each tier; `drop_share` of them drop and resume."""
    rng = random.Random(seed)
    subs = []
    for tier_name, tier_tokens in tokens.items():
        for token in tier_tokens:
            drops = rng.randint(1, 4) if rng.random() < drop_share else 0
            subs.append(Subscriber(token, DEFAULT_TIERS[tier_name], drops))
    return subs


@dataclass(frozen=True)
class Verdict:
    """What one subscriber got against what its tier may see."""

    missing: int
    duplicates: int
    out_of_order: bool
    broken_links: int


def judge(sub: Subscriber, expected: set[str], feed_order: list[str] | None) -> Verdict:
    """Missing and repeated events, and (when the feed has positions) order and links."""
    keys = sub.keys()
    seen = set(keys)
    out_of_order, broken = False, 0
    if sub.items and "seq" in sub.items[0]:
        seqs = [int(i["seq"]) for i in sub.items]
        out_of_order = seqs != sorted(seqs)
        broken = sum(
            1 for a, b in zip(sub.items, sub.items[1:], strict=False) if b["prev_seq"] != a["seq"]
        )
        if feed_order is not None:
            out_of_order = out_of_order or keys != [k for k in feed_order if k in expected]
    return Verdict(len(expected - seen), len(keys) - len(seen), out_of_order, broken)
