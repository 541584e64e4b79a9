"""A fault proxy in front of the IFS simulator: drop-after-write.

The write reaches IFS and is done there, then the connection drops before the answer comes
back — the connector cannot know whether it happened, so its retry must find the record (by
its natural key) instead of creating it twice. The simulators' own ``drop_ratio`` drops before
the request is handled; this one drops after.
"""

from __future__ import annotations

import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


class DropAfterWriteProxy:
    def __init__(self, target: str, ratio: float, seed: int) -> None:
        self.target = target.rstrip("/")
        self.ratio = ratio
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.dropped = 0
        self.enabled = True
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP
                           and k.lower() != "host"}
                upstream = requests.request(self.command, proxy.target + self.path,
                                            data=body, headers=headers, timeout=60,
                                            allow_redirects=False)
                if self.command in ("POST", "PATCH", "DELETE") and proxy._roll():
                    self.close_connection = True  # written in IFS; the answer is lost
                    self.connection.close()
                    return
                self.send_response(upstream.status_code)
                for k, v in upstream.headers.items():
                    if k.lower() not in _HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _forward

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a connection the client or the proxy dropped: that is the point

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _roll(self) -> bool:
        with self.lock:
            if not self.enabled or self.rng.random() >= self.ratio:
                return False
            self.dropped += 1
            return True

    def start(self) -> DropAfterWriteProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
