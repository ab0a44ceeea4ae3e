"""An in-process Alpine (create_app on a real database) with a subscriber of every tier,
for tests of the feed's pages and record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from alpine.app import create_app
from alpine.receipts import SigningKey
from alpine.settings import AlpineSettings
from alpine.store import SignalStore, make_engine
from alpine.subscriber_store import SubscriberStore
from alpine.tiers import DEFAULT_TIERS
from alpine.validation import SignalIn
from tests.kit.alpine import URL, AppTransport
from tests.support import new_api_key, signal_payload


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Site:
    def __init__(self, url: str, receipt_key: SigningKey | None = None) -> None:
        self.engine = make_engine(url)
        self.store = SignalStore(self.engine)
        subscribers = SubscriberStore(self.engine)
        self.tokens = {t: subscribers.add(f"{t}-co", t) for t in DEFAULT_TIERS}
        settings = AlpineSettings(
            database_url=url,
            api_keys=(new_api_key(),),
            signing_secrets=(),
            subscriber_rate=0,
            receipt_key=receipt_key,
        )
        self.app = create_app(settings, self.store)

    def add(self, **fields: Any) -> SignalIn:
        signal = SignalIn.model_validate(signal_payload(**fields))
        assert self.store.insert(signal, "key_test").alpine_signal_id is not None
        return signal

    def request(self, path: str, tier: str, headers: dict[str, str], **params: Any) -> Any:
        """GET `path` in-process as `tier`'s subscriber."""
        headers["Authorization"] = f"Bearer {self.tokens[tier]}"
        with httpx.Client(base_url=URL, transport=AppTransport(self.app)) as client:
            return client.get(path, params=params, headers=headers)

    def get(self, tier: str, **params: Any) -> Any:
        return self.request("/api/v1/signals", tier, {}, **params)


def read_all(site: Site, tier: str, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = "start"
    while True:
        answer = site.get(tier, after=after, limit=limit)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["events"]
        after = body["next_cursor"]
        if body["caught_up"]:
            return items
