"""`--source http:…` against a real loopback server replaying Alpha Vantage answers."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from argo.cli.main import main
from argo.engine.decide import EngineConfig
from argo.generator import SignalFactory
from argo.prices.http import AlphaVantageConfig, AlphaVantageSource, PriceSourceError
from argo.prices.sources import Bar, CsvPriceSource
from tests.integration.alphavantage_server import FIXTURES, Answer, Replay, fixture, serve, window
from tests.support import ROOT, cli, free_port, spawn, stop, wait_for

KEY = "AVKEY-test-0123456789"
GOOG_CSV = ROOT / "argo" / "samples" / "GOOG-2004-2006.csv"
GOOG = json.loads((FIXTURES / "daily-GOOG.json").read_text())


@pytest.fixture
def replay() -> Iterator[Replay]:
    with serve(Replay()) as running:
        yield running


def env_for(replay: Replay, **extra: str) -> dict[str, str]:
    return {
        "ALPHA_VANTAGE_API_KEY": KEY,
        "ARGO_ALPHA_VANTAGE_URL": replay.url,
        "ARGO_ALPHA_VANTAGE_RETRIES": "2",
        "ARGO_ALPHA_VANTAGE_TIMEOUT": "2",
        **extra,
    }


def source(replay: Replay, spec: str = "daily", live: bool = False) -> AlphaVantageSource:
    env = env_for(replay, ARGO_ALPHA_VANTAGE_REFRESH="0")
    return AlphaVantageSource(AlphaVantageConfig.from_spec(spec, env), live=live)


def drain(prices: AlphaVantageSource, symbol: str) -> list[Bar]:
    bars = []
    while (bar := prices.next_bar(symbol)) is not None:
        bars.append(bar)
    return bars


def goog_bars() -> list[Bar]:
    csv = CsvPriceSource(GOOG_CSV)
    return [bar for bar in iter(lambda: csv.next_bar("GOOG"), None) if bar is not None]


def test_daily_answer_is_the_same_bars_as_the_csv(replay: Replay) -> None:
    replay.answers = [fixture("daily-GOOG.json")]
    assert drain(source(replay), "GOOG") == goog_bars()
    assert replay.requests == [
        {"symbol": "GOOG", "function": "TIME_SERIES_DAILY", "outputsize": "full", "apikey": KEY}
    ]


def test_intraday_times_are_converted_from_us_eastern(replay: Replay) -> None:
    replay.answers = [fixture("intraday-IBM-5min.json")]
    bars = drain(source(replay, "intraday:5min"), "IBM")
    assert len(bars) == 100 and bars == sorted(bars, key=lambda b: b.time)
    assert bars[-1].time == datetime(2026, 12, 1, 22, 50, tzinfo=UTC)  # 17:50 EST
    assert bars[-1].close == 151.4384 and bars[-1].volume == 2629
    assert replay.requests[0]["function"] == "TIME_SERIES_INTRADAY"
    assert replay.requests[0]["interval"] == "5min"


def test_crypto_asks_digital_currency_daily_in_usd(replay: Replay) -> None:
    replay.answers = [fixture("digital-daily-BTC.json")]
    bars = drain(source(replay), "BTC-USD")
    assert len(bars) == 100 and {b.symbol for b in bars} == {"BTC-USD"}
    assert bars[0].time == datetime(2026, 8, 24, tzinfo=UTC)
    query = replay.requests[0]
    assert (query["function"], query["symbol"], query["market"]) == (
        "DIGITAL_CURRENCY_DAILY",
        "BTC",
        "USD",
    )


def test_old_style_crypto_columns_take_the_usd_ones(replay: Replay) -> None:
    entry = {"1a. open (CNY)": "7", "1b. open (USD)": "1.5", "2b. high (USD)": "2"}
    entry |= {"3b. low (USD)": "1", "4b. close (USD)": "1.8", "5. volume": "10"}
    document = {"Time Series (Digital Currency Daily)": {"2019-02-19": entry}}
    replay.answers = [Answer(200, json.dumps(document).encode())]
    (bar,) = drain(source(replay), "BTC-USD")
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (1.5, 2, 1, 1.8, 10)


def test_live_source_serves_each_bar_once_across_overlapping_answers(replay: Replay) -> None:
    replay.answers = [window(GOOG, n) for n in (100, 100, 130, 131, 131, 200)]
    prices = source(replay, live=True)
    # Each drain asks until nothing is new: 100, 100 | 130, 131, 131 | 200, 200.
    served = [drain(prices, "GOOG") for _ in range(3)]
    assert [len(bars) for bars in served] == [60, 31, 69]
    assert len(replay.requests) == 7 and replay.requests[0]["outputsize"] == "compact"
    every = [bar for bars in served for bar in bars]
    assert every == goog_bars()[40:200]


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (fixture("note.json"), "declined GOOG: Thank you for using Alpha Vantage"),
        (fixture("information.json"), "rate limit is 25 requests per day"),
        (fixture("error.json"), "refused GOOG: Invalid API call"),
        (fixture("malformed.json"), "sent no JSON for GOOG"),
        (Answer(200, b"<html>Bad gateway</html>"), "sent no JSON for GOOG"),
        (Answer(200, b'{"Meta Data": {}}'), "no time series for GOOG"),
        (Answer(429, b""), "throttling (HTTP 429)"),
        (Answer(403, b""), "answered HTTP 403"),
        (Answer(503, b""), "answered HTTP 503"),
    ],
)
def test_a_failed_answer_is_one_line_and_exit_1(
    replay: Replay, tmp_path: Path, answer: Answer, words: str
) -> None:
    replay.answers = [answer]
    result = generate(replay, tmp_path)
    assert result.exit_code == 1 and isinstance(result.exception, PriceSourceError)
    message = str(result.exception)
    assert message.startswith("Alpha Vantage") and words in message, message
    assert KEY not in result.output + message
    retried = answer.status >= 500
    assert len(replay.requests) == (2 if retried else 1)


def test_a_slow_provider_times_out(replay: Replay, tmp_path: Path) -> None:
    replay.answers = [Answer(stall=True)]
    result = generate(replay, tmp_path, ARGO_ALPHA_VANTAGE_TIMEOUT="0.2")
    assert result.exit_code == 1
    assert "did not answer in time" in str(result.exception) and len(replay.requests) == 2


def test_a_provider_that_is_down_is_one_line_and_exit_1(tmp_path: Path) -> None:
    closed = Replay(url=f"http://127.0.0.1:{free_port()}/query")
    args = ["generate", "-n", "5", "--source", "http:daily", "--symbols", "GOOG"]
    env = env_for(closed, ARGO_ALPHA_VANTAGE_RETRIES="1")
    env |= {"ARGO_DB": str(tmp_path / "s.db"), "ARGO_AUDIT_LOG": str(tmp_path / "a.log")}
    result = cli("argo", *args, env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "argo: Alpha Vantage at 127.0.0.1 is unreachable (ConnectError)"
    )
    assert "Traceback" not in result.stderr and KEY not in result.stderr


def test_a_5xx_is_retried_with_backoff(replay: Replay, tmp_path: Path) -> None:
    replay.answers = [Answer(503, b""), fixture("daily-GOOG.json")]
    result = generate(replay, tmp_path, ARGO_ALPHA_VANTAGE_RETRIES="2")
    assert result.exit_code == 0, result.output
    assert len(replay.requests) == 2


def generate(replay: Replay, tmp_path: Path, **extra: str) -> Result:
    args = ["generate", "-n", "50", "--source", "http:daily", "--symbols", "GOOG"]
    args += ["--db", str(tmp_path / "s.db"), "--audit-log", str(tmp_path / "a.log")]
    return CliRunner().invoke(main, args, env=env_for(replay, **extra))


def test_generate_stores_signals_from_the_provider(replay: Replay, tmp_path: Path) -> None:
    replay.answers = [fixture("daily-GOOG.json")]
    result = generate(replay, tmp_path)
    assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / "s.db") as conn:
        sources = conn.execute("SELECT DISTINCT data_source FROM signals").fetchall()
    assert sources == [("alphavantage:daily",)]


def test_backtest_over_http_equals_the_csv(replay: Replay) -> None:
    replay.answers = [fixture("daily-GOOG.json")]
    over_http = CliRunner().invoke(
        main,
        ["backtest", "--source", "http:daily", "--symbols", "GOOG", "--json"],
        env=env_for(replay),
    )
    from_csv = CliRunner().invoke(
        main, ["backtest", "--source", f"csv:{GOOG_CSV}", "--symbols", "GOOG", "--json"]
    )
    assert over_http.exit_code == 0, over_http.output
    assert json.loads(over_http.stdout) == json.loads(from_csv.stdout)


@pytest.mark.parametrize("how", ["credential", "file"])
def test_the_key_comes_from_a_credential_or_a_file(
    replay: Replay, how: str, tmp_path: Path
) -> None:
    replay.answers = [fixture("daily-GOOG.json")]
    (tmp_path / "alpha-vantage-api-key").write_text("key-from-a-file\n")
    env = env_for(replay, ALPHA_VANTAGE_API_KEY="")
    if how == "credential":
        env["CREDENTIALS_DIRECTORY"] = str(tmp_path)
    else:
        env["ALPHA_VANTAGE_API_KEY_FILE"] = str(tmp_path / "alpha-vantage-api-key")
    AlphaVantageSource(AlphaVantageConfig.from_spec("daily", env)).fetch("GOOG")
    assert replay.requests[0]["apikey"] == "key-from-a-file"


def test_no_key_or_a_bad_spec_is_a_usage_error(replay: Replay, tmp_path: Path) -> None:
    no_key = generate(replay, tmp_path, ALPHA_VANTAGE_API_KEY="")
    assert no_key.exit_code == 2 and "ALPHA_VANTAGE_API_KEY_FILE" in no_key.output
    with pytest.raises(ValueError, match="http:intraday:INTERVAL"):
        AlphaVantageConfig.from_spec("intraday:7min", env_for(replay))
    assert replay.requests == []


def test_live_failure_is_a_warning_not_an_error(replay: Replay) -> None:
    replay.answers = [Answer(503, b""), Answer(503, b""), fixture("note.json")]
    prices = source(replay, live=True)
    assert prices.next_bar("GOOG") is None and prices.next_bar("GOOG") is None
    with pytest.raises(PriceSourceError):
        prices.fetch("GOOG")  # replay mode would have said so


def test_argo_run_cycles_and_each_new_bar_signals_once(replay: Replay, tmp_path: Path) -> None:
    """A growing answer (time passing), an outage and a throttle in between."""
    sizes = iter(range(150, 505 + 25, 25))
    failing = {3: Answer(503, b""), 4: Answer(503, b""), 6: fixture("note.json")}

    def script(number: int) -> Answer:
        return failing.get(number) or window(GOOG, next(sizes, 504))

    replay.script = script
    db = tmp_path / "signals.db"
    env = env_for(replay, ARGO_ALPHA_VANTAGE_RETRIES="1", ARGO_ALPHA_VANTAGE_REFRESH="0")
    env |= {"ARGO_DB": str(db), "ARGO_AUDIT_LOG": str(tmp_path / "a.log")}
    log = tmp_path / "argo.log"
    args = ["run", "--source", "http:daily", "--symbols", "GOOG", "--interval", "0.01"]
    process = spawn("argo", "-vv", *args, "--metrics-port", "0", env=env, log=log)
    try:
        # Done when the full answer was served and the source came back for more.
        wait_for(lambda: len(replay.requests) > 20, timeout=60, what="the whole series")
    finally:
        stop(process)
    assert process.returncode == 0, log.read_text()
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT action, confidence FROM signals ORDER BY rowid").fetchall()
    assert stored == expected_live_signals(first_answer=150)
    text = log.read_text()
    assert text.count("trying again next cycle") == 3  # two 503s and a "Note"
    assert KEY not in text


def expected_live_signals(first_answer: int) -> list[tuple[str, float]]:
    """The engine warmed on the newest 60 bars of the first answer, then fed the rest."""
    bars = goog_bars()[first_answer - 60 :]

    class Listed:
        name = "listed"

        def next_bar(self, symbol: str) -> Bar | None:
            return bars.pop(0) if bars else None

    factory = SignalFactory(Listed(), EngineConfig())
    factory.warm_up(["GOOG"])
    signals = []
    while True:
        signal, bar = factory.step("GOOG")
        if bar is None:
            assert signals, "the window must hold signals for the test to mean anything"
            return signals
        if signal is not None:
            signals.append((signal.action.value, signal.confidence))
