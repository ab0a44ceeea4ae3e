"""`alpine keys`: make a receipt key, and export the public keys receipts verify with."""

from __future__ import annotations

import json

import click

from alpine.receipt_issuer import KEYS_PATH
from alpine.receipts import PublicKey, SigningKey, b64
from alpine.settings_load import load


@click.group()
def keys() -> None:
    """Alpine's Ed25519 receipt keys."""


@keys.command(name="new")
@click.argument("key_id")
def keys_new(key_id: str) -> None:
    """Print a new receipt key as KEY_ID:SECRET for ALPINE_RECEIPT_KEY (a secret: keep it
    in the secret store), and its public half for the relay's RELAY_ALPINE_RECEIPT_KEYS."""
    text = SigningKey.generate(key_id)
    key = SigningKey.parse(text, "new key")
    click.echo(f"ALPINE_RECEIPT_KEY={text}")
    click.echo(f"public key: {key_id}:{b64(key.public.raw)}")


@keys.command(name="export")
def keys_export() -> None:
    """Print the public keys (current, then retired) as served at /api/v1/keys."""
    settings = load().settings
    public: list[PublicKey] = [settings.receipt_key.public] if settings.receipt_key else []
    public += list(settings.receipt_retired_keys)
    click.echo(json.dumps({"keys": [k.as_json() for k in public]}, indent=2))
    if not public:
        click.echo(
            f"no receipt key configured (ALPINE_RECEIPT_KEY); {KEYS_PATH} is empty", err=True
        )
