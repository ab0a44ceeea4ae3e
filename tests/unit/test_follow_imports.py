"""`alpine follow`'s module is a subscriber's client: of Alpine it may reach only the
canonical hash and the record's check, transitively (grimp, the graph import-linter is built on)."""

from __future__ import annotations

import grimp

ALLOWED = {"alpine", "alpine.follow", "alpine.canonical", "alpine.record_check"}


def test_the_client_reaches_nothing_of_alpines_server() -> None:
    graph = grimp.build_graph("alpine")
    reached = graph.find_upstream_modules("alpine.follow") | {"alpine.follow"}
    assert reached - ALLOWED == set()
