"""The hook registry of ``/v3/hooks`` (§5): validation, CRUD, deactivation and the
per-domain blocklist. Guarded by the simulator's RLock through ``self.cond``.
"""

from __future__ import annotations

import heapq
import math
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from sandbox.bigcommerce.hooks import KNOWN_SCOPES, MAX_HOOKS_PER_SCOPE, Hook, _Blocked
from sandbox.bigcommerce.model import BcConfig, BcError
from sandbox.common import Clock


class HookRegistry:
    """Hook CRUD and the domain blocklist; mixed into ``BcWebhooks``."""

    cond: threading.Condition
    clock: Clock
    config: Callable[[], BcConfig]
    hooks: dict[int, Hook]

    # ----------------------------------------------------------------- registry (§5)

    def _validate(
        self, body: dict[str, Any], client_id: str, *, existing: Hook | None
    ) -> dict[str, Any]:
        cfg = self.config()
        merged: dict[str, Any] = (
            {
                "scope": existing.scope,
                "destination": existing.destination,
                "is_active": existing.is_active,
                "headers": existing.headers,
            }
            if existing
            else {"is_active": True, "headers": None}
        )
        merged.update(
            {k: body[k] for k in ("scope", "destination", "is_active", "headers") if k in body}
        )
        errors: dict[str, str] = {}
        scope, destination = merged.get("scope"), merged.get("destination")
        if not isinstance(scope, str) or not scope:
            errors["scope"] = "error.path.missing"
        elif scope not in KNOWN_SCOPES:
            errors["scope"] = f"Invalid scope {scope}"
        if not isinstance(destination, str) or not destination:
            errors["destination"] = "error.path.missing"
        else:
            parts = urlsplit(destination)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                errors["destination"] = "Destination must be a valid URL"
            elif cfg.require_https_destination and (
                parts.scheme != "https" or parts.port not in (None, 443)
            ):
                errors["destination"] = "Destination must be served over HTTPS on port 443"
        if not isinstance(merged.get("is_active"), bool):
            errors["is_active"] = "is_active must be a boolean"
        headers = merged.get("headers")
        if headers is not None and not (
            isinstance(headers, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
        ):
            errors["headers"] = "headers must be an object of strings"
        if errors:
            raise BcError(422, "JSON data is missing or invalid", errors)
        others = [
            h
            for h in self.hooks.values()
            if h.client_id == client_id
            and h.store_hash == cfg.store_hash
            and h.scope == scope
            and (existing is None or h.id != existing.id)
        ]
        if any(h.destination == destination for h in others):
            raise BcError(
                422,
                "A webhook with this scope and destination already exists for this client.",
                {"destination": "duplicate scope and destination"},
            )
        if len(others) >= MAX_HOOKS_PER_SCOPE:
            raise BcError(
                422,
                f"The limit of {MAX_HOOKS_PER_SCOPE} webhooks per scope has been reached.",
                {"scope": f"maximum {MAX_HOOKS_PER_SCOPE} webhooks per scope"},
            )
        return merged

    def create(self, client_id: str, body: dict[str, Any]) -> Hook:
        with self.cond:
            fields = self._validate(body, client_id, existing=None)
            now = int(self.clock.time())
            self._next_hook_id += 1
            hook = Hook(
                id=self._next_hook_id,
                client_id=client_id,
                store_hash=self.config().store_hash,
                scope=fields["scope"],
                destination=fields["destination"],
                headers=None if fields["headers"] is None else dict(fields["headers"]),
                is_active=fields["is_active"],
                created_at=now,
                updated_at=now,
            )
            self.hooks[hook.id] = hook
            return hook

    def get(self, client_id: str, hook_id: int) -> Hook:
        with self.cond:
            hook = self.hooks.get(hook_id)
            if hook is None or hook.client_id != client_id:
                raise BcError(404, f"Webhook with id [{hook_id}] not found")
            return hook

    def update(self, client_id: str, hook_id: int, body: dict[str, Any]) -> Hook:
        with self.cond:
            hook = self.get(client_id, hook_id)
            fields = self._validate(body, client_id, existing=hook)
            hook.scope = fields["scope"]
            hook.destination = fields["destination"]
            hook.headers = None if fields["headers"] is None else dict(fields["headers"])
            if "is_active" in body:
                # PUT is_active:true re-activates a deactivated hook; false makes it inactive.
                hook.is_active = fields["is_active"]
                hook.deactivated = False
            hook.updated_at = int(self.clock.time())
            return hook

    def delete(self, client_id: str, hook_id: int) -> Hook:
        with self.cond:
            hook = self.get(client_id, hook_id)
            del self.hooks[hook_id]
            return hook

    def delete_for_client(self, client_id: str) -> int:
        with self.cond:
            doomed = [h.id for h in self.hooks.values() if h.client_id == client_id]
            for hook_id in doomed:
                del self.hooks[hook_id]
            return len(doomed)

    def find(
        self,
        client_id: str | None,
        *,
        is_active: bool | None = None,
        scope: str | None = None,
        destination: str | None = None,
    ) -> list[Hook]:
        with self.cond:
            return [
                h
                for h in sorted(self.hooks.values(), key=lambda h: h.id)
                if (client_id is None or h.client_id == client_id)
                and (is_active is None or h.is_active == is_active)
                and (scope is None or h.scope == scope)
                and (destination is None or h.destination == destination)
            ]

    def deactivate(self, hook_id: int) -> Hook:
        """What BigCommerce does after the last retry fails (also an admin switch)."""
        with self.cond:
            hook = self.hooks.get(hook_id)
            if hook is None:
                raise BcError(404, f"Webhook with id [{hook_id}] not found")
            self._deactivate(hook, self.clock.time())
            return hook

    def _deactivate(self, hook: Hook, now: float) -> None:
        hook.is_active = False
        hook.deactivated = True
        hook.updated_at = int(now)
        kept = [q for q in self._queue if q.message.hook_id != hook.id]
        for q in self._queue:
            if q.message.hook_id == hook.id:
                self._record(q.message, hook, now, "dropped", error="hook deactivated")
        self._queue = kept
        heapq.heapify(self._queue)

    def blocked_domains(self, client_id: str | None) -> list[dict[str, Any]]:
        with self.cond:
            now = self.clock.time()
            out = []
            for (cid, domain), blocked in sorted(self._blocked.items()):
                if blocked.until <= now or (client_id is not None and cid != client_id):
                    continue
                out.append(
                    {
                        "destination": domain,
                        "time_left": math.ceil(blocked.until - now),
                        "reasons": [dict(r) for r in blocked.reasons],
                    }
                )
            return out

    def block_domain(self, client_id: str, domain: str, seconds: float, reason: str) -> None:
        """Admin: put a destination domain on the blocklist (``seconds`` on the sim clock)."""
        with self.cond:
            now = self.clock.time()
            self._blocked[(client_id, domain)] = _Blocked(
                until=now + seconds,
                reasons=[{"failure_description": reason, "count": 1, "timestamp": int(now)}],
            )

    def unblock_all(self) -> None:
        with self.cond:
            self._blocked.clear()
            self._windows.clear()
