"""``ml-connector keys``: generate encryption keys and rotate stored secrets."""

from __future__ import annotations

import click

from connector.cli.common import bootstrap, fail, vault


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
    failures: list[str] = []
    count = rotate_keys(session_scope, vault(), batch_size=batch_size, failures=failures)
    click.echo(f"rotated {count} secret(s) to the newest key")
    if failures:
        for name in failures:
            click.echo(f"cannot re-encrypt {name}: no key in MLC_ENCRYPTION_KEYS opens it",
                       err=True)
        fail(f"{len(failures)} secret(s) could not be re-encrypted: {', '.join(failures)} "
             "(add the key they were written with to MLC_ENCRYPTION_KEYS, or set them again)",
             1)


@keys.command("check")
def keys_check() -> None:
    """Verify that every stored secret decrypts under the configured keys (exit 1 if not)."""
    from connector.db import session_scope
    from connector.operations.admin import check_keys

    bootstrap()
    opened, broken, stale = check_keys(session_scope, vault())
    click.echo(f"{opened} stored secret(s) decrypt with MLC_ENCRYPTION_KEYS")
    if stale:
        click.echo(f"{len(stale)} not yet under the newest key (run `ml-connector keys "
                   f"rotate`): {', '.join(stale)}")
    if broken:
        fail(f"{len(broken)} stored secret(s) no key opens: {', '.join(broken)}", 1)
