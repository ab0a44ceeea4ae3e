"""F8: a delayed stale POST. The relay's POST of event E (a signal's creation) is held in
the network; the relay gives up on it at its deadline, redelivers E, then delivers
newer events of the same signal (its outcome) and of the same symbol (later signals).
Only then does the held POST reach Alpine. Alpine absorbs it as a duplicate and
rewrites nothing: the outcome and every other column stay as they were."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from argo.signal import Outcome, OutcomeKind
from argo.signals import open_signals
from argo.timeutil import utc_now
from tests.faults.harness import counts, wait_settled
from tests.faults.invariants import Absorbed, alpine_signals, check, size
from tests.kit.alpine import Alpine
from tests.kit.netfaults import Mode, NetFaultProxy, netfault_proxy
from tests.kit.pipeline import generate, relay_env
from tests.support import spawn, stop, wait_for


def _rows(pg_url: str) -> dict[str, dict[str, Any]]:
    return {r["signal_id"]: r for r in alpine_signals(pg_url)}


def _held_posts(proxy: NetFaultProxy) -> Callable[[], bool]:
    return lambda: any(bytes(h).startswith(b"POST ") for h in proxy.held)


def test_f08_a_stale_post_released_late_rewrites_nothing(
    alpine: Alpine, pg_url: str, tmp_path: Path
) -> None:
    stale_posts, later = size(3, 20), size(20, 200)
    db = tmp_path / "signals.db"
    absorbed = Absorbed()
    with netfault_proxy(alpine.url) as proxy:
        env = relay_env(
            alpine,
            tmp_path,
            ALPINE_API_URL=proxy.url,
            RELAY_POST_DEADLINE_SECONDS="1.5",
            RELAY_REQUEST_TIMEOUT_SECONDS="1",
            RELAY_OUTAGE_CAP_SECONDS="0.5",
        )
        open_signals(db).close()  # the relay needs the database: no race with `generate`
        relay = spawn("relay", "run", env=env, log=tmp_path / "relay.log")
        answers: list[bytes] = []
        posts = _held_posts(proxy)
        try:
            for round_number in range(stale_posts):
                proxy.set(Mode.HOLD)
                generate(env, 1, "--seed", str(100 + round_number))
                wait_for(posts, timeout=30, what="the relay's POST to be held")
                proxy.set(Mode.PASS)
                wait_settled(db, timeout=30, what="E redelivered after the held POST")
                store = open_signals(db)
                try:
                    newest = store.signals()[-1].signal
                    store.record_outcomes(
                        [
                            Outcome(
                                newest.signal_id,
                                newest.symbol,
                                OutcomeKind.WIN,
                                newest.target_price,
                                1.25,
                                utc_now(),
                            )
                        ],
                        utc_now(),
                    )
                finally:
                    store.close()
                generate(env, later, "--seed", str(200 + round_number), "--symbols", newest.symbol)
                wait_settled(db, timeout=30, what="the newer events")
                before = _rows(pg_url)
                assert before[newest.signal_id]["outcome"] == "win"
                answers += [a for r, a in proxy.release() if r.startswith(b"POST ")]
                assert _rows(pg_url) == before, "the stale POST rewrote a row"
        finally:
            stop(relay)
        absorbed.scrape(alpine)
    statuses = [a.split(b"\r\n", 1)[0].decode() for a in answers]
    bodies = [json.loads(a.partition(b"\r\n\r\n")[2] or b"{}") for a in answers]
    failures = [f"stale POST answered {s}" for s in statuses if " 200 " not in s + " "]
    said = json.dumps(bodies)
    if '"created"' in said or '"duplicate"' not in said:
        failures.append(f"the stale POSTs were not absorbed as duplicates: {said[:300]}")
    check(
        "F8 delayed stale POST",
        db=db,
        pg_url=pg_url,
        env=relay_env(alpine, tmp_path),
        n=counts(db)[2],
        faults=len(answers),
        absorbed=absorbed.total,
        extra_failures=failures,
        notes=f"{len(answers)} held POSTs released after their event, its outcome and"
        f" {later} newer signals of the symbol were delivered; answers: "
        + ", ".join(f"{n} x {status}" for status, n in Counter(statuses).items()),
    )
