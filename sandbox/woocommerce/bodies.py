"""Request bodies of the WooCommerce simulator: validation and application of the writable
order fields (line items, shipping, fees, coupons) and customer fields, as POST/PUT and
the admin mutate routes use them.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.woocommerce.errors import WooError, invalid_params
from sandbox.woocommerce.generator import PRODUCTS_BY_ID, PRODUCTS_BY_SKU
from sandbox.woocommerce.models import (
    BILLING_FIELDS,
    COUPONS,
    ORDER_STATUSES,
    SHIPPING_FIELDS,
    CouponLine,
    FeeLine,
    LineItem,
    Order,
    ShippingLine,
    WpUser,
    merge_address,
    merge_meta,
    parse_money,
)
from sandbox.woocommerce.store import WooState

DELETABLE_CUSTOMER_ROLES = ("customer", "subscriber")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise invalid_params({name: f"{name} is not of type integer."})
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.match(r"^[+-]?\d+$", value.strip()):
        return int(value)
    raise invalid_params({name: f"{name} is not of type integer."})


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


class RequestBodies:
    """Order and customer body parsing; mixed into ``WooCore``."""

    state: WooState

    def _apply_order_body(self, order: Order, body: dict[str, Any], creating: bool) -> None:
        """Validate and apply writable order fields (POST/PUT and admin mutate)."""
        if "status" in body:
            status = str(body["status"])
            if status not in ORDER_STATUSES:
                raise invalid_params(
                    {"status": f"status is not one of {', '.join(ORDER_STATUSES)}."}
                )
        if "currency" in body and not re.match(r"^[A-Z]{3}$", str(body["currency"])):
            raise invalid_params({"currency": "currency is not a valid ISO 4217 code."})
        if "customer_id" in body:
            cid = _as_int(body["customer_id"], "customer_id")
            if cid != 0 and cid not in self.state.users:
                raise WooError(
                    400, "woocommerce_rest_invalid_customer_id", "Customer ID is invalid."
                )
            order.customer_id = cid
        if "currency" in body:
            order.currency = str(body["currency"])
        if "billing" in body:
            email = (
                (body["billing"] or {}).get("email") if isinstance(body["billing"], dict) else None
            )
            if email and not _EMAIL.match(str(email)):
                raise WooError(400, "order_invalid_billing_email", "Invalid billing email address")
            merge_address(order.billing, body["billing"], BILLING_FIELDS)
        if "shipping" in body:
            merge_address(order.shipping, body["shipping"], SHIPPING_FIELDS)
        for name in ("customer_note", "payment_method", "payment_method_title", "transaction_id"):
            if name in body:
                setattr(order, name, "" if body[name] is None else str(body[name]))
        if "parent_id" in body:
            order.parent_id = _as_int(body["parent_id"], "parent_id")
        if "meta_data" in body:
            merge_meta(order.meta_data, body["meta_data"], self.state.meta_id)
        repriced = False
        if "line_items" in body:
            self._apply_line_items(order, body["line_items"])
            repriced = True
        if "shipping_lines" in body:
            self._apply_shipping_lines(order, body["shipping_lines"])
            repriced = True
        if "fee_lines" in body:
            self._apply_fee_lines(order, body["fee_lines"])
            repriced = True
        if "coupon_lines" in body:
            self._apply_coupon_lines(order, body["coupon_lines"])
            repriced = True
        if repriced or "billing" in body or "shipping" in body:
            order.reprice()
        now = self.state.now()
        if "status" in body:
            order.status = str(body["status"])
        if _as_bool(body.get("set_paid", False)):
            order.paid = order.paid or now
            if order.status in ("pending", "on-hold", "failed"):
                order.status = "processing"
        if order.status in ("processing", "completed") and order.paid is None:
            order.paid = now  # WC_Order::maybe_set_date_paid
        if order.status == "completed" and order.completed is None:
            order.completed = now

    def _product(self, entry: dict[str, Any], index: int) -> Any:
        if entry.get("product_id"):
            product = PRODUCTS_BY_ID.get(
                _as_int(entry["product_id"], f"line_items[{index}][product_id]")
            )
        elif entry.get("sku"):
            product = PRODUCTS_BY_SKU.get(str(entry["sku"]))
        else:
            raise WooError(
                400, "woocommerce_rest_required_product_reference", "Product ID or SKU is required."
            )
        if product is None:
            raise WooError(400, "woocommerce_rest_invalid_product_id", "Invalid product ID.")
        return product

    def _apply_line_items(self, order: Order, entries: Any) -> None:
        if not isinstance(entries, list):
            raise invalid_params({"line_items": "line_items is not of type array."})
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise invalid_params({"line_items": f"line_items[{i}] is not of type object."})
            if entry.get("id"):
                item_id = _as_int(entry["id"], f"line_items[{i}][id]")
                line = next((li for li in order.line_items if li.id == item_id), None)
                if line is None:
                    raise WooError(
                        400,
                        "woocommerce_rest_invalid_item_id",
                        "Order item ID provided is not associated with order.",
                    )
                if ("product_id" in entry and entry["product_id"] is None) or (
                    "quantity" in entry
                    and _as_int(entry["quantity"], f"line_items[{i}][quantity]") == 0
                ):
                    order.line_items.remove(line)
                    continue
                if entry.get("product_id") or entry.get("sku"):
                    product = self._product(entry, i)
                    line.product_id, line.sku, line.name = product.id, product.sku, product.name
                    line.unit_price = product.price
                if "quantity" in entry:
                    line.quantity = _as_int(entry["quantity"], f"line_items[{i}][quantity]")
                if "name" in entry:
                    line.name = str(entry["name"])
                continue
            product = self._product(entry, i)
            quantity = _as_int(entry.get("quantity", 1), f"line_items[{i}][quantity]")
            order.line_items.append(
                LineItem(
                    id=self.state.item_id(),
                    name=str(entry.get("name") or product.name),
                    product_id=product.id,
                    variation_id=_as_int(
                        entry.get("variation_id", 0) or 0, f"line_items[{i}][variation_id]"
                    ),
                    quantity=quantity,
                    unit_price=product.price,
                    sku=product.sku,
                )
            )

    def _apply_shipping_lines(self, order: Order, entries: Any) -> None:
        if not isinstance(entries, list):
            raise invalid_params({"shipping_lines": "shipping_lines is not of type array."})
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            line = None
            if entry.get("id"):
                line = next(
                    (s for s in order.shipping_lines if s.id == _as_int(entry["id"], "id")), None
                )
                if line is None:
                    raise WooError(
                        400,
                        "woocommerce_rest_invalid_item_id",
                        "Order item ID provided is not associated with order.",
                    )
                if "method_id" in entry and entry["method_id"] is None:
                    order.shipping_lines.remove(line)
                    continue
            else:
                line = ShippingLine(self.state.item_id(), "flat_rate", "Flat rate", 0)
                order.shipping_lines.append(line)
            if entry.get("method_id"):
                line.method_id = str(entry["method_id"])
            if entry.get("method_title"):
                line.method_title = str(entry["method_title"])
            if "total" in entry:
                line.total = self._money(entry["total"], "shipping_lines[total]")

    def _apply_fee_lines(self, order: Order, entries: Any) -> None:
        if not isinstance(entries, list):
            raise invalid_params({"fee_lines": "fee_lines is not of type array."})
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            if entry.get("id"):
                line = next(
                    (f for f in order.fee_lines if f.id == _as_int(entry["id"], "id")), None
                )
                if line is None:
                    raise WooError(
                        400,
                        "woocommerce_rest_invalid_item_id",
                        "Order item ID provided is not associated with order.",
                    )
                if "name" in entry and entry["name"] is None:
                    order.fee_lines.remove(line)
                    continue
            else:
                line = FeeLine(self.state.item_id(), "Fee", 0)
                order.fee_lines.append(line)
            if entry.get("name"):
                line.name = str(entry["name"])
            if entry.get("tax_status") in ("taxable", "none"):
                line.tax_status = str(entry["tax_status"])
            if "total" in entry:
                line.total = self._money(entry["total"], "fee_lines[total]")

    def _apply_coupon_lines(self, order: Order, entries: Any) -> None:
        if not isinstance(entries, list):
            raise invalid_params({"coupon_lines": "coupon_lines is not of type array."})
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            if entry.get("id"):
                line = next(
                    (c for c in order.coupon_lines if c.id == _as_int(entry["id"], "id")), None
                )
                if line is not None and entry.get("code", "x") is None:
                    order.coupon_lines.remove(line)
                continue
            code = str(entry.get("code") or "").lower()
            if code not in COUPONS:
                raise WooError(
                    400, "woocommerce_rest_invalid_coupon", f'Coupon "{code}" does not exist!'
                )
            if all(c.code != code for c in order.coupon_lines):
                order.coupon_lines.append(CouponLine(self.state.item_id(), code))

    @staticmethod
    def _money(value: Any, name: str) -> int:
        try:
            return parse_money(value)
        except (ValueError, ArithmeticError):
            raise invalid_params({name: f"{name} is not of type string."})

    def _apply_customer_body(self, user: WpUser, body: dict[str, Any], creating: bool) -> None:
        if "email" in body:
            email = str(body["email"] or "").strip()
            if creating:
                if not _EMAIL.match(email):
                    raise WooError(400, "customer_invalid_email", "Invalid email address")
                if self.state.user_by_email(email) is not None:
                    raise WooError(
                        400,
                        "registration-error-email-exists",
                        "An account is already registered with your email address. Please log in.",
                    )
            else:
                other = self.state.user_by_email(email) if email else None
                if email and (
                    not _EMAIL.match(email) or (other is not None and other.id != user.id)
                ):
                    raise WooError(
                        400, "woocommerce_rest_customer_invalid_email", "Email address is invalid."
                    )
                if user.role not in DELETABLE_CUSTOMER_ROLES and email != user.email:
                    raise WooError(
                        403,
                        "woocommerce_rest_cannot_edit",
                        "Sorry, email cannot be updated via this endpoint for a user with role "
                        f"{user.role}.",
                    )
            user.email = email
        if creating:
            username = str(body.get("username") or "").strip() or user.email.split("@", 1)[0]
            base, n = username, 1
            while self.state.user_by_login(username) is not None:
                n += 1
                username = f"{base}-{n}"
            user.username = username
        elif body.get("username") and body["username"] != user.username:
            raise WooError(
                400, "woocommerce_rest_customer_invalid_argument", "Username isn't editable."
            )
        for name in ("first_name", "last_name"):
            if name in body:
                setattr(user, name, str(body[name] or ""))
        if "billing" in body:
            merge_address(user.billing, body["billing"], BILLING_FIELDS)
        if "shipping" in body:
            merge_address(user.shipping, body["shipping"], SHIPPING_FIELDS)
        if "meta_data" in body:
            merge_meta(user.meta_data, body["meta_data"], self.state.meta_id)
