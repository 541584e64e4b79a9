"""WordPress REST errors: ``{"code","message","data":{"status":N,...}}`` (reference doc §1)."""

from __future__ import annotations

from typing import Any

BASIC_REALM = (
    'Basic realm="WooCommerce API. Use a consumer key in the username field and a consumer '
    'secret in the password field."'
)


class WooError(Exception):
    """An error answer. ``data`` extras (e.g. ``params``) go next to ``status``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **data: Any,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.data = data

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "data": {"status": self.status, **self.data},
        }


def invalid_params(params: dict[str, str]) -> WooError:
    """WordPress core's aggregated parameter validation error."""
    return WooError(
        400,
        "rest_invalid_param",
        f"Invalid parameter(s): {', '.join(params)}",
        params=params,
        details={
            k: {"code": "rest_invalid_param", "message": v, "data": None} for k, v in params.items()
        },
    )


def no_route() -> WooError:
    return WooError(404, "rest_no_route", "No route was found matching the URL and request method.")
