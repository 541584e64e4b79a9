"""Record links (store record -> IFS key, ETag, last applied version) and the customer e-mail
index: what the load consults before it writes (design.md §4: one IFS record per store record).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connector.models import CustomerIndex, RecordLink


@dataclass(frozen=True)
class LinkSnapshot:
    ifs_key: str
    etag: str | None
    last_version: str | None
    content_hash: str | None
    details: dict[str, Any]


#: Built once (a load reads one or two links: building the statement each time was most of
#: the read's CPU in issue 14's profile; a prebuilt statement also keeps its cache key).
_GET_LINK = select(RecordLink).where(
    RecordLink.source_id == bindparam("source_id"), RecordLink.entity == bindparam("entity"),
    RecordLink.external_id == bindparam("external_id"))


def get_link(s: Session, source_id: int, entity: str, external_id: str) -> RecordLink | None:
    return s.scalar(_GET_LINK, {"source_id": source_id, "entity": entity,
                                "external_id": str(external_id)})


def snapshot(link: RecordLink | None) -> LinkSnapshot | None:
    if link is None:
        return None
    return LinkSnapshot(link.ifs_key, link.etag, link.last_version, link.content_hash,
                        dict(link.details or {}))


def save_link(s: Session, *, tenant_id: int, source_id: int, entity: str, external_id: str,
              ifs_key: str, etag: str | None, version: str | None, content_hash: str | None,
              details: dict[str, Any]) -> None:
    """Upsert the store record → IFS key link (one IFS record per store record)."""
    values = {"tenant_id": tenant_id, "source_id": source_id, "entity": entity,
              "external_id": external_id, "ifs_key": ifs_key, "etag": etag,
              "last_version": version, "content_hash": content_hash, "details": details}
    stmt = insert(RecordLink).values(**values)
    stmt = stmt.on_conflict_do_update(
        constraint="uq_record_links_natural",
        set_={k: stmt.excluded[k] for k in ("ifs_key", "etag", "last_version", "content_hash",
                                            "details")} | {"updated_at": func.now()},
    )
    s.execute(stmt)


def remember_order_label(s: Session, source_id: int, external_id: str, old_etag: str | None,
                         new_etag: str | None, label: str) -> None:
    """After a voucher load set an order's ``LabelNote``: store the order's new ETag and label
    on its link, but only if the link still holds the ETag we wrote over (the order's own load
    may have moved it meanwhile; then the next writer re-reads on 412)."""
    s.execute(update(RecordLink).where(
        RecordLink.source_id == source_id, RecordLink.entity == "order",
        RecordLink.external_id == external_id, RecordLink.etag.is_not_distinct_from(old_etag))
        .values(etag=new_etag, details=RecordLink.details.op("||")(
            func.jsonb_build_object("label_note", label)), updated_at=func.now()))


def index_customer(s: Session, tenant_id: int, email: str, customer_id: str,
                   origin: str) -> None:
    stmt = insert(CustomerIndex).values(tenant_id=tenant_id, email=email.strip().lower(),
                                        customer_id=customer_id, origin=origin)
    s.execute(stmt.on_conflict_do_update(
        constraint="uq_customer_index_email",
        set_={"customer_id": stmt.excluded.customer_id, "origin": stmt.excluded.origin,
              "updated_at": func.now()}))


def lookup_customer_by_email(s: Session, tenant_id: int, email: str) -> str | None:
    return s.scalar(select(CustomerIndex.customer_id).where(
        CustomerIndex.tenant_id == tenant_id, CustomerIndex.email == email.strip().lower()))


