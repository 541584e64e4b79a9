"""Login, the signed session cookie and CSRF protection for the console.

* The session is Flask's signed cookie (``mlc_console``, HttpOnly, SameSite=Lax, Secure when
  ``MLC_PUBLIC_URL`` is https). Its signing key is derived, never configured on its own:
  HMAC-SHA256 keyed with the first ``MLC_ENCRYPTION_KEYS`` key over the admin user and
  password — changing the admin password or rotating the first key logs every operator out.
* A login lasts ``SESSION_HOURS``; no console page answers without one (static assets excepted).
* Every POST carries the session's CSRF token (synchronizer token, compared in constant time);
  a form without it, or with another session's, gets 400 and changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from connector.config import Settings, get_settings
from web.console.blueprint import console

SESSION_HOURS = 12
PUBLIC_ENDPOINTS = {"console.login", "console.static"}


def session_secret(settings: Settings) -> bytes:
    """The cookie-signing key: derived from the encryption key and the admin credentials."""
    base = settings.encryption_keys[0].reveal() if settings.encryption_keys else ""
    password = settings.admin_password.reveal() if settings.admin_password else ""
    message = f"ml-connector console session\0{settings.admin_user or ''}\0{password}"
    return hmac.new(base.encode() or b"ml-connector", message.encode(), hashlib.sha256).digest()


class DerivedKeySessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, signed with the key derived from the settings in force
    (so a changed admin password takes effect without rebuilding the app)."""

    def get_signing_serializer(self, app: Any) -> URLSafeTimedSerializer | None:
        return URLSafeTimedSerializer(
            session_secret(get_settings()), salt=self.salt, serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation,
                           "digest_method": self.digest_method})


@console.record_once
def _configure(state: BlueprintSetupState) -> None:
    settings = get_settings()
    app = state.app
    app.secret_key = session_secret(settings)
    app.session_interface = DerivedKeySessionInterface()
    # Globals, not a context processor: the imported form macros see them too.
    app.jinja_env.globals.update(csrf_token=csrf_token, operator=operator)
    app.config.update(
        SESSION_COOKIE_NAME="mlc_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(settings.public_url
                                   and settings.public_url.startswith("https://")),
        SESSION_COOKIE_PATH="/ops",
    )


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return str(token)


def operator() -> str:
    """The name the audit trail records for this login."""
    return str(session.get("operator") or session.get("user") or "operator")


def _logged_in() -> bool:
    settings = get_settings()
    user = session.get("user")
    at = float(session.get("at") or 0)
    return (bool(user) and settings.admin_user is not None
            and hmac.compare_digest(str(user), settings.admin_user)
            and time.time() - at < SESSION_HOURS * 3600)


@console.before_request
def _guard() -> Any:
    settings = get_settings()
    if not settings.admin_user or not settings.admin_password:
        return Response("operator pages are disabled: set MLC_ADMIN_USER and "
                        "MLC_ADMIN_PASSWORD\n", status=503, mimetype="text/plain")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.form.get("csrf_token", "")
        expected = session.get("csrf") or ""
        if not sent or not expected or not hmac.compare_digest(str(sent), str(expected)):
            current_app.logger.warning("console: refused a %s to %s without a valid CSRF "
                                       "token", request.method, request.path)
            abort(Response("refused: the form's CSRF token is missing or wrong; reload the "
                           "page and try again\n", status=400, mimetype="text/plain"))
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not _logged_in():
        if request.method == "GET":
            return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
        return Response("login required\n", status=401, mimetype="text/plain")
    return None


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/ops/") and not target.startswith("//"):
        return target
    return url_for("console.overview")


@console.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        settings = get_settings()
        assert settings.admin_user and settings.admin_password
        user = request.form.get("username", "")
        password = request.form.get("password", "")
        ok_user = hmac.compare_digest(user.encode(), settings.admin_user.encode())
        ok_password = hmac.compare_digest(password.encode(),
                                          settings.admin_password.reveal().encode())
        if ok_user and ok_password:
            name = request.form.get("name", "").strip()[:80]
            session.clear()
            session["user"] = settings.admin_user
            session["operator"] = name or settings.admin_user
            session["at"] = time.time()
            csrf_token()  # a fresh token for the new login
            return redirect(_safe_next(request.form.get("next")))
        current_app.logger.warning("console: failed login for %r", user[:80])
        error = "Wrong user name or password."
    return render_template("console/login.html", error=error,
                           next=request.values.get("next", "")), (401 if error else 200)


@console.post("/logout")
def logout() -> Any:
    session.clear()
    return redirect(url_for("console.login"))
