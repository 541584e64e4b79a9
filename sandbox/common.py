"""Shared machinery of the three simulators: a movable clock, fault injection, a request log,
an admin blueprint and a threaded HTTP server.

Every simulator is a Flask app built by :func:`make_app`, which installs:

* ``before_request``: latency, 429 storms/ratio, 5xx ratio, timeouts and dropped connections,
  as configured through ``POST /_sandbox/faults`` (admin paths are never faulted);
* ``after_request``: one entry per request in the request log (``GET /_sandbox/requests``);
* the admin routes common to all simulators (faults, requests, clock, reset).

The simulators must not import the connector: they are the other side of the wire.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.serving import BaseWSGIServer, make_server

ADMIN_PREFIX = "/_sandbox"


class Clock:
    """Wall clock plus an offset that tests move forward (token expiry, webhook schedules)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0


@dataclass
class Faults:
    """What to inject. Ratios are 0..1 and drawn per request from a seeded RNG.

    ``path_prefix`` limits all faults to matching paths ("" = every non-admin path);
    ``methods`` limits them to some HTTP methods (empty = all).
    """

    rate_limit_ratio: float = 0.0
    storm_until: float = 0.0  # epoch seconds (simulator clock); every request before it gets 429
    retry_after_s: int = 1
    error_5xx_ratio: float = 0.0
    error_5xx_status: int = 503
    latency_ms: int = 0
    timeout_ratio: float = 0.0
    timeout_s: float = 5.0
    drop_ratio: float = 0.0
    path_prefix: str = ""
    methods: list[str] = field(default_factory=list)
    # Simulator-specific switches live here too, so one endpoint configures everything.
    extra: dict[str, Any] = field(default_factory=dict)

    def applies(self, method: str, path: str) -> bool:
        if self.path_prefix and not path.startswith(self.path_prefix):
            return False
        return not self.methods or method.upper() in {m.upper() for m in self.methods}


class DropConnection(Exception):
    """Raised to make the server close the socket without an HTTP answer."""


def drop_connection() -> None:
    """Close the client's socket without an answer (from inside a request), e.g. after a write
    was committed: the client cannot know whether it happened."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        import socket as _socket

        with contextlib.suppress(OSError):
            sock.shutdown(_socket.SHUT_RDWR)
        sock.close()
    raise DropConnection()


@dataclass
class SimulatorState:
    """State every simulator has. Subclass it for the simulator's own data."""

    clock: Clock = field(default_factory=Clock)
    faults: Faults = field(default_factory=Faults)
    rng: random.Random = field(default_factory=lambda: random.Random(1234))
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def log_request(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.requests.append(entry)
            if len(self.requests) > 200_000:  # keep memory bounded in long benchmark runs
                del self.requests[:100_000]

    def reset_common(self) -> None:
        with self.lock:
            self.faults = Faults()
            self.requests.clear()
            self.clock.reset()


def _fault_response(
    state: SimulatorState, rate_limited: Callable[[SimulatorState], Response] | None
) -> Response | None:
    f = state.faults
    if f.latency_ms:
        time.sleep(f.latency_ms / 1000)
    with state.lock:
        roll_drop = state.rng.random()
        roll_timeout = state.rng.random()
        roll_429 = state.rng.random()
        roll_5xx = state.rng.random()
    if f.drop_ratio and roll_drop < f.drop_ratio:
        raise DropConnection()
    if f.timeout_ratio and roll_timeout < f.timeout_ratio:
        time.sleep(f.timeout_s)
    if (f.storm_until and state.clock.time() < f.storm_until) or (
        f.rate_limit_ratio and roll_429 < f.rate_limit_ratio
    ):
        if rate_limited is not None:
            return rate_limited(state)
        resp = jsonify({"message": "Too Many Requests"})
        resp.status_code = 429
        resp.headers["Retry-After"] = str(f.retry_after_s)
        return resp
    if f.error_5xx_ratio and roll_5xx < f.error_5xx_ratio:
        resp = jsonify({"message": "Injected server error"})
        resp.status_code = f.error_5xx_status
        return resp
    return None


def make_app(
    name: str,
    state: SimulatorState,
    *,
    reset: Callable[[], None],
    rate_limited: Callable[[SimulatorState], Response] | None = None,
) -> Flask:
    """Build a simulator Flask app with fault injection, request log and common admin routes.

    ``reset`` clears the simulator's own data (common state is reset here).
    ``rate_limited`` builds the simulator's own 429 (headers differ per remote system).
    """
    app = Flask(name)
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False  # type: ignore[attr-defined]

    @app.before_request
    def _inject() -> Response | None:
        request.environ["sandbox.started"] = time.time()
        if request.path.startswith(ADMIN_PREFIX):
            return None
        if not state.faults.applies(request.method, request.path):
            return None
        try:
            return _fault_response(state, rate_limited)
        except DropConnection:
            sock = request.environ.get("werkzeug.socket")
            if sock is not None:
                import socket as _socket

                with contextlib.suppress(OSError):
                    sock.shutdown(_socket.SHUT_RDWR)
                sock.close()
            raise

    @app.after_request
    def _log(resp: Response) -> Response:
        if not request.path.startswith(ADMIN_PREFIX):
            state.log_request(
                {
                    "at": time.time(),
                    "method": request.method,
                    "path": request.path,
                    "query": request.query_string.decode("latin-1"),
                    "status": resp.status_code,
                    "if_match": request.headers.get("If-Match"),
                    "content_type": request.headers.get("Content-Type"),
                    "retry_after": resp.headers.get("Retry-After"),
                }
            )
        return resp

    admin = Blueprint(f"{name}_admin", __name__, url_prefix=ADMIN_PREFIX)

    @admin.get("/faults")
    def get_faults() -> Response:
        return jsonify(asdict(state.faults))

    @admin.post("/faults")
    def set_faults() -> Response:
        body = request.get_json(force=True) or {}
        known = set(Faults.__dataclass_fields__)
        unknown = set(body) - known
        if unknown:
            resp = jsonify({"error": f"unknown fault fields: {sorted(unknown)}"})
            resp.status_code = 400
            return resp
        if "storm_s" in body.get("extra", {}):
            body["storm_until"] = state.clock.time() + float(body["extra"].pop("storm_s"))
        with state.lock:
            state.faults = Faults(**{**asdict(state.faults), **body})
            if "seed" in body.get("extra", {}):
                state.rng.seed(body["extra"]["seed"])
        return jsonify(asdict(state.faults))

    @admin.delete("/faults")
    def clear_faults() -> Response:
        with state.lock:
            state.faults = Faults()
        return jsonify(asdict(state.faults))

    @admin.get("/requests")
    def get_requests() -> Response:
        with state.lock:
            entries = list(state.requests)
        method = request.args.get("method")
        prefix = request.args.get("path_prefix")
        if method:
            entries = [e for e in entries if e["method"] == method.upper()]
        if prefix:
            entries = [e for e in entries if e["path"].startswith(prefix)]
        return jsonify({"count": len(entries), "requests": entries})

    @admin.delete("/requests")
    def clear_requests() -> Response:
        with state.lock:
            state.requests.clear()
        return jsonify({"count": 0})

    @admin.get("/clock")
    def get_clock() -> Response:
        return jsonify({"now": state.clock.now().isoformat(), "epoch": state.clock.time()})

    @admin.post("/clock")
    def move_clock() -> Response:
        body = request.get_json(force=True) or {}
        state.clock.advance(float(body.get("advance_s", 0)))
        return jsonify({"now": state.clock.now().isoformat(), "epoch": state.clock.time()})

    @admin.post("/reset")
    def reset_all() -> Response:
        state.reset_common()
        reset()
        return jsonify({"reset": True})

    app.register_blueprint(admin)
    return app


class ServerThread:
    """A threaded WSGI server in a daemon thread (tests, ``sandbox serve``, benchmarks)."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0,
                 quiet: bool = True) -> None:
        if quiet:  # one log line per request drowns tests and benchmarks
            import logging

            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self.server.daemon_threads = True  # type: ignore[attr-defined]
        self.host = host
        self.port = self.server.server_port
        # A short poll interval makes stop() return in ~50 ms instead of 0.5 s.
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def utc_naive_iso(dt: datetime) -> str:
    """``2025-03-14T09:05:40`` — the WooCommerce form (no offset)."""
    return dt.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)
