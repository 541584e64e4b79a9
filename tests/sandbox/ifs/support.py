"""Helpers of the IFS Cloud simulator tests: paths, a thin HTTP client and error checks.

The tests in this package drive the simulator over real HTTP: plain ``requests`` against a
``ServerThread``. Each test states one behaviour of ``reference/ifs-cloud.md`` (and its
"Decisions for this project") and would fail if the simulator stopped doing it.
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

import requests

from sandbox.ifs import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REALM, IfsSimulator

OTHER_ID, OTHER_SECRET = "OTHER_CO", "other-secret"  # an IAM client allowed only company 20
ROOT = "/main/ifsapplications/projection/v1"
CUST = f"{ROOT}/CustomerHandling.svc"
ORD = f"{ROOT}/CustomerOrderHandling.svc"
VEA = f"{ROOT}/VoucherEntryAssistantHandling.svc"
VRA = f"{ROOT}/VoucherRowsAnalysis.svc"
TOKEN_PATH = f"/auth/realms/{DEFAULT_REALM}/protocol/openid-connect/token"
CREATE_VOUCHER = "IfsApp.VoucherEntryAssistantHandling.VoucherEntry_CreateVoucher"
REMOVE_VOUCHER = "IfsApp.VoucherEntryAssistantHandling.VoucherEntry_RemoveTempVoucher"


class Ifs:
    """A thin test client: token handling, projection calls and admin calls."""

    def __init__(self, sim: IfsSimulator, url: str) -> None:
        self.sim = sim
        self.url = url
        self.http = requests.Session()
        self.bearer = self.token()

    def token(self, client_id: str = DEFAULT_CLIENT_ID, secret: str = DEFAULT_CLIENT_SECRET) -> str:
        resp = self.http.post(
            self.url + TOKEN_PATH,
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "scope": "openid microprofile-jwt",
            },
        )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        bearer: str | None = None,
        data: Any = None,
    ) -> requests.Response:
        # A $batch asks for multipart/mixed, as the OData standard says; asked for JSON, the
        # simulator answers the JSON batch format (IfsConfig.batch_format).
        accept = "multipart/mixed" if path.split("?")[0].endswith("$batch") else "application/json"
        hdrs = {"Authorization": f"Bearer {bearer or self.bearer}", "Accept": accept}
        hdrs.update(headers or {})
        url = path if path.startswith("http") else self.url + path
        return self.http.request(
            method, url, json=json_body, headers=hdrs, params=params, data=data, timeout=10
        )

    def admin(self, method: str, path: str, body: Any = None) -> requests.Response:
        return self.http.request(method, f"{self.url}/_sandbox{path}", json=body, timeout=10)

    def create_customer(self, customer_id: str, **fields: Any) -> dict[str, Any]:
        body = {"CustomerId": customer_id, "Name": f"Customer {customer_id}", "Country": "SE"}
        body.update(fields)
        resp = self.call("POST", f"{CUST}/CustomerInfoSet", json_body=body)
        assert resp.status_code == 201, resp.text
        return dict(resp.json())

    def create_order(self, customer_id: str, **fields: Any) -> dict[str, Any]:
        body = {"CustomerNo": customer_id, "Contract": "S1", "CustomerPoNo": f"wc:{uuid.uuid4()}"}
        body.update(fields)
        resp = self.call("POST", f"{ORD}/CustomerOrderSet", json_body=body)
        assert resp.status_code == 201, resp.text
        return dict(resp.json())


def assert_odata_error(
    resp: requests.Response, status: int, code: str | None = None, detail: str | None = None
) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"code", "message", "details"}
    assert isinstance(err["message"], str) and err["message"]
    assert len(err["details"]) == 1 and set(err["details"][0]) == {"code", "message"}
    if code is not None:
        assert err["code"] == code
    if detail is not None:
        assert err["details"][0]["code"] == detail
    return dict(err)


def decode_etag(etag: str) -> tuple[str, str]:
    m = re.fullmatch(r'W/"([A-Za-z0-9+/=]+)"', etag)
    assert m, etag
    inner = base64.b64decode(m.group(1)).decode("ascii")
    m2 = re.fullmatch(r'W/"([A-Za-z0-9+/]{18}):(\d{14})"', inner)
    assert m2, inner
    return m2.group(1), m2.group(2)
