"""``ml-connector ifs``: a tenant's IFS Cloud target."""

from __future__ import annotations

from typing import Any

import click

from connector.cli.common import command_session, fail, vault


@click.group()
def ifs() -> None:
    """The tenant's IFS Cloud target."""


@ifs.command("set-target")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--base-url", required=True, help="e.g. https://ifs.example.com")
@click.option("--realm", required=True, help="IAM realm (environment namespace).")
@click.option("--client-id", required=True, help="IAM client id (service account).")
@click.option("--client-secret-file", type=click.File("r"),
              help="File holding the client secret; prompted (hidden) when omitted.")
@click.option("--token-url", help="Defaults to {base}/auth/realms/{realm}/protocol/"
              "openid-connect/token.")
@click.option("--company", help="Company code (changes the tenant's).")
@click.option("--site", help="Default site (Contract) for orders.")
@click.option("--order-type", help="Default order type (OrderId).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Other per-tenant IFS defaults (e.g. email_method_id=E_MAIL).")
@click.option("--no-check", is_flag=True,
              help="Do not test the target (token grant and one read) before storing it.")
def ifs_set_target(tenant_name: str, base_url: str, realm: str, client_id: str,
                   client_secret_file: Any, token_url: str | None, company: str | None,
                   site: str | None, order_type: str | None, options: tuple[str, ...],
                   no_check: bool) -> None:
    """Set where and how the tenant's records are written in IFS. The target is tested first
    (a token grant and one read) unless --no-check."""
    from connector.logs import register_secret
    from connector.operations.admin import (
        IfsTarget,
        InvalidInput,
        check_ifs_target,
        check_url,
        get_tenant,
        set_ifs_target,
    )

    extra: dict[str, Any] = {}
    for pair in options:
        if "=" not in pair:
            fail(f"--option wants KEY=VALUE, got {pair!r}", 2)
        key, value = pair.split("=", 1)
        extra[key.strip()] = value
    with command_session() as session:  # the tenant and the URL first, then the secret
        get_tenant(session, tenant_name)
        check_url(base_url, "IFS base URL")
    if client_secret_file is not None:
        secret = client_secret_file.read().strip()
    else:
        secret = click.prompt("IFS client secret", hide_input=True)
    register_secret(secret)
    target = IfsTarget(base_url=base_url, realm=realm, client_id=client_id, client_secret=secret,
                       token_url=token_url, site=site, order_type=order_type, company=company,
                       extra=extra)
    with command_session() as session:
        if not secret:
            raise InvalidInput("the IFS client secret must not be empty")
        if not no_check:
            check_ifs_target(target)
        t = get_tenant(session, tenant_name)
        set_ifs_target(session, vault(), t, target)
    click.echo(f"IFS target of {tenant_name} set" + ("" if no_check else " (tested: token "
                                                                          "and one read)"))
