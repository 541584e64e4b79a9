"""The generic pipeline (design.md §3): staging and records, dispatch, fetch, webhook intake,
transform, the load executor and the audit trail. Store-agnostic: store behaviour comes from
the plugins in :mod:`connector.stores` through the registry."""
