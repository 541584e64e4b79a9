"""``ml-connector keys``: generate encryption keys and rotate stored secrets."""

from __future__ import annotations

import click

from connector.cli.common import bootstrap, vault


@click.group()
def keys() -> None:
    """Encryption keys of the credential vault."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new key. Put it FIRST in MLC_ENCRYPTION_KEYS, keep the old ones after it,
    then run `ml-connector keys rotate`."""
    from connector.crypto import generate_key

    click.echo(generate_key())


@keys.command("rotate")
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 10_000))
def keys_rotate(batch_size: int) -> None:
    """Re-encrypt every stored secret under the newest key (idempotent, batched)."""
    from connector.db import session_scope
    from connector.operations.admin import rotate_keys

    bootstrap()
    count = rotate_keys(session_scope, vault(), batch_size=batch_size)
    click.echo(f"rotated {count} secret(s) to the newest key")
