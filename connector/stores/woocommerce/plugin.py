"""The WooCommerce store plugin: what the generic connector knows about WooCommerce."""

from __future__ import annotations

from connector.stores.base import StorePlugin, Stream
from connector.stores.woocommerce import flow, history
from connector.stores.woocommerce.intake import accept_woocommerce
from connector.stores.woocommerce.reconcile import reconcile_woo


def _auth_failure_cause(owner: str, worked_before: bool) -> str:
    # woocommerce.md Decisions 5: a key stops working when its WordPress user is deleted.
    if worked_before:
        return (f"the WooCommerce API key owned by WordPress user {owner!r} stopped working "
                "(the user was deleted or the key revoked)")
    return f"the WooCommerce API key (owner {owner!r}) is not accepted"


PLUGIN = StorePlugin(
    system="woocommerce",
    label="WooCommerce",
    id_prefix="W",
    webhook_path="woo",
    credential_fields=("consumer_key", "consumer_secret"),
    optional_credential_fields=("webhook_secret",),
    public_credential_fields=frozenset({"consumer_key"}),
    streams=(
        Stream("orders", flow.fetch_orders),
        # A full scan of registered customers: less often than the orders.
        Stream("customers", flow.fetch_customers, interval_setting="customer_scan_interval_s",
               default_interval_s=3600),
    ),
    fetch_one=flow.fetch_one,
    check_connection=flow.check_connection,
    planners={"customer": flow.plan_customer, "order": flow.plan_order},
    auth_failure_cause=_auth_failure_cause,
    accept_webhook=accept_woocommerce,
    reconcile=reconcile_woo,
    cli="connector.stores.woocommerce.cli:woocommerce",
    read_one=history.read_one,
    read_history=history.read_history,
)
