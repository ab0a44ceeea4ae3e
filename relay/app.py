"""The composition root: build the relay's objects from one RelayConfig and own their
lifetimes, so each command is a few lines."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx

import argo.outbox
from argo.outbox import LeaseClock, OutboxStore, boot_clock, steady_seconds
from argo.process.sdnotify import SystemdNotifier
from argo.process.spans import OFF, Tracing
from argo.process.tracing import configure as configure_tracing
from argo.timeutil import utc_now
from relay.config import RelayConfig, signing_secrets
from relay.deadline import deadline_transport
from relay.deliver import Deliverer, default_timeout
from relay.errors import ConfigError
from relay.fate import Rules
from relay.loop import LoopSettings, Relay
from relay.metrics import RelayMetrics
from relay.pacing import OUTAGE_POLICY, PAUSE_POLICY, Pacing
from relay.presence import Presence
from relay.retry import Jitter, RetryPolicy, full_jitter
from relay.send import WindowSender

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RelayApp:
    """The running parts of one relay process."""

    config: RelayConfig
    outbox: OutboxStore
    deliverer: Deliverer
    relay: Relay
    metrics: RelayMetrics


def open_outbox(config: RelayConfig, lease_clock: LeaseClock = boot_clock) -> OutboxStore:
    """Argo's existing outbox at config.db_path (OutboxMissingError when there is none)."""
    return argo.outbox.open_outbox(config.db_path, setting="ARGO_DB", lease_clock=lease_clock)


@contextmanager
def relay_app(
    config: RelayConfig,
    *,
    notifier: SystemdNotifier | None = None,
    transport: httpx.BaseTransport | None = None,
    jitter: Jitter = full_jitter,
    lease_clock: LeaseClock = boot_clock,
    listen_for_doorbell: bool = True,
    reread_credentials: Callable[[], tuple[str | None, str | None]] | None = None,
    tracing: Tracing | None = None,
) -> Iterator[RelayApp]:
    """Everything `relay run` needs, closed in reverse order on exit. `tracing`: by
    default OFF unless the OTEL_* variables ask for OTLP (argo.process.tracing)."""
    config.check_for_delivery()
    with ExitStack() as stack:
        outbox = open_outbox(config, lease_clock)
        stack.callback(outbox.close)
        if config.worker_id is None:
            config = _in_own_slot(config, outbox)
        if tracing is None:
            tracing = configure_tracing("relay", os.environ)
        stack.callback(tracing.shutdown)  # the last spans exported, SIGTERM or not
        yield stack.enter_context(
            _parts(
                config,
                outbox,
                notifier,
                transport,
                jitter,
                listen_for_doorbell,
                reread_credentials,
                tracing,
            )
        )


def _in_own_slot(config: RelayConfig, outbox: OutboxStore) -> RelayConfig:
    """Take the first free worker slot (this host's on SQLite, the database's on PostgreSQL)
    and the leases its dead holder left."""
    worker_id = outbox.take_worker_slot()  # held until the outbox is closed
    taken = outbox.admin().release_leases_of(worker_id)
    if taken:
        log.warning(
            "took back rows a dead relay of this slot had leased",
            extra={"event": "leases_taken_over", "worker": worker_id, "rows": taken},
        )
    return dataclasses.replace(config, worker_id=worker_id)


def alpine_client(
    config: RelayConfig, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """The HTTP client for Alpine: its base URL, timeouts, no redirects followed."""
    return httpx.Client(
        base_url=config.alpine_url,
        timeout=default_timeout(config.request_timeout_seconds, config.connect_timeout_seconds),
        follow_redirects=False,
        transport=transport if transport is not None else deadline_transport(),
    )


def _deliverer(
    config: RelayConfig, client: httpx.Client, metrics: RelayMetrics, tracing: Tracing
) -> Deliverer:
    return Deliverer(
        client,
        api_key=config.api_key or "",
        signing_secrets=config.signing_secrets,
        metrics=metrics,
        max_tries=config.post_tries,
        deadline_seconds=config.post_deadline_seconds,
        receipt_keys=config.receipt_keys(),
        tracing=tracing,
        relay_id=config.worker_id or "",
    )


def _rotation(
    deliverer: Deliverer, reread: Callable[[], tuple[str | None, str | None]]
) -> Callable[[], bool]:
    """A hook for the driver: switch to credentials rotated in their store, if any."""

    def rotate() -> bool:
        api_key, secret = reread()
        if not api_key:
            return False
        try:
            secrets = signing_secrets(secret)
        except ConfigError:
            return False
        return deliverer.use_credentials(api_key, secrets)

    return rotate


@contextmanager
def verifier(config: RelayConfig) -> Iterator[tuple[OutboxStore, Deliverer]]:
    """Argo's outbox and an Alpine client, for `relay verify` (no worker, no lease)."""
    config.check_for_delivery()
    outbox = open_outbox(config)
    try:
        with alpine_client(config) as client:
            yield outbox, _deliverer(config, client, RelayMetrics(), OFF)
    finally:
        outbox.close()


@contextmanager
def _parts(
    config: RelayConfig,
    outbox: OutboxStore,
    notifier: SystemdNotifier | None,
    transport: httpx.BaseTransport | None,
    jitter: Jitter,
    listen_for_doorbell: bool,
    reread_credentials: Callable[[], tuple[str | None, str | None]] | None,
    tracing: Tracing,
) -> Iterator[RelayApp]:
    assert config.worker_id is not None
    metrics = RelayMetrics()
    client = alpine_client(config, transport)
    deliverer = _deliverer(config, client, metrics, tracing)
    sender = WindowSender(
        deliverer,
        use_batch_endpoint=config.use_batch_endpoint,
        posts_in_flight=config.posts_in_flight,
        renew_every_seconds=config.lease_seconds / 3,
        inline_single=config.lease_seconds
        > 1.5 * config.post_tries * (config.post_deadline_seconds + 1.0),
    )
    rules = Rules(
        RetryPolicy(
            base_seconds=config.retry_base_seconds,
            cap_seconds=config.retry_cap_seconds,
            max_attempts=config.max_attempts,
            max_age=timedelta(hours=config.max_age_hours),
        ),
        outage_threshold=config.outage_threshold,
    )
    pacing = Pacing(
        steady_seconds,
        outage_policy=RetryPolicy(
            base_seconds=OUTAGE_POLICY.base_seconds, cap_seconds=config.outage_cap_seconds
        ),
        pause_policy=PAUSE_POLICY,
        jitter=jitter,
    )
    presence = Presence(
        outbox.admin(),
        config.worker_id,
        notifier or SystemdNotifier({}),
        utc_now,
        config.heartbeat_seconds,
    )
    settings = LoopSettings(
        worker_id=config.worker_id,
        batch_size=config.batch_size,
        lease_seconds=config.lease_seconds,
        idle_poll_seconds=config.idle_poll_seconds,
        rescan_seconds=config.rescan_seconds,
        retry_cap_seconds=config.retry_cap_seconds,
        windows_in_flight=config.windows_in_flight,
        attempt_log=config.attempt_log,
    )
    doorbell = outbox.wakeups() if listen_for_doorbell else None
    relay = Relay(
        outbox,
        sender,
        deliverer,
        rules,
        pacing,
        presence,
        metrics,
        settings,
        jitter=jitter,
        doorbell=doorbell,
        on_rejected=_rotation(deliverer, reread_credentials) if reread_credentials else None,
    )
    try:
        yield RelayApp(config, outbox, deliverer, relay, metrics)
    finally:
        if doorbell is not None:
            doorbell.close()
        sender.close()
        client.close()
