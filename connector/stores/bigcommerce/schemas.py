"""BigCommerce payloads → plain typed data (conventions habit 9, ``reference/bigcommerce.md``).

The schemas live in one module per resource: :mod:`~connector.stores.bigcommerce.order_schemas`
(orders, fee and product lines), :mod:`~connector.stores.bigcommerce.address_schemas` (billing
and shipping addresses), :mod:`~connector.stores.bigcommerce.voucher_schemas`
(transactions, shipments, refunds), :mod:`~connector.stores.bigcommerce.customer_schemas`
(customers), with the shared marshmallow pieces in
:mod:`~connector.stores.bigcommerce.schema_base` and the business checks in
:mod:`~connector.stores.bigcommerce.validation`.

This module re-exports the plain data types :mod:`connector.stores.bigcommerce.mapping` reads
(kept until that module is split); new code imports from the modules above.
"""

from __future__ import annotations

from connector.stores.bigcommerce.address_schemas import BcAddress, BcShippingAddress
from connector.stores.bigcommerce.customer_schemas import BcCustomer
from connector.stores.bigcommerce.order_schemas import BcOrder, BcOrderProduct
from connector.stores.bigcommerce.voucher_schemas import BcRefund, BcShipment, BcTransaction

__all__ = [
    "BcAddress",
    "BcCustomer",
    "BcOrder",
    "BcOrderProduct",
    "BcRefund",
    "BcShipment",
    "BcShippingAddress",
    "BcTransaction",
]
