"""The relay's exceptions. Delivery outcomes are not exceptions: every answer of a POST
becomes a relay.fate.Reply in relay.classify, and httpx errors are translated there.

RelayError
├── ConfigError        a setting is missing or malformed (exit code 2)
└── ListingError       Alpine did not answer a page of its reconciliation list
"""

from __future__ import annotations


class RelayError(Exception):
    """The relay failed."""


class ConfigError(RelayError):
    """A relay setting is missing or malformed."""


class ListingError(RelayError):
    """Alpine did not answer a page of its reconciliation list."""
