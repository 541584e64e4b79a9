"""The state store (design.md §4). Unique constraints carry the invariants:

* ``staged_records``: one row per (source, entity, external id, version) — re-fetching is a no-op;
* ``record_links``: one IFS record per store record;
* ``webhook_deliveries``: one row per (source, dedupe key) — a redelivery is a no-op;
* ``alerts``: at most one *open* alert per (source, kind);
* ``sync_cursors``: one per (source, stream).

Secrets are only ever stored through the vault, in the ``*_enc`` columns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Record states (design.md §4): every staged record ends in one of the last four.
PENDING, DONE, FAILED, PARKED, SUPERSEDED = "pending", "done", "failed", "parked", "superseded"
RECORD_STATES = (PENDING, DONE, FAILED, PARKED, SUPERSEDED)
SOURCE_STATUSES = ("active", "paused", "auth_failed")
SYSTEMS = ("woocommerce", "bigcommerce")


#: The pump's claim order: customers before orders (so references exist), then oldest first.
#: The same expression is indexed (``ix_staged_records_claim``) and used by the claim query.
CLAIM_RANK = text("(CASE WHEN entity = 'customer' THEN 0 ELSE 1 END)")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSONB, list[Any]: JSONB}


def _now() -> Any:
    return func.now()


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    company: Mapped[str] = mapped_column(String(20))
    # IFS target: base_url, token_url/realm, client_id, site, order_type, ... (no secrets)
    ifs_settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ifs_secret_enc: Mapped[str | None] = mapped_column(Text)
    posting_rules: Mapped[dict[str, Any]] = mapped_column(default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # IFS enrichment progress: run id, keyset position, pages, last complete (operations)
    enrichment: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class Source(Base):
    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_sources_tenant_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    system: Mapped[str] = mapped_column(String(20))
    base_url: Mapped[str] = mapped_column(Text)
    credentials_enc: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    status_reason: Mapped[str | None] = mapped_column(Text)
    key_owner: Mapped[str | None] = mapped_column(String(200))
    poll_interval_s: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_now(), onupdate=_now()
    )


class SyncCursor(Base):
    __tablename__ = "sync_cursors"
    __table_args__ = (
        UniqueConstraint("source_id", "stream", name="uq_sync_cursors_source_stream"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    stream: Mapped[str] = mapped_column(String(40))
    watermark: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seen_ids: Mapped[list[Any]] = mapped_column(default=list)  # ids seen at the watermark
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)  # stream-specific bookmarks
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    running_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the running fetch's claim on the stream, renewed while it works or waits to retry
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    #: End of the last fetch that did not fail (lag and the ``source_lagging`` alert).
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StagedRecord(Base):
    __tablename__ = "staged_records"
    __table_args__ = (
        UniqueConstraint(
            "source_id", "entity", "external_id", "version", name="uq_staged_records_natural"
        ),
        Index("ix_staged_records_state_updated", "state", "updated_at"),
        Index("ix_staged_records_tenant_state", "tenant_id", "state"),
        Index("ix_staged_records_record", "source_id", "entity", "external_id"),
        # The pump's claim (records.claim_pending): pending rows of one tenant in claim order
        # (customers first, then by id), so a claim reads O(batch) rows, not the backlog.
        Index("ix_staged_records_claim", "tenant_id", CLAIM_RANK, "id",
              postgresql_where=text("state = 'pending'")),
        # In-flight rows of a tenant (the pump's budget count) without reading the backlog.
        Index("ix_staged_records_inflight", "tenant_id", "enqueued_at",
              postgresql_where=text("state = 'pending' AND enqueued_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column()
    content_hash: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(20), default="poll")  # poll|webhook|backfill|replay
    state: Mapped[str] = mapped_column(String(20), default=PENDING, server_default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    # data | auth | exhausted | parked | conflict: what kind of problem stopped the record
    error_kind: Mapped[str | None] = mapped_column(String(20))
    # the IFS commands the transform step planned (pure data; the load step executes it)
    plan: Mapped[dict[str, Any] | None] = mapped_column()
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # start of the current run of retryable failures (retries are bounded by time from here)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_now(), onupdate=_now()
    )


class RecordLink(Base):
    __tablename__ = "record_links"
    __table_args__ = (
        UniqueConstraint("source_id", "entity", "external_id", name="uq_record_links_natural"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    ifs_key: Mapped[str] = mapped_column(String(200))
    etag: Mapped[str | None] = mapped_column(Text)
    last_version: Mapped[str | None] = mapped_column(String(100))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)  # e.g. lines loaded so far
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_now(), onupdate=_now()
    )


class WriteIntent(Base):
    """The write-intent journal (design.md §3.4): committed before the load creates anything in
    IFS, keyed by the IFS natural key (customer id, order ``CustomerPoNo``, voucher text).

    No row: nothing can exist in IFS through us, so the create needs no lookup. A row without
    an ``ifs_key``: an earlier attempt may have created it (crash, unknown outcome), so the load
    looks it up first. A row with an ``ifs_key``: the create is known to have happened.
    """

    __tablename__ = "write_intents"
    __table_args__ = (
        UniqueConstraint("tenant_id", "kind", "natural_key", name="uq_write_intents_natural"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # customer | order | voucher
    natural_key: Mapped[str] = mapped_column(String(200))
    plan_hash: Mapped[str] = mapped_column(String(64))
    staged_id: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    ifs_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CustomerIndex(Base):
    """IFS customers known to the connector, by e-mail (design: reference ifs-cloud.md dec. 10)."""

    __tablename__ = "customer_index"
    __table_args__ = (UniqueConstraint("tenant_id", "email", name="uq_customer_index_email"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    customer_id: Mapped[str] = mapped_column(String(100))
    origin: Mapped[str] = mapped_column(String(20), default="enrichment")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_now(), onupdate=_now()
    )


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("source_id", "dedupe_key", name="uq_webhook_deliveries_dedupe"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[str | None] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str | None] = mapped_column(String(20))
    resource_id: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(20), default="received", server_default="received")
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class AuditEvent(Base):
    """Append-only: one row per remote write (and per notable operator action)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_at", "tenant_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="SET NULL"))
    source_id: Mapped[int | None] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(20))  # store->ifs, ifs->connector, operator
    system: Mapped[str] = mapped_column(String(20))
    entity: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(100))
    ifs_key: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(20))
    http_status: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open",
            "tenant_id",
            "source_id",
            "kind",
            unique=True,
            postgresql_where=text("state = 'open'"),
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="open", server_default="open")
    occurrences: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BackfillRun(Base):
    """One ``ml-connector backfill`` of a source's history between two moments: where it has
    read to (``position``: the store's keyset bookmark), so a run stopped by Ctrl-C or a crash
    resumes there."""

    __tablename__ = "backfill_runs"
    __table_args__ = (
        Index("uq_backfill_runs_active", "source_id", "since", "until", unique=True,
              postgresql_where=text("state = 'running'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    position: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(20), default="running", server_default="running")
    read: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    staged: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_now(), onupdate=_now()
    )
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationChannel(Base):
    """Where a tenant's alerts are sent: a Slack-compatible incoming webhook, a generic JSON
    webhook or an e-mail address (SMTP from the settings). The target (a URL that is itself a
    credential, or an address) is stored through the vault."""

    __tablename__ = "notification_channels"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name", name="uq_notification_channels_tenant_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # slack | webhook | email
    target_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class AlertNotification(Base):
    """One message about one alert event (opened, resolved) to one channel: the unique key makes
    it sent at most once per incident, the attempts make it retried."""

    __tablename__ = "alert_notifications"
    __table_args__ = (
        UniqueConstraint("alert_id", "channel_id", "event",
                         name="uq_alert_notifications_once"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(20))  # opened | resolved
    state: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    #: When the next attempt is due (a claimed delivery moves it forward: its lease).
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                      server_default=_now())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
