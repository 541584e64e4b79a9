from __future__ import annotations

import psycopg2
from sqlalchemy import create_engine, inspect

from connector import migrate
from connector.db import sqlalchemy_url
from tests.services import ServiceSet, _with_database

EXPECTED = {
    "tenants", "sources", "sync_cursors", "staged_records", "record_links",
    "webhook_deliveries", "audit_events", "alerts", "customer_index",
    "backfill_runs", "notification_channels", "alert_notifications",
}


def _tables(url: str) -> set[str]:
    engine = create_engine(sqlalchemy_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_on_empty_database(services: ServiceSet) -> None:
    name = services.db_name + "_mig"
    conn = psycopg2.connect(services.admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(services.admin_url, name)
    try:
        migrate.upgrade(url)
        assert _tables(url) >= EXPECTED
        assert migrate.current_revision(url) is not None
        migrate.downgrade(url, "base")
        assert _tables(url) & EXPECTED == set()
        assert migrate.current_revision(url) is None
        migrate.upgrade(url)
        assert _tables(url) >= EXPECTED
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.close()


def test_unique_constraints_carry_the_invariants(services: ServiceSet) -> None:
    engine = create_engine(sqlalchemy_url(services.database_url))
    try:
        insp = inspect(engine)
        staged = {tuple(c["column_names"]) for c in insp.get_unique_constraints("staged_records")}
        assert ("source_id", "entity", "external_id", "version") in staged
        links = {tuple(c["column_names"]) for c in insp.get_unique_constraints("record_links")}
        assert ("source_id", "entity", "external_id") in links
        hooks = {tuple(c["column_names"]) for c in insp.get_unique_constraints(
            "webhook_deliveries")}
        assert ("source_id", "dedupe_key") in hooks
    finally:
        engine.dispose()
