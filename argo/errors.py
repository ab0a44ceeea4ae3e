"""Argo's exceptions.

ArgoError
├── ConfigError             a setting is missing or malformed (exit code 2)
├── ExecutionLockedError    another `argo run --auto-execute` trades on this database
└── StoreError              the SQLite store failed
    ├── StoreBusyError      the write lock could not be had in time
    ├── SchemaError         the database's schema is one this release cannot use
    └── OutboxMissingError  the database does not exist or holds no outbox (exit code 2)
"""

from __future__ import annotations


class ArgoError(Exception):
    """Argo failed."""


class ConfigError(ArgoError):
    """A setting is missing or malformed."""


class ExecutionLockedError(ArgoError):
    """Another `argo run --auto-execute` already trades on this database: one risk book per
    database, or the limits would not hold across the two."""


class StoreError(ArgoError):
    """The SQLite store failed."""


class StoreBusyError(StoreError):
    """The SQLite write lock could not be had in time."""


class SchemaError(StoreError):
    """The database's schema is one this release cannot use."""


class OutboxMissingError(StoreError):
    """The database does not exist or holds no Argo outbox."""
