"""The Grafana dashboard only plots metrics the code exports (names checked against the
real registries of the relay, the generator and Alpine)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from alpine.metrics import AlpineMetrics
from argo.metrics import GeneratorMetrics
from argo.outbox import Backlog
from relay.metrics import RelayMetrics
from tests.support import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "argo-alpine.json"
_NAME = re.compile(r"\b((?:relay|argo|alpine)_[a-z0-9_]+)\b")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def _exported() -> set[str]:
    relay = RelayMetrics()
    relay.watch_outbox(lambda: Backlog(0, 0, 0, 0, datetime.now(UTC)))
    registries: list[CollectorRegistry] = [relay.registry, AlpineMetrics().registry]
    generator = GeneratorMetrics()
    registries.append(generator.registry)
    names: set[str] = set()
    for registry in registries:
        for family in registry.collect():
            names.add(family.name)
            names.update(sample.name for sample in family.samples)
    return names


def test_every_panel_plots_an_exported_metric() -> None:
    exported = _exported()
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert expressions
    unknown = {
        name
        for expr in expressions
        for name in _NAME.findall(expr)
        if name not in exported and not any(name.removesuffix(s) in exported for s in _SUFFIXES)
    }
    assert not unknown, f"the dashboard plots metrics nobody exports: {sorted(unknown)}"
    used = {n for e in expressions for n in _NAME.findall(e)}
    for required in (
        "relay_outbox_oldest_pending_age_seconds",
        "relay_signal_age_at_delivery_seconds_bucket",
        "relay_outbox_dead",
        "relay_paused",
    ):
        assert required in used
