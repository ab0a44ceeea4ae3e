"""The house's import graph, read by grimp (the library import-linter is built on).

- No import circle among the modules of argo/, relay/ and alpine/ (the issue counted 5).
- The relay reaches Argo only through an allow-list, counted over its *transitive*
  imports: the outbox (`argo.outbox`), the signal store that `relay replay` and
  `relay verify` read (`argo.signals`), their database plumbing (`argo.db`), the
  process kit (`argo.process`, `argo.timeutil`, `argo.errors`) and the plain values those
  carry (`argo.signal`, `argo.trades`). No engine, prices, reports, execution or CLI.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

PACKAGES = ("argo", "relay", "alpine")

RELAY_MAY_REACH = (
    "argo",  # the package itself (its __init__ holds only the version)
    "argo.outbox",
    "argo.signals",
    "argo.db",
    "argo.reports.stats",  # the values of the store's outcome reads (no IO)
    "argo.reports.reliability",  # the bands and tallies those values use (no IO)
    "argo.process",
    "argo.timeutil",
    "argo.errors",
    "argo.signal",
    "argo.trades",
)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Each import circle once: the modules that import each other, directly or not."""
    found: set[frozenset[str]] = set()
    for module in graph.modules:
        upstream = graph.find_upstream_modules(module)
        circle = {other for other in upstream if module in graph.find_upstream_modules(other)}
        if circle:
            found.add(frozenset({module, *circle}))
    return sorted(sorted(c) for c in found)


def test_no_import_circle(graph: grimp.ImportGraph) -> None:
    assert circles(graph) == []


def test_circles_finds_a_circle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "circled"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("import circled.b\n")
    (package / "b.py").write_text("import circled.a\n")
    (package / "c.py").write_text("import circled.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("circled", cache_dir=None)
    assert circles(graph) == [["circled.a", "circled.b"]]


def _allowed(module: str) -> bool:
    return any(module == a or module.startswith(a + ".") for a in RELAY_MAY_REACH if a != "argo")


def test_the_relay_reaches_only_its_part_of_argo(graph: grimp.ImportGraph) -> None:
    reached: set[str] = set()
    for module in graph.find_descendants("relay") | {"relay"}:
        reached |= graph.find_upstream_modules(module)
    argo = {m for m in reached if m == "argo" or m.startswith("argo.")}
    outside = sorted(m for m in argo if m != "argo" and not _allowed(m))
    assert outside == []
    assert "argo.outbox" in argo  # the test would pass vacuously if relay stopped importing
