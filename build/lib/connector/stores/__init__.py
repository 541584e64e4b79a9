"""The stores: one package per outside store system, behind the interface in ``base.py``.

``registry.py`` maps a source's ``system`` to its :class:`~connector.stores.base.StorePlugin`;
the generic pipeline, webhook intake and the CLI ask the registry, never a store module.
"""
