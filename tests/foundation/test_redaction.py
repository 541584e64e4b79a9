"""Issue 9 §2–3: one redaction path for what is stored or logged; untrusted text escaped."""

from __future__ import annotations

import io
import logging
import time

from connector import logs
from connector.db import session_scope
from connector.handles import get_redis, get_vault
from connector.ifs.auth import CachedToken, RedisTokenCache
from connector.logs import MASK, RedactingFilter, redact, register_secret
from connector.operations.admin import add_source, add_tenant
from connector.pipeline import records
from connector.pipeline.audit import audit, raise_alert
from connector.pipeline.records import Incoming


def test_a_token_read_from_the_fleet_cache_is_registered(clean_db: None) -> None:
    token = "tok-cached-by-another-worker-8c1f"
    cache = RedisTokenCache(get_redis(), get_vault(), "tenant-99")
    now = time.time()
    cache.store(CachedToken(token, now + 120, now + 60))
    with logs._lock:  # a fresh worker process: nothing registered yet
        logs._secrets.clear()
    assert redact(f"echo: {token}") == f"echo: {token}"
    loaded = cache.load()
    assert loaded is not None and loaded.access_token == token
    assert token not in redact(f"IFS said: header X-Token {token} is invalid")


def test_stored_reasons_alerts_and_audit_details_pass_the_redactor(clean_db: None) -> None:
    register_secret("s3cr3t-registered-9d2e")
    echo = ("Request rejected. Request headers: Authorization: Bearer eyJunregistered.tok.en, "
            "X-Other: s3cr3t-registered-9d2e")
    with session_scope() as s:
        t = add_tenant(s, "acme", "10")
        src = add_source(s, get_vault(), t, name="shop", system="woocommerce",
                         base_url="https://shop.test",
                         credentials={"consumer_key": "ck_abcdef", "consumer_secret": "cs_ab12"})
        ids = records.stage(s, tenant_id=t.id, source_id=src.id, origin="poll",
                            records=[Incoming("order", "7", "v1", {"id": 7})])
        rec = s.get(records.StagedRecord, ids[0])
        assert rec is not None
        records.mark_failed(s, rec, echo)
        raise_alert(s, tenant_id=t.id, source_id=src.id, kind="x", message=echo)
        audit(s, tenant_id=t.id, source_id=src.id, system="ifs", entity="order", action="create",
              actor="a", outcome="error", detail=echo)
    from sqlalchemy import text

    from connector.db import get_engine

    with get_engine().connect() as conn:
        stored = [row[0] for row in conn.execute(text(
            "SELECT last_error FROM staged_records UNION ALL SELECT message FROM alerts "
            "UNION ALL SELECT detail FROM audit_events WHERE detail IS NOT NULL"))]
    assert len(stored) == 3
    for value in stored:
        assert "eyJunregistered" not in value and "s3cr3t-registered" not in value
        assert f"Bearer {MASK}" in value


def test_connector_errors_are_redacted_when_made() -> None:
    from connector.errors import DataError

    exc = DataError("IFS: bad header Authorization: Bearer abc.def.ghi-123")
    assert "abc.def" not in str(exc) and "abc.def" not in repr(exc)


def test_untrusted_text_cannot_break_a_log_line() -> None:
    from connector.logs import escape

    assert escape("a\nb\r\nc\x00d\x1b[31m\u2028") == "a\\nb\\r\\nc\\x00d\\x1b[31m\\u2028"
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("mlc.test.escape")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("tenant %s", "acme\n2026-01-01 INFO fake entry")
    finally:
        logger.removeHandler(handler)
    assert buffer.getvalue().count("\n") == 1
