"""``wc/v3`` webhook handlers of the WooCommerce simulator (the registry; delivery is
in :mod:`sandbox.woocommerce.webhooks`).
"""

from __future__ import annotations

import re
import secrets

from flask import Response

from sandbox.woocommerce.context import _Ctx
from sandbox.woocommerce.core import WooConfig, _valid_topic
from sandbox.woocommerce.errors import WooError, invalid_params
from sandbox.woocommerce.models import Webhook
from sandbox.woocommerce.query import (
    WEBHOOK_ORDERBY,
    WEBHOOK_STATUS_PARAM,
    Params,
    customer_page_number,
    paginate,
)
from sandbox.woocommerce.render import render_webhook
from sandbox.woocommerce.store import WooState


class WebhookRoutes:
    """``/webhooks``; mixed into ``WooApi``."""

    config: WooConfig
    state: WooState

    # ================================================================== webhooks

    def _webhook_or_error(
        self, webhook_id: int, status: int, message: str = "Invalid ID."
    ) -> Webhook:
        w = self.state.webhooks.get(webhook_id)
        if w is None:
            raise WooError(status, "woocommerce_rest_shop_webhook_invalid_id", message)
        return w

    def _webhooks_list(self, ctx: _Ctx) -> Response:
        p = Params(ctx.args)
        per_page = p.integer("per_page", 10, 1, 100) or 10
        page_no = p.integer("page", 1, 1) or 1
        offset = p.integer("offset", None)
        order_dir = p.enum("order", ("asc", "desc"), "desc")
        orderby = p.enum("orderby", WEBHOOK_ORDERBY, "date")
        status = p.enum("status", WEBHOOK_STATUS_PARAM, "all")
        include, exclude = p.int_list("include"), p.int_list("exclude")
        search = p.string("search").lower()
        p.check()
        self._require(ctx, "list")
        with self.state.lock:
            rows = [
                w
                for w in self.state.webhooks.values()
                if (status == "all" or w.status == status)
                and (not include or w.id in include)
                and w.id not in exclude
                and (not search or search in w.name.lower())
            ]
            if orderby == "id":
                rows.sort(key=lambda w: w.id, reverse=order_dir == "desc")
            elif orderby == "title":
                rows.sort(key=lambda w: (w.name.lower(), w.id), reverse=order_dir == "desc")
            else:
                rows.sort(key=lambda w: (w.created, w.id), reverse=order_dir == "desc")
            page = paginate(rows, per_page, page_no, offset)
            items = [render_webhook(w, self._offset(), ctx.host) for w in page.items]
        number = customer_page_number(per_page, page_no, offset)
        return self._paged(ctx, items, page.total, page.total_pages, number)

    def _webhook_get(self, ctx: _Ctx, id: int) -> Response:
        self._require(ctx, "view")
        with self.state.lock:
            w = self._webhook_or_error(id, 404)
            return self._json(render_webhook(w, self._offset(), ctx.host))

    def _webhook_create(self, ctx: _Ctx) -> Response:
        body = ctx.body
        missing = [k for k in ("topic", "delivery_url") if k not in body]
        if missing:
            raise WooError(
                400,
                "rest_missing_callback_param",
                f"Missing parameter(s): {', '.join(missing)}",
                params=missing,
            )
        self._require(ctx, "create")
        if body.get("id"):
            raise WooError(
                400, "woocommerce_rest_shop_webhook_exists", "Cannot create existing shop_webhook."
            )
        topic = str(body.get("topic") or "").lower()
        if not _valid_topic(topic):
            raise WooError(
                400,
                "woocommerce_rest_shop_webhook_invalid_topic",
                "Webhook topic is required and must be valid.",
            )
        url = str(body.get("delivery_url") or "")
        if not re.match(r"^https?://[^\s/]+", url):
            raise WooError(
                400,
                "woocommerce_rest_shop_webhook_invalid_delivery_url",
                "Webhook delivery URL must be a valid URL starting with http:// or https://.",
            )
        status = str(body.get("status") or "active")
        if status not in ("active", "paused", "disabled"):
            raise invalid_params({"status": "status is not one of active, paused, disabled."})
        with self.state.lock:
            now = self.state.now()
            webhook_id = self.state.next_webhook
            self.state.next_webhook += 1
            w = Webhook(
                id=webhook_id,
                name=str(
                    body.get("name") or f"Webhook created on {now.strftime('%b %d, %Y @ %I:%M %p')}"
                ),
                status=status,
                topic=topic,
                delivery_url=url,
                # Without an explicit secret WooCommerce generates one the client never sees.
                secret=str(body.get("secret") or secrets.token_urlsafe(38)),
                user_id=ctx.user.id if ctx.user else 0,
                created=now,
                modified=now,
            )
            self.state.webhooks[w.id] = w
            payload = render_webhook(w, self._offset(), ctx.host)
        # The REST controller pings synchronously after saving (doc §6); the result is only logged.
        self.dispatcher.ping(w.id, w.delivery_url)
        return self._json(
            payload, 201, headers={"Location": f"{ctx.host}/wp-json/wc/v3/webhooks/{w.id}"}
        )

    def _webhook_update(self, ctx: _Ctx, id: int) -> Response:
        self._require(ctx, "edit")
        body = ctx.body
        with self.state.lock:
            w = self._webhook_or_error(id, 400, "ID is invalid.")
            if body.get("topic"):
                topic = str(body["topic"]).lower()
                if not _valid_topic(topic):
                    raise WooError(
                        400,
                        "woocommerce_rest_shop_webhook_invalid_topic",
                        "Webhook topic must be valid.",
                    )
                w.topic = topic
            if body.get("delivery_url"):
                url = str(body["delivery_url"])
                if not re.match(r"^https?://[^\s/]+", url):
                    raise WooError(
                        400,
                        "woocommerce_rest_shop_webhook_invalid_delivery_url",
                        "Webhook delivery URL must be a valid URL starting with http:// or https://.",
                    )
                w.delivery_url = url
            if body.get("secret"):
                w.secret = str(body["secret"])
            if body.get("status"):
                status = str(body["status"]).lower()
                if status not in ("active", "paused", "disabled"):
                    raise WooError(
                        400,
                        "woocommerce_rest_shop_webhook_invalid_status",
                        "Webhook status must be valid.",
                    )
                w.status = status  # failure_count is kept, as in WC_Webhook::set_status
            if body.get("name"):
                w.name = str(body["name"])
            w.modified = self.state.now()
            return self._json(render_webhook(w, self._offset(), ctx.host))

    def _webhook_delete(self, ctx: _Ctx, id: int) -> Response:
        p = Params(ctx.args | {k: str(v) for k, v in ctx.body.items() if k == "force"})
        force = p.boolean("force", False)
        p.check()
        self._require(ctx, "delete")
        if not force:
            raise WooError(
                501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing."
            )
        with self.state.lock:
            w = self._webhook_or_error(id, 404)
            payload = render_webhook(w, self._offset(), ctx.host)
            del self.state.webhooks[w.id]
        return self._json(payload)
