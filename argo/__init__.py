"""Argo: the signal producer. Signals and their outbox events commit together in SQLite."""

__version__ = "0.1.0"
