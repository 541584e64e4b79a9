"""REST (``wc/v3``) representation of the WooCommerce simulator's records: money as
2-decimal strings, ``date_*`` in site-local time and ``date_*_gmt`` in UTC (reference
doc §3).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sandbox.woocommerce.models import (
    BILLING_FIELDS,
    SHIPPING_FIELDS,
    WEBHOOK_HOOKS,
    Order,
    Refund,
    TaxRate,
    Webhook,
    WpUser,
    iso,
    money,
    tax_of,
)

# --------------------------------------------------------------------------- rendering


def _links(base: str, path: str, collection: str) -> dict[str, Any]:
    return {
        "self": [{"href": f"{base}/wp-json/wc/v3/{path}"}],
        "collection": [{"href": f"{base}/wp-json/wc/v3/{collection}"}],
    }


def _taxes(rate: TaxRate | None, total: int, subtotal: int | None, dp: int) -> list[dict[str, Any]]:
    if rate is None:
        return []
    entry: dict[str, Any] = {"id": rate.id, "total": money(tax_of(total, rate.rate_bp), dp)}
    if subtotal is not None:
        entry["subtotal"] = money(tax_of(subtotal, rate.rate_bp), dp)
    return [entry]


CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "SEK": "kr", "CHF": "CHF"}


def render_order(o: Order, offset: timedelta, base: str, dp: int = 2) -> dict[str, Any]:
    """The ``wc/v3`` order representation, fields in WooCommerce's order."""
    t = o.totals()
    rate = o.tax_rate
    line_items = [
        {
            "id": li.id,
            "name": li.name,
            "product_id": li.product_id,
            "variation_id": li.variation_id,
            "quantity": li.quantity,
            "tax_class": li.tax_class,
            "subtotal": money(li.subtotal, dp),
            "subtotal_tax": money(li.subtotal_tax, dp),
            "total": money(li.total, dp),
            "total_tax": money(li.total_tax, dp),
            "taxes": _taxes(rate, li.total, li.subtotal, dp),
            "meta_data": [dict(m) for m in li.meta_data],
            "sku": li.sku,
            # WooCommerce: get_item_total(item, false, false), an unrounded float.
            "price": round(li.total / li.quantity / 100, 6) if li.quantity else 0,
            "image": {"id": "", "src": ""},
            "parent_name": None,
        }
        for li in o.line_items
    ]
    tax_lines = []
    if rate is not None and (t["cart_tax"] or t["shipping_tax"]):
        tax_lines.append(
            {
                "id": o.tax_line_id,
                "rate_code": rate.code,
                "rate_id": rate.id,
                "label": rate.label,
                "compound": False,
                "tax_total": money(t["cart_tax"], dp),
                "shipping_tax_total": money(t["shipping_tax"], dp),
                "rate_percent": rate.percent,
                "meta_data": [],
            }
        )
    paid = o.paid
    completed = o.completed
    return {
        "id": o.id,
        "parent_id": o.parent_id,
        "status": o.status,
        "currency": o.currency,
        "version": "9.4.2",
        "prices_include_tax": o.prices_include_tax,
        "date_created": iso(o.created, offset),
        "date_modified": iso(o.modified, offset),
        "discount_total": money(t["discount_total"], dp),
        "discount_tax": money(t["discount_tax"], dp),
        "shipping_total": money(t["shipping_total"], dp),
        "shipping_tax": money(t["shipping_tax"], dp),
        "cart_tax": money(t["cart_tax"], dp),
        "total": money(t["total"], dp),
        "total_tax": money(t["total_tax"], dp),
        "customer_id": o.customer_id,
        "order_key": o.order_key,
        "billing": dict(o.billing),
        "shipping": dict(o.shipping),
        "payment_method": o.payment_method,
        "payment_method_title": o.payment_method_title,
        "transaction_id": o.transaction_id,
        "customer_ip_address": o.customer_ip_address,
        "customer_user_agent": o.customer_user_agent,
        "created_via": o.created_via,
        "customer_note": o.customer_note,
        "date_completed": iso(completed, offset),
        "date_paid": iso(paid, offset),
        "cart_hash": o.cart_hash,
        "number": str(o.id),
        "meta_data": [dict(m) for m in o.meta_data],
        "line_items": line_items,
        "tax_lines": tax_lines,
        "shipping_lines": [
            {
                "id": sl.id,
                "method_title": sl.method_title,
                "method_id": sl.method_id,
                "instance_id": sl.instance_id,
                "total": money(sl.total, dp),
                "total_tax": money(sl.total_tax, dp),
                "taxes": _taxes(rate, sl.total, None, dp),
                "meta_data": [],
            }
            for sl in o.shipping_lines
        ],
        "fee_lines": [
            {
                "id": fl.id,
                "name": fl.name,
                "tax_class": "",
                "tax_status": fl.tax_status,
                "amount": money(fl.total, dp),
                "total": money(fl.total, dp),
                "total_tax": money(fl.total_tax, dp),
                "taxes": _taxes(rate, fl.total, None, dp) if fl.tax_status == "taxable" else [],
                "meta_data": [],
            }
            for fl in o.fee_lines
        ],
        "coupon_lines": [
            {
                "id": cl.id,
                "code": cl.code,
                "discount": money(cl.discount, dp),
                "discount_tax": money(cl.discount_tax, dp),
                "meta_data": [],
            }
            for cl in o.coupon_lines
        ],
        "refunds": [
            {"id": r.id, "reason": r.reason, "total": money(-r.amount, dp)} for r in o.refunds
        ],
        "payment_url": f"{base}/checkout/order-pay/{o.id}/?pay_for_order=true&key={o.order_key}",
        "is_editable": o.status in ("pending", "on-hold", "auto-draft"),
        "needs_payment": o.status in ("pending", "failed"),
        "needs_processing": True,
        "date_created_gmt": iso(o.created),
        "date_modified_gmt": iso(o.modified),
        "date_completed_gmt": iso(completed),
        "date_paid_gmt": iso(paid),
        "currency_symbol": CURRENCY_SYMBOLS.get(o.currency, o.currency),
        "_links": {
            **_links(base, f"orders/{o.id}", "orders"),
            **(
                {"customer": [{"href": f"{base}/wp-json/wc/v3/customers/{o.customer_id}"}]}
                if o.customer_id
                else {}
            ),
        },
    }


def render_refund(o: Order, r: Refund, offset: timedelta, base: str, dp: int = 2) -> dict[str, Any]:
    return {
        "id": r.id,
        "date_created": iso(r.created, offset),
        "date_created_gmt": iso(r.created),
        "amount": money(r.amount, dp),
        "reason": r.reason,
        "refunded_by": r.refunded_by,
        "refunded_payment": r.refunded_payment,
        "meta_data": [],
        "line_items": [],
        "_links": {
            "self": [{"href": f"{base}/wp-json/wc/v3/orders/{o.id}/refunds/{r.id}"}],
            "collection": [{"href": f"{base}/wp-json/wc/v3/orders/{o.id}/refunds"}],
            "up": [{"href": f"{base}/wp-json/wc/v3/orders/{o.id}"}],
        },
    }


def render_customer(u: WpUser, offset: timedelta, base: str) -> dict[str, Any]:
    return {
        "id": u.id,
        "date_created": iso(u.created, offset),
        "date_created_gmt": iso(u.created),
        "date_modified": iso(u.modified, offset),
        "date_modified_gmt": iso(u.modified),
        "email": u.email,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "role": u.role,
        "username": u.username,
        "billing": {k: u.billing.get(k, "") for k in BILLING_FIELDS},
        "shipping": {k: u.shipping.get(k, "") for k in SHIPPING_FIELDS},
        "is_paying_customer": u.is_paying_customer,
        "avatar_url": "https://secure.gravatar.com/avatar/?s=96&d=mm&r=g",
        "meta_data": [dict(m) for m in u.meta_data],
        "_links": _links(base, f"customers/{u.id}", "customers"),
    }


def render_webhook(w: Webhook, offset: timedelta, base: str) -> dict[str, Any]:
    return {
        "id": w.id,
        "name": w.name,
        "status": w.status,
        "topic": w.topic,
        "resource": w.resource,
        "event": w.event,
        "hooks": WEBHOOK_HOOKS.get(w.topic, []),
        "delivery_url": w.delivery_url,
        "date_created": iso(w.created, offset),
        "date_created_gmt": iso(w.created),
        "date_modified": iso(w.modified, offset),
        "date_modified_gmt": iso(w.modified),
        "_links": _links(base, f"webhooks/{w.id}", "webhooks"),
    }
