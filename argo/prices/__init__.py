"""Price sources: synthetic, CSV files and Alpha Vantage over HTTP, behind `PriceSource`.

- `sources`: the `Bar`, the `PriceSource` interface, the synthetic and CSV sources.
- `http`: Alpha Vantage (it builds on `sources`).
- `open_source` (here, at the face): a source from its spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from argo.prices.sources import CsvPriceSource, PriceSource, SyntheticPriceSource

__all__ = ["open_source"]


def open_source(spec: str, symbols: Sequence[str], seed: int, *, live: bool = False) -> PriceSource:
    """`synthetic`, `csv:PATH` or `http:daily|intraday:INTERVAL` → a price source.

    `live` (argo run): an http source then waits for new bars instead of running out.
    ValueError for anything else, or for an http source without an API key.
    """
    if spec == "synthetic":
        return SyntheticPriceSource(symbols, seed)
    if spec.startswith("csv:"):
        return CsvPriceSource(Path(spec.removeprefix("csv:")))
    if spec.startswith("http:"):
        # Imported here: it pulls in httpx (~45 ms), which every process that only reads
        # bars (each `argo` command imports this package) would otherwise pay for.
        from argo.prices.http import open_http_source

        return open_http_source(spec.removeprefix("http:"), live=live)
    raise ValueError(
        f"unknown price source {spec!r}: use synthetic, csv:PATH, http:daily"
        " or http:intraday:INTERVAL"
    )
