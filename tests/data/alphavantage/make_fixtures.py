"""Writes the Alpha Vantage fixtures of this directory (run once:
`.venv/bin/python tests/data/alphavantage/make_fixtures.py`). The JSON shapes follow Alpha Vantage's
documented answers; the prices are the shipped GOOG sample and seeded synthetic bars."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from argo.prices.sources import SyntheticPriceSource

HERE = Path(__file__).parent
ROOT = HERE.parent.parent.parent


def _entry(o: float, h: float, lo: float, c: float, v: float, digits: int = 4) -> dict[str, str]:
    f = f"{{:.{digits}f}}"
    return {
        "1. open": f.format(o),
        "2. high": f.format(h),
        "3. low": f.format(lo),
        "4. close": f.format(c),
        "5. volume": str(round(v)),
    }


def daily_goog() -> dict[str, object]:
    rows = list(csv.DictReader((ROOT / "argo/samples/GOOG-2004-2006.csv").open()))
    series = {
        r["date"]: _entry(*(float(r[k]) for k in ("open", "high", "low", "close", "volume")))
        for r in reversed(rows)
    }
    return {
        "Meta Data": {
            "1. Information": "Daily Prices (open, high, low, close) and Volumes",
            "2. Symbol": "GOOG",
            "3. Last Refreshed": rows[-1]["date"],
            "4. Output Size": "Full size",
            "5. Time Zone": "US/Eastern",
        },
        "Time Series (Daily)": series,
    }


def intraday_ibm() -> dict[str, object]:
    source = SyntheticPriceSource(["IBM"], seed=16)
    eastern = ZoneInfo("US/Eastern")
    start = datetime(2026, 12, 1, 9, 35, tzinfo=eastern)
    bars = [source.next_bar("IBM") for _ in range(100)]
    series = {}
    for i, bar in enumerate(reversed(bars)):
        moment = start + timedelta(minutes=5 * (99 - i))
        scale = 1.6
        series[moment.strftime("%Y-%m-%d %H:%M:%S")] = _entry(
            bar.open * scale, bar.high * scale, bar.low * scale, bar.close * scale, bar.volume / 300
        )
    last = max(series)
    return {
        "Meta Data": {
            "1. Information": "Intraday (5min) open, high, low, close prices and volume",
            "2. Symbol": "IBM",
            "3. Last Refreshed": last,
            "4. Interval": "5min",
            "5. Output Size": "Compact",
            "6. Time Zone": "US/Eastern",
        },
        "Time Series (5min)": series,
    }


def digital_daily_btc() -> dict[str, object]:
    source = SyntheticPriceSource(["BTC-USD"], seed=16)
    start = datetime(2026, 8, 24, tzinfo=UTC)
    bars = [source.next_bar("BTC-USD") for _ in range(100)]
    series = {}
    for i, bar in enumerate(reversed(bars)):
        day = (start + timedelta(days=99 - i)).strftime("%Y-%m-%d")
        entry = _entry(bar.open * 2.2, bar.high * 2.2, bar.low * 2.2, bar.close * 2.2, 0, 8)
        entry["5. volume"] = f"{bar.volume / 1e5:.8f}"
        series[day] = entry
    return {
        "Meta Data": {
            "1. Information": "Daily Prices and Volumes for Digital Currency",
            "2. Digital Currency Code": "BTC",
            "3. Digital Currency Name": "Bitcoin",
            "4. Market Code": "USD",
            "5. Market Name": "United States Dollar",
            "6. Last Refreshed": max(series),
            "7. Time Zone": "UTC",
        },
        "Time Series (Digital Currency Daily)": series,
    }


ANSWERS = {
    "note.json": {
        "Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls"
        " per minute and 500 calls per day. Please visit https://www.alphavantage.co/premium/"
        " if you would like to target a higher API call frequency."
    },
    "information.json": {
        "Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 25"
        " requests per day. Please subscribe to any of the premium plans at"
        " https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."
    },
    "error.json": {
        "Error Message": "Invalid API call. Please retry or visit the documentation"
        " (https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY."
    },
}


def main() -> None:
    for name, document in {
        "daily-GOOG.json": daily_goog(),
        "intraday-IBM-5min.json": intraday_ibm(),
        "digital-daily-BTC.json": digital_daily_btc(),
        **ANSWERS,
    }.items():
        (HERE / name).write_text(json.dumps(document, indent=4) + "\n")
    (HERE / "malformed.json").write_text('{\n    "Meta Data": {\n        "1. Information": "Daily')


if __name__ == "__main__":
    main()
