"""The BigCommerce store plugin: what the generic connector knows about BigCommerce."""

from __future__ import annotations

from connector.stores.base import StorePlugin, Stream
from connector.stores.bigcommerce import flow, history, planners, settings
from connector.stores.bigcommerce.intake import accept_bigcommerce
from connector.stores.bigcommerce.reconcile import reconcile_bc


def _auth_failure_cause(owner: str, worked_before: bool) -> str:
    if worked_before:
        return ("the BigCommerce API account token stopped working (account deleted or "
                "token revoked)")
    return "the BigCommerce token is not accepted"


PLUGIN = StorePlugin(
    system="bigcommerce",
    label="BigCommerce",
    id_prefix="B",
    webhook_path="bc",
    credential_fields=("store_hash", "access_token", "client_id", "client_secret"),
    optional_credential_fields=("hook_secret",),
    public_credential_fields=frozenset({"store_hash", "client_id"}),
    streams=(
        Stream("orders", flow.fetch_orders),
        # The customers stream is incremental (v3 date_modified keyset), not a full scan like
        # WooCommerce's: it runs on the source's interval unless ``customer_interval_s`` says
        # otherwise (issue 10, seen 12: it used to wait for the Woo full-scan hour).
        Stream("customers", flow.fetch_customers, interval_setting="customer_interval_s"),
    ),
    fetch_one=flow.fetch_one,
    check_connection=settings.check_connection,
    planners={"order": planners.plan_order, "customer": planners.plan_customer,
              "payment": planners.plan_payment, "shipment": planners.plan_shipment,
              "refund": planners.plan_refund},
    auth_failure_cause=_auth_failure_cause,
    accept_webhook=accept_bigcommerce,
    reconcile=reconcile_bc,
    cli="connector.stores.bigcommerce.cli:bigcommerce",
    read_one=history.read_one,
    read_history=history.read_history,
)
