"""The store registry: ``system`` name -> :class:`~connector.stores.base.StorePlugin`.

Built-in stores are listed here by module path and imported on first use (so that importing
the registry costs nothing and the generic code never imports a store module). A store shipped
in another distribution registers itself through the ``ml_connector.stores`` entry-point group
(``myshop = "mypkg.plugin:PLUGIN"``).
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

from connector.stores.base import StorePlugin

ENTRY_POINT_GROUP = "ml_connector.stores"
BUILTIN: dict[str, str] = {
    "woocommerce": "connector.stores.woocommerce.plugin:PLUGIN",
    "bigcommerce": "connector.stores.bigcommerce.plugin:PLUGIN",
}

_loaded: dict[str, StorePlugin] = {}


class UnknownStore(KeyError):
    """No store plugin is registered under this system name."""

    def __str__(self) -> str:
        return f"unknown store system {self.args[0]!r} (known: {', '.join(systems())})"


def _targets() -> dict[str, str]:
    found = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def systems() -> tuple[str, ...]:
    """Every registered system name, without importing any store."""
    return tuple(_targets())


def get_store(system: str) -> StorePlugin:
    """The plugin of ``system`` (imported on first use)."""
    plugin = _loaded.get(system)
    if plugin is not None:
        return plugin
    target = _targets().get(system)
    if target is None:
        raise UnknownStore(system)
    module, _, attr = target.partition(":")
    plugin = getattr(import_module(module), attr or "PLUGIN")
    if not isinstance(plugin, StorePlugin) or plugin.system != system:
        raise TypeError(f"{target} is not the StorePlugin of {system!r}")
    _loaded[system] = plugin
    return plugin


def all_stores() -> list[StorePlugin]:
    return [get_store(name) for name in systems()]


def by_webhook_path(path: str) -> StorePlugin | None:
    """The store whose webhook endpoint is ``/webhooks/<path>/…``."""
    for plugin in all_stores():
        if plugin.webhook_path == path and plugin.accept_webhook is not None:
            return plugin
    return None
