"""The operator console under ``/ops/``: server-rendered pages behind a login (the
``MLC_ADMIN_USER`` / ``MLC_ADMIN_PASSWORD`` credentials), a signed session cookie and a CSRF
token on every state-changing form. Data and actions come from ``connector.operations``; the
console only enqueues work for Celery after the commit (docs/console.md).

One view module per page: ``overview``, ``records``, ``record``, ``reconciliation``; ``auth``
holds the login, the session and the CSRF check. Templates and the stylesheet are package data
(no CDN, no build step).
"""

from __future__ import annotations

from web.console import auth, overview, reconciliation, record, records  # noqa: F401
from web.console.blueprint import console

__all__ = ["console"]
