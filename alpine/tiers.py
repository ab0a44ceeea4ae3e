"""Subscriber tiers: which signals each may see, when, and with which fields.

Defaults follow ARCHITECTURE.md; ALPINE_TIERS_FILE (TOML) overrides them:

    [tiers.starter]
    asset_types = ["stock"]       # stock, crypto
    min_confidence = 95
    delay_minutes = 15            # visible this long after the signal's timestamp
    fields = []                   # of reasoning, regime, outcome, execution
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from alpine.errors import ConfigError

TIER_NAMES = ("starter", "pro", "elite")
# `execution`: executed, order_id, executed_at, fill_price (the signal.executed event).
OPTIONAL_FIELDS = frozenset({"reasoning", "regime", "outcome", "execution"})


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    asset_types: frozenset[str]
    min_confidence: float
    delay: timedelta
    fields: frozenset[str]


DEFAULT_TIERS: Mapping[str, Tier] = {
    "starter": Tier("starter", frozenset({"stock"}), 95.0, timedelta(minutes=15), frozenset()),
    "pro": Tier(
        "pro", frozenset({"stock", "crypto"}), 90.0, timedelta(0), frozenset({"reasoning"})
    ),
    "elite": Tier("elite", frozenset({"stock", "crypto"}), 0.0, timedelta(0), OPTIONAL_FIELDS),
}


def load_tiers(path: str | None) -> dict[str, Tier]:
    """The default tiers, overridden by the TOML file at `path` when given."""
    tiers = dict(DEFAULT_TIERS)
    if not path:
        return tiers
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"ALPINE_TIERS_FILE {path}: {exc}") from exc
    for name, table in doc.get("tiers", {}).items():
        if name not in TIER_NAMES:
            raise ConfigError(f"ALPINE_TIERS_FILE: unknown tier {name!r} (use {TIER_NAMES})")
        tiers[name] = _tier(name, table, tiers[name])
    return tiers


def _tier(name: str, table: Mapping[str, Any], base: Tier) -> Tier:
    assets = frozenset(table.get("asset_types", base.asset_types))
    fields = frozenset(table.get("fields", base.fields))
    if not assets <= {"stock", "crypto"} or not fields <= OPTIONAL_FIELDS:
        raise ConfigError(f"ALPINE_TIERS_FILE: tier {name}: bad asset_types or fields")
    try:
        confidence = float(table.get("min_confidence", base.min_confidence))
        delay = timedelta(
            minutes=float(table.get("delay_minutes", base.delay.total_seconds() / 60))
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"ALPINE_TIERS_FILE: tier {name}: {exc}") from exc
    return Tier(name, assets, confidence, delay, fields)
