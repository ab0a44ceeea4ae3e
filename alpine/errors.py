"""Alpine's exceptions.

AlpineError
├── ConfigError            a setting is missing or malformed (exit code 2)
└── StoreUnavailableError  the database cannot be reached (HTTP 503)
"""

from __future__ import annotations


class AlpineError(Exception):
    """Alpine failed."""


class ConfigError(AlpineError):
    """A setting is missing or malformed."""


class StoreUnavailableError(AlpineError):
    """The database cannot be reached."""
