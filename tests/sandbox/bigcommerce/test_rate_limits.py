"""BigCommerce simulator: per-store rate limits and injected 429s (§6)."""

from __future__ import annotations

import requests

from tests.sandbox.bigcommerce.support import RATE_HEADERS, Sim

# --------------------------------------------------------------------------- rate limits (§6)


def test_rate_limit_headers_quota_and_429(bc: Sim) -> None:
    bc.sim.configure(quota=5, window_ms=2000)
    lefts = []
    for _ in range(5):
        r = bc.get(f"{bc.v2}/orders")
        assert r.status_code == 204
        assert all(h in r.headers for h in RATE_HEADERS)
        assert r.headers["X-Rate-Limit-Requests-Quota"] == "5"
        assert r.headers["X-Rate-Limit-Time-Window-Ms"] == "2000"
        lefts.append(int(r.headers["X-Rate-Limit-Requests-Left"]))
    assert lefts == [4, 3, 2, 1, 0]
    r = bc.get(f"{bc.v3}/customers")
    assert r.status_code == 429
    assert r.headers["X-Rate-Limit-Requests-Left"] == "0"
    assert 0 < int(r.headers["X-Rate-Limit-Time-Reset-Ms"]) <= 2000
    assert r.headers["X-Retry-After"] in ("1", "2")
    assert "Retry-After" not in r.headers
    bc.sim.state.clock.advance(2.1)
    r = bc.get(f"{bc.v2}/orders")
    assert r.status_code == 204 and r.headers["X-Rate-Limit-Requests-Left"] == "4"
    # Sliding window: units come back as they age out of the last window.
    bc.sim.configure(rate_limit_mode="sliding", quota=2, window_ms=1000)
    bc.sim.limiter.reset()
    assert bc.get(f"{bc.v2}/orders").status_code == 204
    bc.sim.state.clock.advance(0.6)
    assert bc.get(f"{bc.v2}/orders").status_code == 204
    assert bc.get(f"{bc.v2}/orders").status_code == 429
    bc.sim.state.clock.advance(0.5)
    assert bc.get(f"{bc.v2}/orders").status_code == 204


def test_injected_429_with_and_without_headers(bc: Sim) -> None:
    r = requests.post(
        f"{bc.url}/_sandbox/faults", json={"rate_limit_ratio": 1.0, "retry_after_s": 3}, timeout=10
    )
    assert r.status_code == 200
    r = bc.get(f"{bc.v2}/orders")
    assert r.status_code == 429 and r.headers["X-Retry-After"] == "3"
    assert r.headers["X-Rate-Limit-Time-Reset-Ms"] == "3000"
    assert all(h in r.headers for h in RATE_HEADERS)
    requests.delete(f"{bc.url}/_sandbox/faults", timeout=10)
    requests.post(f"{bc.admin}/config", json={"overload_429_ratio": 1.0}, timeout=10)
    r = bc.get(f"{bc.v2}/orders")
    assert r.status_code == 429 and not any(h in r.headers for h in RATE_HEADERS)
    requests.post(f"{bc.admin}/config", json={"overload_429_ratio": 0.0}, timeout=10)
    assert bc.get(f"{bc.v2}/orders").status_code == 204
