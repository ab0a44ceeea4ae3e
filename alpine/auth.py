"""Who may ingest: API keys compared in constant time, and Standard Webhooks signatures."""

from __future__ import annotations

import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from standardwebhooks import Webhook, WebhookVerificationError


def key_id(key: str) -> str:
    """A stable, non-secret name for a key: recorded with rows and logged instead of it."""
    return "key_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class ApiKeys:
    """The currently valid keys; two at once during a rotation."""

    keys: tuple[bytes, ...]
    ids: tuple[str, ...]

    @classmethod
    def of(cls, keys: Sequence[str]) -> ApiKeys:
        return cls(tuple(k.encode("utf-8") for k in keys), tuple(key_id(k) for k in keys))

    def identify(self, presented: bytes | None) -> str | None:
        """The id of the key matching `presented`, else None.

        Compares against every key, without stopping at a match, in constant time.
        """
        if not presented:
            return None
        found: str | None = None
        for key, ident in zip(self.keys, self.ids, strict=True):
            if hmac.compare_digest(key, presented):
                found = ident
        return found


class SignatureVerifier:
    """Checks `webhook-*` headers over the raw body; 5 minutes of clock tolerance.

    Several secrets may be valid at once (a rotation); a request signed with any passes.
    """

    def __init__(self, secrets: Sequence[str]) -> None:
        self._webhooks = [Webhook(secret) for secret in secrets]

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        """None when the signature is good, else the reason it is not."""
        wanted = {
            name: headers[name]
            for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
            if name in headers
        }
        problem = "no signing secret configured"
        for webhook in self._webhooks:
            try:
                webhook.verify(body, wanted, json_parse=False)
            except WebhookVerificationError as exc:
                problem = str(exc)
            except (ValueError, binascii.Error, UnicodeDecodeError):
                problem = "malformed signature headers or body"
            else:
                return None
        return problem
