"""What a store provides to the generic pipeline: one :class:`StorePlugin` per store system.

A store package (``connector/stores/<system>/``) holds everything about one outside system —
client, schemas, webhook verification, mapping (pure), flow (fetch and planners), hook
management, reconciliation and CLI commands — and describes itself to the rest of the
connector with a ``PLUGIN`` in its ``plugin.py``. The generic code (fetch, transform, webhook
intake, admin, reconciliation, the CLI) asks :mod:`connector.stores.registry` for the plugin of
a source's ``system`` and never imports a store module itself.

Adding a store is adding one package and registering it (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connector.ifs.client import IfsODataClient
    from connector.models import Source, StagedRecord, Tenant
    from connector.pipeline.webhooks import Verdict
    from connector.stores.reconciling import ReconcileOptions, SourceReport

#: Fetch one bounded window of a stream: ``(source_id, *, max_rows) -> (rows staged, more)``.
Fetcher = Callable[..., tuple[int, bool]]
#: Fetch one resource by id and stage it (webhooks, re-sync):
#: ``(source_id, entity, external_id, origin) -> staged row ids``.
OneFetcher = Callable[[int, str, str, str], list[int]]
#: Turn one staged record into an IFS plan (raise ``MappingError`` or ``Parked``).
Planner = Callable[["Session", "Tenant", "Source", "StagedRecord"], dict[str, Any]]
#: Verify and store one webhook delivery: ``(tenant, source, headers, raw body) -> Verdict``.
WebhookIntake = Callable[[str, str, Mapping[str, str], bytes], "Verdict"]
#: One authenticated read with credentials not stored yet: ``(base URL, credentials, source
#: settings) -> None``; raises the connector's error family (``source add`` without --no-check).
ConnectionCheck = Callable[[str, dict[str, str], dict[str, Any]], None]
#: Compare the store with IFS for one source: ``(tenant, source, IFS client, options)`` where
#: the options (``connector.stores.reconciling.ReconcileOptions``) give the window, the chunk
#: size and a progress hook.
Reconciler = Callable[["Tenant", "Source", "IfsODataClient", "ReconcileOptions"],
                      "SourceReport"]
#: Read one resource by id without staging it (re-sync dry-run):
#: ``(source_id, entity, external_id) -> records`` (``connector.pipeline.records.Incoming``).
OneReader = Callable[[int, str, str], list[Any]]


@dataclass(frozen=True)
class HistoryWindow:
    """One window of a store's order history, read but not staged (``backfill``)."""

    #: What to stage (``Incoming`` records: orders with what they reference or carry).
    records: list[Any]
    #: Where the next window starts (the store's keyset bookmark, JSON-serialisable).
    position: dict[str, Any]
    #: Store orders read in this window.
    read: int
    #: Modification time read up to (for progress).
    reached: datetime | None
    #: True when the history up to ``until`` has been read.
    done: bool


#: Read the next window of order history modified in ``[since, until)``:
#: ``(source_id, position, *, since, until, max_rows) -> HistoryWindow`` (``position`` is ``{}``
#: on the first call, then the previous window's ``position``).
HistoryReader = Callable[..., HistoryWindow]


class HookSetupError(Exception):
    """Webhooks of a store could not be set up (missing public URL, store refused)."""


@dataclass(frozen=True)
class Stream:
    """One polled stream of a store (its cursor row is ``sync_cursors.stream``)."""

    name: str
    fetch: Fetcher
    #: The source setting that overrides this stream's interval (seconds), if any.
    interval_setting: str | None = None
    #: Default interval when the setting is absent; None: the source's ``poll_interval_s``.
    default_interval_s: int | None = None

    def interval(self, source: Source) -> int:
        """Seconds between two fetches of this stream for ``source``."""
        settings = source.settings or {}
        if self.interval_setting and settings.get(self.interval_setting) is not None:
            return int(settings[self.interval_setting])
        if self.default_interval_s is not None:
            return self.default_interval_s
        return int(source.poll_interval_s)


@dataclass(frozen=True)
class StorePlugin:
    """Everything the generic connector needs to know about one store system."""

    system: str
    #: Human name for messages ("WooCommerce").
    label: str
    #: First letter of generated IFS ids (CustomerId, CustomerPoNo, voucher text prefix).
    id_prefix: str
    #: Path segment of the webhook endpoint: ``/webhooks/<webhook_path>/<tenant>/<source>``.
    webhook_path: str
    #: Credential fields the source needs (stored encrypted as one JSON document).
    credential_fields: tuple[str, ...]
    streams: tuple[Stream, ...]
    fetch_one: OneFetcher
    #: Planner per staged entity (``customer``, ``order``, ``payment`` …).
    planners: Mapping[str, Planner]
    #: ``(key owner, worked before) -> cause`` for the alert when the store key stops working.
    auth_failure_cause: Callable[[str, bool], str]
    #: Optional credential fields (webhook signing secrets).
    optional_credential_fields: tuple[str, ...] = ()
    #: Credential fields that are not secret (shown by ``source show``).
    public_credential_fields: frozenset[str] = field(default_factory=frozenset)
    accept_webhook: WebhookIntake | None = None
    reconcile: Reconciler | None = None
    check_connection: ConnectionCheck | None = None
    #: ``"module:attribute"`` of the store's click group (loaded only by the CLI).
    cli: str | None = None
    #: Read one record by id without staging it (``sync --order ID --dry-run``).
    read_one: OneReader | None = None
    #: Windowed read of order history (``backfill``); None: the store cannot backfill.
    read_history: HistoryReader | None = None

    @property
    def entities(self) -> tuple[str, ...]:
        return tuple(self.planners)

    def stream(self, name: str) -> Stream:
        for stream in self.streams:
            if stream.name == name:
                return stream
        raise KeyError(f"{self.system} has no stream {name!r}")
