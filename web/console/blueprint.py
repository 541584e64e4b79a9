"""The console's Flask blueprint (the view modules register their routes on it)."""

from __future__ import annotations

from flask import Blueprint

console = Blueprint("console", __name__, url_prefix="/ops", template_folder="templates",
                    static_folder="static", static_url_path="/static")
