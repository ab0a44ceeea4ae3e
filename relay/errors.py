"""The relay's exceptions; httpx errors are translated only in relay.deliver.

RelayError
├── ConfigError                    a setting is missing or malformed (exit code 2)
└── DeliveryError                  one POST to Alpine did not store the event
    ├── RetryableDeliveryError     timeout, 5xx, 404, 408: may be the row's own fault
    │   ├── UnreachableError       connection refused/reset, DNS: never the row's fault
    │   └── RateLimitedError       429; carries Retry-After
    ├── PermanentDeliveryError     400, 409, 413, 422 and other 4xx: dead letter
    └── DeliveryRejectedError      401, 403, 3xx: our configuration is wrong; pause all
"""

from __future__ import annotations


class RelayError(Exception):
    """The relay failed."""


class ConfigError(RelayError):
    """A relay setting is missing or malformed."""


class DeliveryError(RelayError):
    """Alpine did not store the event."""

    def __init__(self, message: str | None = None, *, status: int | None = None) -> None:
        super().__init__(message or self.__doc__)
        self.status = status


class RetryableDeliveryError(DeliveryError):
    """Delivery failed for a reason that may pass; try again later."""


class UnreachableError(RetryableDeliveryError):
    """Alpine could not be reached; nothing about the row can have caused it."""


class RateLimitedError(RetryableDeliveryError):
    """Alpine asked us to slow down (429)."""

    def __init__(self, message: str | None = None, *, retry_after: float) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Alpine rejected the event itself; retrying cannot help."""


class DeliveryRejectedError(DeliveryError):
    """Alpine rejected our credentials or address; fix the configuration."""
