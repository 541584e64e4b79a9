"""The schema of tenant settings, source settings and posting rules (docs/configuration.md).

``tenant set`` and ``source add`` validate what they are given here, so an unknown key (a typo),
a value outside its choices (``bc_customer_policy=maybe``) or an incomplete posting rule is
refused at once with exit code 2 — instead of being stored and failing records later.
Add a new setting here and in docs/configuration.md.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], str | None]  # a problem in plain words, or None


def _choice(*values: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in values else f"must be one of {', '.join(values)}"
    return check


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "must be a non-empty text"


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _int_at_least(low: int) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            return f"must be a whole number of at least {low}"
        return None
    return check


def _texts(value: Any) -> str | None:
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return None
    return 'must be a JSON list of texts, e.g. ["EUR","USD"]'


def _text_map(value: Any) -> str | None:
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str)
                                       for k, v in value.items()):
        return None
    return 'must be a JSON object of texts, e.g. {"A": "B"}'


def _int_map(value: Any) -> str | None:
    if isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 6
            for k, v in value.items()):
        return None
    return 'must be a JSON object of currency → decimals (0-6), e.g. {"HUF": 0}'


def _property(value: Any) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", value):
        return None
    return "must be an OData property name (letters, digits, _), e.g. ChangedDate"


def _url(value: Any) -> str | None:
    if isinstance(value, str) and value.strip().lower().startswith(("http://", "https://")):
        return None
    return "must be a URL starting with http:// or https://"


def _labels(value: Any) -> str | None:
    problem = _text_map(value)
    if problem:
        return problem
    unknown = sorted(set(value) - set(POSTING_EVENTS) - {"order"})
    return f"names unknown events {', '.join(unknown)}" if unknown else None


POSTING_EVENTS = ("payment", "shipment", "refund")

#: Tenant settings (they may also be set per source, which overrides the tenant).
TENANT_SETTINGS: dict[str, Check] = {
    "site": _text, "order_type": _text,
    "guest_policy": _choice("walk_in", "create"), "walk_in_customer": _text,
    "require_email": _bool, "allowed_currencies": _texts, "sku_map": _text_map,
    "charges_mode": _choice("charges", "lines"),
    "shipping_charge_type": _text, "fee_charge_type": _text, "discount_charge_type": _text,
    "shipping_part": _text, "fee_part": _text, "discount_part": _text,
    "order_mode": _choice("batch", "sequential"), "wanted_delivery_days": _int_at_least(0),
    "default_country": _text, "default_language": _text,
    "email_method_id": _text, "phone_method_id": _text,
    "bc_customer_policy": _choice("skip", "create"), "bc_order_labels": _labels,
    # money and identity (docs/money.md)
    "handling_charge_type": _text, "wrapping_charge_type": _text, "rounding_charge_type": _text,
    "price_decimals": _int_at_least(0), "currency_decimals": _int_map,
    "customer_id_prefix": _text,
    # issue 14: the write-intent journal and the voucher change set
    "adopt_existing_ifs_records": _bool, "voucher_mode": _choice("batch", "steps"),
    # issue 10: incremental IFS enrichment on the projection's change date
    "enrichment_change_field": _property, "enrichment_full_interval_s": _int_at_least(300),
    # issue 14: what a BigCommerce order costs in store requests (bigcommerce/order_reads.py)
    "bc_order_reads": _choice("embedded", "sub_resources"),
    "bc_read_transactions": _choice("auto", "always"),
}
#: Source-only settings.
SOURCE_SETTINGS: dict[str, Check] = {
    "id_prefix": _text, "use_oauth1": _bool, "order_by_modified": _bool,
    "overlap_s": _int_at_least(0), "customer_scan_interval_s": _int_at_least(5),
    "customer_interval_s": _int_at_least(5), "request_budget_per_min": _int_at_least(1),
    "hook_destination": _text, "oauth_signed_url": _url,
}


def _check(settings: Mapping[str, Any], schema: Mapping[str, Check], what: str) -> list[str]:
    problems = []
    for key, value in settings.items():
        check = schema.get(key)
        if check is None:
            close = difflib.get_close_matches(key, sorted(schema), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"unknown {what} setting {key!r}{hint}")
            continue
        if value is None:
            continue  # null removes the setting (back to the default)
        problem = check(value)
        if problem:
            problems.append(f"{what} setting {key} {problem}, got {value!r}")
    return problems


def tenant_setting_problems(settings: Mapping[str, Any]) -> list[str]:
    return _check(settings, TENANT_SETTINGS, "tenant")


def source_setting_problems(settings: Mapping[str, Any]) -> list[str]:
    return _check(settings, {**TENANT_SETTINGS, **SOURCE_SETTINGS}, "source")


def _account(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and bool(str(value).strip())


def posting_rule_problems(rules: Any) -> list[str]:
    """Each rule names its event, a debit and a credit account (different ones: a voucher
    is balanced by construction), a voucher type and optional CodeB … CodeJ dimensions."""
    if not isinstance(rules, dict):
        return ["posting rules must be a JSON object with one rule per event "
                f"({', '.join(POSTING_EVENTS)})"]
    problems = []
    for event, rule in rules.items():
        if event not in POSTING_EVENTS:
            problems.append(f"posting rules: unknown event {event!r} "
                            f"(known: {', '.join(POSTING_EVENTS)})")
            continue
        if not isinstance(rule, dict):
            problems.append(f"posting rule {event} must be an object")
            continue
        unknown = sorted(set(rule) - {"debit", "credit", "voucher_type", "dimensions"})
        if unknown:
            problems.append(f"posting rule {event}: unknown field(s) {', '.join(unknown)}")
        for name, word in (("debit", "debit account"), ("credit", "credit account"),
                           ("voucher_type", "voucher type")):
            if not _account(rule.get(name)):
                problems.append(f"posting rule {event} has no {word} ({name})")
        if _account(rule.get("debit")) and str(rule.get("debit")).strip() == str(
                rule.get("credit")).strip():
            problems.append(f"posting rule {event} debits and credits the same account")
        dimensions = rule.get("dimensions", {})
        if not isinstance(dimensions, dict):
            problems.append(f"posting rule {event}: dimensions must be an object of "
                            "CodeB … CodeJ values")
            continue
        for key in dimensions:
            part = str(key).strip().removeprefix("Code")
            if not (len(part) == 1 and part.upper() in "BCDEFGHIJ"):
                problems.append(f"posting rule {event}: unknown dimension {key!r} "
                                "(use CodeB … CodeJ)")
    return problems
