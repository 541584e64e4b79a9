"""The web process: health, operator pages and metrics behind auth, webhook edge cases."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask.testing import FlaskClient

from connector.config import Secret, get_settings, set_settings
from connector.db import session_scope
from connector.handles import get_vault
from connector.operations.admin import add_source, add_tenant
from connector.pipeline import records
from connector.pipeline.records import Incoming


@pytest.fixture
def client() -> Iterator[FlaskClient]:
    from web.app import create_app

    yield create_app().test_client()


@pytest.fixture
def admin() -> Iterator[dict[str, str]]:
    before = get_settings()
    set_settings(replace(before, admin_user="ops", admin_password=Secret("pa55-word-ops")))
    yield {"Authorization": "Basic " + base64.b64encode(b"ops:pa55-word-ops").decode()}
    set_settings(before)


def test_health_and_readiness(clean_db: None, client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"postgres": "ok", "redis": "ok"}


def test_operator_pages_are_never_open(clean_db: None, client: FlaskClient) -> None:
    assert client.get("/ops/").status_code == 503  # no admin credentials configured
    assert client.get("/metrics").status_code == 503


def test_metrics_behind_basic_auth_and_pages_behind_the_login(clean_db: None, client: FlaskClient,
                                                      admin: dict[str, str]) -> None:
    with session_scope() as s:
        t = add_tenant(s, "acme", "10")
        src = add_source(s, get_vault(), t, name="shop", system="woocommerce",
                         base_url="https://shop.test",
                         credentials={"consumer_key": "ck", "consumer_secret": "cs-secret-x"})
        ids = records.stage(s, tenant_id=t.id, source_id=src.id, origin="poll",
                            records=[Incoming("order", "7", "v1", {"id": 7})])
        rec = s.get(records.StagedRecord, ids[0])
        assert rec is not None
        records.mark_failed(s, rec, "line 1 (Mug) has no SKU")
    # The console has its own login (tests/foundation/test_console.py): Basic auth is for
    # scrapers of /metrics only and opens no page.
    assert client.get("/ops/").status_code == 302
    assert client.get("/ops/", headers=admin).status_code == 302
    wrong = {"Authorization": "Basic " + base64.b64encode(b"ops:nope").decode()}
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=wrong).status_code == 401
    metrics = client.get("/metrics", headers=admin).get_data(as_text=True)
    assert 'mlc_staged_records{tenant="acme",state="failed"} 1' in metrics
    assert 'mlc_source_active{tenant="acme",source="shop",status="active"} 1' in metrics


def test_webhook_edge_cases_get_clear_4xx(clean_db: None, client: FlaskClient) -> None:
    with session_scope() as s:
        t = add_tenant(s, "acme", "10")
        add_source(s, get_vault(), t, name="bc", system="bigcommerce",
                   base_url="https://api.bc.test",
                   credentials={"store_hash": "h", "access_token": "tok-123456",
                                "client_id": "c", "client_secret": "sec-123456"})
    r = client.post("/webhooks/bc/acme/unknown", data=b"{}",
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 401  # the same answer as a bad signature (no enumeration)
    unknown = r.get_json()
    r = client.post("/webhooks/bc/acme/bc", data=b"x=1",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    r = client.post("/webhooks/bc/acme/bc", data=b"{}",
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 401 and r.get_json() == unknown
    big = b"{" + b" " * (get_settings().webhook_max_body_bytes + 10) + b"}"
    r = client.post("/webhooks/bc/acme/bc", data=big,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    from connector.models import WebhookDelivery

    with session_scope() as s:
        assert s.query(WebhookDelivery).count() == 0
