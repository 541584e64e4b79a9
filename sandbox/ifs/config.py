"""IFS Cloud simulator settings and the fixed sandbox credentials."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_CLIENT_ID = "MLCONN_SYNC"
DEFAULT_CLIENT_SECRET = "sandbox-ifs-secret"
DEFAULT_REALM = "mlc"


def _default_clients() -> dict[str, dict[str, Any]]:
    return {DEFAULT_CLIENT_ID: {"secret": DEFAULT_CLIENT_SECRET, "companies": ["10", "20"]}}


@dataclass
class IfsConfig:
    """Simulator settings; every field can also be changed at runtime via ``/_sandbox/ifs/config``.

    ``clients`` maps IAM client ids to ``{"secret": str, "companies": [company, ...]}``;
    ``sites`` maps a site (order ``Contract``) to its company.
    """

    realm: str = DEFAULT_REALM
    clients: dict[str, dict[str, Any]] = field(default_factory=_default_clients)
    token_ttl_s: int = 180
    page_size: int = 500
    budget_per_min: int = 1000
    strict_if_match: bool = True
    sites: dict[str, str] = field(default_factory=lambda: {"S1": "10", "S2": "20"})
    max_top: int = 5000
    etag_churn_ratio: float = 0.0  # PATCH: another IFS user bumps the row first → 412
    mi_modified_ratio: float = 0.0  # projection calls answered 500 MI_MODIFIED_ERROR
    # Writes answered 400 with an error message that echoes the request's Authorization
    # header (some gateways and servlet containers do this): a secret-leak test switch.
    echo_authorization_ratio: float = 0.0
    email_method_id: str = "E_MAIL"  # CommunicationMethods.MethodId of e-mail (tenant-specific)
    phone_method_id: str = "PHONE"
    default_currency: str = "EUR"
    refresh_ttl_s: int = 1800
    # Standard OData v4.01 behaviours seen on other servers (reference ifs-cloud.md §11):
    # "as_asked": a $batch whose Accept asks for application/json (not multipart/mixed) is
    # answered in the JSON batch format, as SAP CAP and ASP.NET Core OData do; "json": always;
    # "multipart": never;
    batch_format: str = "as_asked"
    # "never" | "navigation" | "always": when @odata.nextLink is relative to the service root
    # (CAP does it on navigation paths: CustomerOrderSet(...)/OrderLinesArray?$skiptoken=…).
    relative_next_links: str = "navigation"
    # A change date on CustomerInfo (sandbox/ifs/change_date.py): the property's name, empty =
    # none (ifs-cloud.md confirms no such field); "datetime" (Edm.DateTimeOffset) or
    # "objversion" (the 14-digit text). Switch it before seeding: rows are stamped on write.
    customer_change_field: str = ""
    customer_change_format: str = "datetime"
