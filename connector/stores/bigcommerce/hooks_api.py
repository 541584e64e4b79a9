"""Webhook management of the BigCommerce client (v3 ``/hooks``, bc §5); registration and health
checks on top of it are :mod:`connector.stores.bigcommerce.hooks`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.stores.bigcommerce.transport import BcTransport, Row

__all__ = ["HooksEndpoints"]


class HooksEndpoints(BcTransport):
    """``/v3/hooks`` and ``/v3/hooks/admin``."""

    def list_hooks(self, **filters: Any) -> list[Row]:
        """``GET /v3/hooks`` (only this token's ``client_id``; filters ``is_active``, ``scope``,
        ``destination``)."""
        params = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in filters.items()}
        return list(self._v3_list("/hooks", params, paged=False))

    def create_hook(
        self,
        scope: str,
        destination: str,
        headers: Mapping[str, str] | None = None,
        is_active: bool = True,
    ) -> Row:
        """``POST /v3/hooks``. ``headers`` are sent on every callback (e.g. a custom secret
        header, bc decision 2). Limits: 10 per scope, 1 per scope and destination (bc §5)."""
        body: dict[str, Any] = {"scope": scope, "destination": destination,
                                "is_active": is_active}
        if headers:
            body["headers"] = dict(headers)
        data = self._v3("POST", "/hooks", json=body)
        return data if isinstance(data, dict) else {}

    def update_hook(self, hook_id: int, **fields: Any) -> Row:
        """``PUT /v3/hooks/{id}`` — e.g. ``is_active=True`` to re-activate (bc decision 3)."""
        data = self._v3("PUT", f"/hooks/{int(hook_id)}", json=fields)
        return data if isinstance(data, dict) else {}

    def delete_hook(self, hook_id: int) -> Row | None:
        """``DELETE /v3/hooks/{id}``; returns the deleted hook when BigCommerce echoes it."""
        data = self._v3("DELETE", f"/hooks/{int(hook_id)}")
        return data if isinstance(data, dict) else None

    def hooks_admin(self) -> Row:
        """``GET /v3/hooks/admin``: hook statuses and ``blocked_domains`` (bc §5)."""
        data = self._v3("GET", "/hooks/admin")
        return data if isinstance(data, dict) else {"hooks": data or []}
