"""GL vouchers through the ``VoucherEntryAssistantHandling`` wizard (ifs-cloud.md §6, Decisions 7).

``VoucherHandling.svc/VoucherSet`` is read/update only, so vouchers are created the way the IFS
client does it: a temporary (virtual) voucher header, one posting row per line, then the bound
``CreateVoucher`` action, which assigns the voucher number. If anything fails after the header
exists, ``RemoveTempVoucher`` cleans the temporary voucher up (best effort) and the original error
is raised.

:meth:`VoucherWizard.create_in_one_changeset` sends the same three steps as one atomic ``$batch``
change set (header, ``$1/VoucherPostingArray`` rows, ``$1/…CreateVoucher`` with ``If-Match: *``;
§9 allows ``$<Content-ID>`` references in URLs): one request, and a failure leaves no temporary
voucher behind, so there is nothing to remove. Whether a tenant's wizard accepts its virtual
entity inside a change set is not documented (§6 "uncertain"), so the tenant setting
``voucher_mode=steps`` keeps the step-by-step calls.

Idempotency (Decisions 6): the voucher text (``VoucherText2``) is the source event id, and
:meth:`VoucherWizard.find_voucher_by_text` looks it up in ``VoucherRowsAnalysis.svc`` —
:meth:`VoucherWizard.ensure` does that before creating.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from connector.errors import ConnectorError, DataError, Transient
from connector.ifs.batch import BatchRequest
from connector.ifs.client import IfsODataClient
from connector.ifs.odata import filter_eq, odata_key

log = logging.getLogger(__name__)

WIZARD = "VoucherEntryAssistantHandling"
ANALYSIS = "VoucherRowsAnalysis"
_ACTION_PREFIX = "IfsApp.VoucherEntryAssistantHandling.VoucherEntry_"
_CODE_PARTS = "BCDEFGHIJ"  # CodeB…CodeJ are the posting dimensions (§6)
ZERO = Decimal("0")


def _decimal(value: object, what: str) -> Decimal:
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int | str) and not isinstance(value, bool):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise DataError(f"{what} is not a number: {value!r}") from None
    else:
        # floats are refused: money must arrive exact
        raise DataError(f"{what} must be a Decimal, int or numeric string, got "
                        f"{type(value).__name__}")
    if not number.is_finite():
        raise DataError(f"{what} is not a finite number")
    return number


def _code_field(name: str) -> str:
    part = name.removeprefix("Code")
    if len(part) != 1 or part.upper() not in _CODE_PARTS:
        raise DataError(f"unknown posting code {name!r}: use CodeB … CodeJ (or B … J)")
    return f"Code{part.upper()}"


@dataclass(frozen=True)
class VoucherRow:
    """One posting: an account, a debit or a credit, dimension codes (``{"B": "100"}`` or
    ``{"CodeB": "100"}``), an optional tax code (``OptionalCode``) and row text."""

    account: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    codes: Mapping[str, str] = field(default_factory=dict)
    text: str | None = None
    tax_code: str | None = None


@dataclass(frozen=True)
class VoucherPlan:
    """A balanced voucher for one company. ``text`` is the source event id (idempotency key)."""

    company: str
    voucher_type: str
    voucher_date: date
    currency: str
    text: str
    rows: Sequence[VoucherRow]
    voucher_status: str | None = None  # Confirmed / AwaitingApproval / Waiting; None: IFS default

    def validate(self) -> None:
        """Raise :class:`DataError` unless the plan can be posted: required fields present,
        every row one-sided and non-negative, and total debit == total credit (exact Decimals).
        IFS would reject an unbalanced voucher only at ``CreateVoucher``; failing here costs no
        request and leaves no temporary voucher behind."""
        for name in ("company", "voucher_type", "currency", "text"):
            if not str(getattr(self, name) or "").strip():
                raise DataError(f"voucher {name} is missing")
        if not isinstance(self.voucher_date, date):
            raise DataError("voucher_date must be a date")
        if not self.rows:
            raise DataError("voucher has no rows")
        debit = credit = ZERO
        for i, row in enumerate(self.rows, start=1):
            if not str(row.account or "").strip():
                raise DataError(f"voucher row {i} has no account")
            d = _decimal(row.debit, f"row {i} debit")
            c = _decimal(row.credit, f"row {i} credit")
            if d < 0 or c < 0:
                raise DataError(f"voucher row {i} has a negative amount")
            if d and c:
                raise DataError(f"voucher row {i} has both a debit and a credit")
            if not d and not c:
                raise DataError(f"voucher row {i} has no amount")
            for name in row.codes:
                _code_field(name)
            debit += d
            credit += c
        if debit != credit:
            raise DataError(
                f"voucher {self.text} is unbalanced: debit {debit} != credit {credit}",
                code="VOUCHER_UNBALANCED",
            )


def header_body(plan: VoucherPlan) -> dict[str, Any]:
    """The temporary voucher header (§6)."""
    body: dict[str, Any] = {
        "Company": plan.company,
        "VoucherType": plan.voucher_type,
        "VoucherDate": plan.voucher_date.isoformat(),
        "CurrencyCode": plan.currency,
        "VoucherText2": plan.text,
    }
    if plan.voucher_status:
        body["VoucherStatus"] = plan.voucher_status
    return body


def row_body(row: VoucherRow) -> dict[str, Any]:
    """One ``VoucherPostingArray`` row. ``DebetAmount`` is IFS' spelling (§6); only the non-zero
    side is sent."""
    body: dict[str, Any] = {"Account": row.account}
    debit = _decimal(row.debit, "debit")
    credit = _decimal(row.credit, "credit")
    if debit:
        body["DebetAmount"] = debit
    if credit:
        body["CreditAmount"] = credit
    for name, value in sorted(row.codes.items()):
        body[_code_field(name)] = value
    if row.tax_code:
        body["OptionalCode"] = row.tax_code
    if row.text:
        body["Text"] = row.text
    return body


class VoucherWizard:
    """Creates and finds GL vouchers in one IFS tenant."""

    def __init__(self, client: IfsODataClient) -> None:
        self.client = client

    def create(self, plan: VoucherPlan) -> int:
        """Post ``plan`` as a voucher and return the voucher number IFS assigned.

        Does not look for an existing voucher first — use :meth:`ensure` for that. Validates
        before any request. On a failure after the temporary header exists, removes it (best
        effort) and raises the original error.
        """
        plan.validate()
        header, _ = self.client.create(WIZARD, "VoucherSet", header_body(plan))
        objkey = header.get("Objkey")
        if not isinstance(objkey, str) or not objkey:
            raise Transient("IFS created a temporary voucher without an Objkey",
                            url=self.client.url(WIZARD, "VoucherSet"))
        temp = f"VoucherSet{odata_key(Objkey=objkey)}"
        try:
            for row in plan.rows:
                self.client.create(WIZARD, f"{temp}/VoucherPostingArray", row_body(row))
            # The temporary voucher is ours alone, so "*" is a safe If-Match for its actions.
            result = self.client.action(WIZARD, f"{temp}/{_ACTION_PREFIX}CreateVoucher", {},
                                        etag="*")
            return _voucher_no(result.get("value"), self.client.url(WIZARD, temp))
        except Exception:
            self._remove_temp(temp)
            raise

    def create_in_one_changeset(self, plan: VoucherPlan) -> int:
        """Post ``plan`` as one change set (header, rows, ``CreateVoucher``) and return the
        voucher number: one request. All or nothing, so no temporary voucher can be left over.
        Does not look for an existing voucher first."""
        plan.validate()
        requests = [BatchRequest("POST", "VoucherSet", header_body(plan), content_id="1")]
        for i, row in enumerate(plan.rows, start=2):
            requests.append(BatchRequest("POST", "$1/VoucherPostingArray", row_body(row),
                                         content_id=str(i)))
        requests.append(BatchRequest("POST", f"$1/{_ACTION_PREFIX}CreateVoucher", {},
                                     content_id=str(len(requests) + 1), if_match="*"))
        responses = self.client.batch(WIZARD, requests)
        body = responses[-1].body if responses else None
        value = body.get("value") if isinstance(body, dict) else None
        return _voucher_no(value, self.client.url(WIZARD, "$batch"))

    def _remove_temp(self, temp: str) -> None:
        try:
            self.client.action(WIZARD, f"{temp}/{_ACTION_PREFIX}RemoveTempVoucher", {}, etag="*")
        except ConnectorError as exc:
            # Best effort: a leftover temporary voucher is harmless (it is not a posted voucher)
            # and must not hide the error that made us give up.
            log.warning("could not remove temporary voucher %s: %s", temp, exc)

    def find_voucher_by_text(self, company: str, text: str) -> int | None:
        """The number of the voucher in ``company`` whose ``VoucherText2`` is ``text``, or None.

        Reads ``VoucherRowsAnalysis.svc/VoucherRowSet`` (§6); one row is enough, so only the
        first page is fetched.
        """
        rows = self.client.query(
            ANALYSIS,
            "VoucherRowSet",
            filter=filter_eq(Company=company, VoucherText2=text),
            select=["Company", "VoucherType", "AccountingYear", "VoucherNo"],
        )
        for row in rows:
            value = row.get("VoucherNo")
            if value is not None:
                return _voucher_no(value, self.client.url(ANALYSIS, "VoucherRowSet"))
        return None

    def ensure(self, plan: VoucherPlan) -> tuple[int, bool]:
        """The voucher for ``plan.text``: (number, created). Looks it up first so a retried task
        never posts a second voucher for the same event (Decisions 6)."""
        plan.validate()
        existing = self.find_voucher_by_text(plan.company, plan.text)
        if existing is not None:
            return existing, False
        return self.create(plan), True


def _voucher_no(value: object, url: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise Transient(f"IFS answered an unexpected voucher number {value!r}", url=url)
