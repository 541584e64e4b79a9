"""The BigCommerce plugin's stream schedules (issue 10, seen 12)."""

from __future__ import annotations

from connector.models import Source
from connector.stores.bigcommerce.plugin import PLUGIN


def test_customers_have_their_own_interval_not_the_woocommerce_full_scan_hour() -> None:
    source = Source(system="bigcommerce", poll_interval_s=60, settings={})
    assert PLUGIN.stream("customers").interval(source) == 60
    assert PLUGIN.stream("orders").interval(source) == 60
    # The WooCommerce full-scan setting does not apply to BigCommerce.
    source.settings = {"customer_scan_interval_s": 3600, "customer_interval_s": 120}
    assert PLUGIN.stream("customers").interval(source) == 120
