"""`--source http:daily|http:intraday:5min`: Alpha Vantage's JSON time series as bars.

Stocks ask `TIME_SERIES_DAILY` / `TIME_SERIES_INTRADAY`; crypto pairs (`BTC-USD`) ask
`DIGITAL_CURRENCY_DAILY` / `CRYPTO_INTRADAY` with `market=USD`. The API key comes from
the systemd credential `alpha-vantage-api-key`, `ALPHA_VANTAGE_API_KEY_FILE` or
`ALPHA_VANTAGE_API_KEY`; it goes only into the query string and never into a log line
or an error message.

PriceSourceError                 the provider gave no bars (exit code 1)
├── ProviderDownError            unreachable, timed out, or 5xx after the retries
├── ProviderThrottledError       429, or a 200 whose body is a "Note"/"Information"
├── ProviderRefusedError         an "Error Message" answer, or another 4xx
└── MalformedAnswerError         not JSON, or no time series, or a bad value

Replay (`argo generate`, `argo backtest`) asks once per symbol and serves every bar of
the answer, oldest first. Live (`argo run`) serves the newest `backlog` bars of the
first answer (the engine's warm-up), then only bars newer than the last one served; a
failed request is a logged warning and is tried again after `refresh` seconds.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import backoff
import httpx

from argo.errors import ArgoError
from argo.prices.sources import Bar, asset_type_of
from argo.process.sources import environment_of, secret_from_environment
from argo.signal import AssetType

log = logging.getLogger(__name__)

BASE_URL = "https://www.alphavantage.co/query"
INTERVALS = ("1min", "5min", "15min", "30min", "60min")
KEY_VARIABLE = "ALPHA_VANTAGE_API_KEY"
KEY_CREDENTIAL = "alpha-vantage-api-key"
_FIELDS = ("open", "high", "low", "close", "volume")
_KEY_IN_TEXT = re.compile(r"(apikey=)[^&\s\"']+", re.IGNORECASE)


class PriceSourceError(ArgoError):
    """The price provider gave no bars."""


class ProviderDownError(PriceSourceError):
    """The price provider is unreachable, timed out or failed (5xx)."""


class ProviderThrottledError(PriceSourceError):
    """The price provider is throttling this API key."""


class ProviderRefusedError(PriceSourceError):
    """The price provider refused the request."""


class MalformedAnswerError(PriceSourceError):
    """The price provider's answer is not a time series."""


class _ServerError(Exception):
    """A 5xx answer (its text is "HTTP 503"): worth another try."""


@dataclass(frozen=True, slots=True)
class AlphaVantageConfig:
    """What to ask for and how: `function` is "daily" or "intraday" (with `interval`)."""

    function: str
    interval: str | None
    api_key: str = field(repr=False)
    base_url: str = BASE_URL
    timeout: float = 10.0
    retries: int = 3
    refresh: float = 60.0

    @classmethod
    def from_spec(cls, spec: str, environ: Mapping[str, str] | None = None) -> AlphaVantageConfig:
        """`daily` or `intraday[:INTERVAL]` plus ARGO_ALPHA_VANTAGE_* settings; ValueError."""
        env = environment_of(environ)
        function, _, interval = spec.partition(":")
        if function == "daily" and not interval:
            chosen = None
        elif function == "intraday" and (interval or "5min") in INTERVALS:
            chosen = interval or "5min"
        else:
            raise ValueError(
                f"unknown http source {spec!r}: use http:daily or http:intraday:INTERVAL"
                f" ({', '.join(INTERVALS)})"
            )
        found = secret_from_environment(KEY_VARIABLE, KEY_CREDENTIAL, env)
        if found is None:
            raise ValueError(
                f"no Alpha Vantage API key: set the systemd credential {KEY_CREDENTIAL},"
                f" {KEY_VARIABLE}_FILE or {KEY_VARIABLE}"
            )
        default_refresh = 3600.0 if chosen is None else 60.0
        return cls(
            function,
            chosen,
            found[0],
            env.get("ARGO_ALPHA_VANTAGE_URL", "").strip() or BASE_URL,
            _number(env, "ARGO_ALPHA_VANTAGE_TIMEOUT", 10.0),
            int(_number(env, "ARGO_ALPHA_VANTAGE_RETRIES", 3)),
            _number(env, "ARGO_ALPHA_VANTAGE_REFRESH", default_refresh),
        )

    def params(self, symbol: str, full: bool = False) -> dict[str, str]:
        """The query of one request for `symbol` (the key included); `full`: the whole
        history instead of the newest 100 bars (a premium feature on some plans)."""
        crypto = asset_type_of(symbol) is AssetType.CRYPTO
        query = {"symbol": symbol.removesuffix("-USD") if crypto else symbol}
        if crypto:
            query["market"] = "USD"
        if self.interval is None:
            query["function"] = "DIGITAL_CURRENCY_DAILY" if crypto else "TIME_SERIES_DAILY"
        else:
            query["function"] = "CRYPTO_INTRADAY" if crypto else "TIME_SERIES_INTRADAY"
            query["interval"] = self.interval
        if query["function"] != "DIGITAL_CURRENCY_DAILY":  # always the whole history
            query["outputsize"] = "full" if full else "compact"
        return query | {"apikey": self.api_key}


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    try:
        value = float(text) if text else default
    except ValueError:
        raise ValueError(f"{name} must be a number, not {text!r}") from None
    if not math.isfinite(value) or value < 0 or (name.endswith("RETRIES") and value < 1):
        raise ValueError(f"{name} is out of range: {text!r}")
    return value


class _RedactKey(logging.Filter):
    """httpx logs each request's URL at INFO: keep the key out of it."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "apikey=" in text.lower():
            record.msg, record.args = _KEY_IN_TEXT.sub(r"\1<redacted>", text), None
        return True


logging.getLogger("httpx").addFilter(_RedactKey())


class AlphaVantageSource:
    """Bars from Alpha Vantage, each served once (see the module docstring)."""

    def __init__(
        self,
        config: AlphaVantageConfig,
        *,
        live: bool = False,
        backlog: int = 60,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = f"alphavantage:{config.interval or 'daily'}"
        self.live = live
        """True: None from next_bar means "no new bar yet", not "exhausted"."""
        self._config = config
        self._backlog = backlog
        self._client = client or httpx.Client(timeout=httpx.Timeout(config.timeout))
        self._clock = clock
        self._pending: dict[str, deque[Bar]] = {}
        self._last: dict[str, datetime] = {}
        self._next_ask: dict[str, float] = {}
        self._get = backoff.on_exception(
            backoff.expo,
            (httpx.TransportError, _ServerError),
            max_tries=config.retries,
            factor=0.5,
            max_value=8,
            logger=None,
            on_backoff=_log_retry,
        )(self._get_once)

    def next_bar(self, symbol: str) -> Bar | None:
        pending = self._pending.setdefault(symbol, deque())
        if not pending:
            self._refill(symbol, pending)
        return pending.popleft() if pending else None

    def _refill(self, symbol: str, pending: deque[Bar]) -> None:
        now = self._clock()
        if now < self._next_ask.get(symbol, -math.inf):
            return
        self._next_ask[symbol] = now + self._config.refresh if self.live else math.inf
        if not self.live:
            pending.extend(self.fetch(symbol))
            return
        try:
            bars = self.fetch(symbol)
        except PriceSourceError as exc:
            log.warning(
                "price source: %s; trying again next cycle",
                exc,
                extra={"event": "price_source_failed", "symbol": symbol},
            )
            return
        last = self._last.get(symbol)
        fresh = bars[-self._backlog :] if last is None else [b for b in bars if b.time > last]
        if fresh:
            self._last[symbol] = fresh[-1].time
        pending.extend(fresh)

    def fetch(self, symbol: str) -> list[Bar]:
        """Every bar of one answer for `symbol`, oldest first; PriceSourceError."""
        try:
            answer = self._get(symbol)
        except (httpx.HTTPError, _ServerError) as exc:
            raise self._translate(exc) from exc
        return parse_series(symbol, answer)

    def close(self) -> None:
        self._client.close()

    def _get_once(self, symbol: str) -> Any:
        query = self._config.params(symbol, full=not self.live)
        response = self._client.get(self._config.base_url, params=query)
        if response.status_code >= 500:
            raise _ServerError(f"HTTP {response.status_code}")
        return answer_of(symbol, response.status_code, response.content, self._config.api_key)

    def _translate(self, exc: Exception) -> PriceSourceError:
        where = httpx.URL(self._config.base_url).host
        if isinstance(exc, httpx.TimeoutException):
            return ProviderDownError(f"Alpha Vantage at {where} did not answer in time")
        if isinstance(exc, _ServerError):
            return ProviderDownError(f"Alpha Vantage at {where} answered {exc}")
        return ProviderDownError(f"Alpha Vantage at {where} is unreachable ({type(exc).__name__})")


def _log_retry(details: Any) -> None:
    log.info(
        "price source: trying again in %.1f s (%s)",
        details["wait"],
        type(details["exception"]).__name__,
        extra={"event": "price_source_retry"},
    )


def answer_of(symbol: str, status: int, body: bytes, api_key: str) -> dict[str, Any]:
    """The JSON object of a non-5xx answer, or the PriceSourceError it stands for."""
    if status == 429:
        raise ProviderThrottledError(f"Alpha Vantage is throttling (HTTP 429) for {symbol}")
    if status != 200:
        raise ProviderRefusedError(f"Alpha Vantage answered HTTP {status} for {symbol}")
    try:
        answer = json.loads(body)
    except ValueError:
        raise MalformedAnswerError(f"Alpha Vantage sent no JSON for {symbol}") from None
    if not isinstance(answer, dict):
        raise MalformedAnswerError(f"Alpha Vantage sent no JSON object for {symbol}")
    if "Error Message" in answer:
        text = _quote(answer["Error Message"], api_key)
        raise ProviderRefusedError(f"Alpha Vantage refused {symbol}: {text}")
    if not any(str(k).startswith("Time Series") for k in answer):
        for key in ("Note", "Information"):
            if key in answer:
                text = _quote(answer[key], api_key)
                raise ProviderThrottledError(f"Alpha Vantage declined {symbol}: {text}")
    return answer


def _quote(text: Any, api_key: str) -> str:
    """The provider's own words, short, without the key."""
    words = " ".join(str(text).split())[:160]
    return _KEY_IN_TEXT.sub(r"\1<redacted>", words.replace(api_key, "<redacted>"))


def parse_series(symbol: str, answer: Mapping[str, Any]) -> list[Bar]:
    """The bars of an Alpha Vantage time series answer, oldest first."""
    series = next((v for k, v in answer.items() if str(k).startswith("Time Series")), None)
    if not isinstance(series, dict) or not series:
        raise MalformedAnswerError(f"Alpha Vantage sent no time series for {symbol}")
    zone = _zone(symbol, answer.get("Meta Data"))
    bars = [_bar(symbol, str(moment), values, zone) for moment, values in series.items()]
    return sorted(bars, key=lambda bar: bar.time)


def _zone(symbol: str, meta: Any) -> ZoneInfo:
    names = (
        [v for k, v in meta.items() if str(k).endswith("Time Zone")]
        if isinstance(meta, dict)
        else []
    )
    try:
        return ZoneInfo(str(names[0])) if names else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise MalformedAnswerError(
            f"Alpha Vantage sent an unknown time zone for {symbol}"
        ) from None


def _bar(symbol: str, moment: str, values: Any, zone: ZoneInfo) -> Bar:
    """One entry: a date alone is 00:00 UTC (as in a CSV); a date and time is in `zone`."""
    try:
        when = datetime.fromisoformat(moment)
        if len(moment.strip()) <= 10:
            when = when.replace(tzinfo=UTC)
        elif when.tzinfo is None:
            when = when.replace(tzinfo=zone)
        labels = {str(k).partition(". ")[2]: v for k, v in values.items()}
        numbers = [float(labels.get(name) or labels[f"{name} (USD)"]) for name in _FIELDS]
    except (ValueError, TypeError, AttributeError, KeyError):
        raise MalformedAnswerError(
            f"Alpha Vantage sent a bad bar for {symbol} at {moment}"
        ) from None
    if not all(math.isfinite(v) and v >= 0 for v in numbers) or min(numbers[:4]) <= 0:
        raise MalformedAnswerError(f"Alpha Vantage sent a bad price for {symbol} at {moment}")
    return Bar(symbol, when.astimezone(UTC), *numbers)


def open_http_source(spec: str, *, live: bool = False, backlog: int = 60) -> AlphaVantageSource:
    """`http:` + `daily` / `intraday:INTERVAL` → a source; ValueError for a bad spec or no key."""
    return AlphaVantageSource(AlphaVantageConfig.from_spec(spec), live=live, backlog=backlog)
