"""Business rules of the IFS Cloud simulator: what each entity requires on create and update,
and the bound actions (order release, voucher wizard).

Mixed into :class:`sandbox.ifs.IfsSimulator`; ``_create_<table>`` / ``_validate_<table>`` /
``_after_write_<table>`` / ``_action_<name>`` are looked up by name from the generic OData code.
Business-rule violations are 500 with one detail, as IFS answers PL/SQL errors (§8).
Reference: ``reference/ifs-cloud.md`` §4 (customers), §5 (orders), §6 (vouchers).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sandbox.common import SimulatorState
from sandbox.ifs.change_date import stamped
from sandbox.ifs.config import IfsConfig
from sandbox.ifs.model import ENTITIES, ApiResponse, CallContext, EntityDef
from sandbox.ifs.odata import ODataError, bad_request, business_error, make_objid, next_objversion
from sandbox.ifs.store import Key, Row, Store

OTHER_COMM_METHODS = ("MOBILE", "FAX", "WWW", "PAGER", "INTERCOM", "PARCEL")
VOUCHER_STATUSES = ("Confirmed", "AwaitingApproval", "Waiting")
PARTY_TYPES = ("Customer", "Person")


def today(now: datetime) -> str:
    return now.date().isoformat()


def timestamp(now: datetime) -> str:
    return now.replace(microsecond=0).isoformat().replace("+00:00", "Z")


class BusinessRules:
    """Entity-specific behaviour; needs ``store``, ``config`` and ``state`` from the simulator."""

    store: Store
    config: IfsConfig
    state: SimulatorState

    def _delete_cascade(self, edef: EntityDef, key: Key, row: Row) -> None:
        if edef.table == "customer":
            orders = self.store.tables["order"].lookup("CustomerNo", key[0]) or []
            if orders:
                raise business_error(
                    "CUSTOMER_IN_USE", f"Customer {key[0]} is referenced by customer orders."
                )
        for child_name in edef.navs.values():
            child = ENTITIES[child_name]
            for child_key, child_row in self.store.tables[child.table].children_of(key):
                self._delete_cascade(child, child_key, child_row)
        self.store.delete(edef.table, key)

    def _write(
        self,
        edef: EntityDef,
        key: Key,
        data: Mapping[str, Any],
        company: str | None,
        previous: Row | None,
    ) -> Row:
        now = self.state.clock.now()
        objversion = next_objversion(now, previous.objversion if previous else None)
        row = Row(
            stamped(self.config, edef, data, objversion),
            previous.objid if previous else make_objid(self.store.next("objid")),
            objversion,
            company,
            previous.seq if previous else self.store.next("seq"),
        )
        self.store.put(edef.table, key, row)
        return row

    def _check_company(self, ctx: CallContext, company: str) -> None:
        if company not in ctx.companies:
            raise ODataError(
                403,
                "ODP_FORBIDDEN",
                f"Access to company {company} is not allowed for this user.",
                detail_code="USER_COMPANY",
            )

    @staticmethod
    def _mandatory(edef: EntityDef, values: Mapping[str, Any], *names: str) -> None:
        for name in names:
            if values.get(name) in (None, ""):
                raise business_error("MANDATORY", f"Field [{name}] is mandatory for {edef.luname}.")

    def _now(self) -> datetime:
        return self.state.clock.now()

    # ----------------------------------------------------------------------------------------
    # customers (§4)
    # ----------------------------------------------------------------------------------------

    def _create_customer(
        self, ctx: CallContext, v: dict[str, Any], parent: tuple[Key, Row] | None
    ) -> tuple[Key, dict[str, Any], str | None]:
        company = str(v.get("Company") or (ctx.companies[0] if ctx.companies else ""))
        self._check_company(ctx, company)
        customer_id = v.get("CustomerId")
        if not customer_id:
            customer_id = str(self.store.next("customer_id", 100001))
            while self.store.get("customer", (customer_id,)) is not None:
                customer_id = str(self.store.next("customer_id", 100001))
        data = {
            "CreationDate": today(self._now()),
            "DefaultLanguage": "en",
            "PartyType": "Customer",
            "DefaultDomain": True,
            "CustomerCategory": "Customer",
            **{k: val for k, val in v.items() if val is not None},
            "CustomerId": customer_id,
            "Company": company,
        }
        self._validate_customer(ctx, data, None)
        return (customer_id,), data, company

    def _validate_customer(self, ctx: CallContext, data: dict[str, Any], old: Row | None) -> None:
        edef = ENTITIES["CustomerInfo"]
        self._mandatory(edef, data, "Name", "Country")
        if not re.fullmatch(r"[A-Z]{2}", str(data["Country"])):
            raise business_error(
                "COUNTRY_NOT_EXIST", f"Country code {data['Country']} does not exist (ISO 3166-1)."
            )
        if data.get("PartyType") not in PARTY_TYPES:
            raise bad_request(
                "ODP_DESERIALIZATION_ERROR",
                f"PartyType must be one of {', '.join(PARTY_TYPES)}.",
            )

    def _create_address(
        self, ctx: CallContext, v: dict[str, Any], parent: tuple[Key, Row] | None
    ) -> tuple[Key, dict[str, Any], str | None]:
        assert parent is not None
        (customer_id,), customer = parent
        address_id = v.get("AddressId") or self._next_child_id("address", parent[0], lambda k: k[1])
        data = {
            "Country": customer.data.get("Country"),
            "DefaultDomain": True,
            **{k: val for k, val in v.items() if val is not None},
            "CustomerId": customer_id,
            "AddressId": str(address_id),
        }
        self._validate_address(ctx, data, None)
        return (customer_id, str(address_id)), data, customer.company

    def _validate_address(self, ctx: CallContext, data: dict[str, Any], old: Row | None) -> None:
        if data.get("Country") is not None and not re.fullmatch(r"[A-Z]{2}", str(data["Country"])):
            raise business_error(
                "COUNTRY_NOT_EXIST", f"Country code {data['Country']} does not exist."
            )
        if data.get("DefaultDomain") is False:
            raise business_error(
                "DEFAULT_DOMAIN", "DefaultDomain must be TRUE for customer addresses."
            )

    def _next_child_id(self, table: str, parent_key: Key, pick: Any) -> int:
        numbers = [
            int(pick(k))
            for k, _ in self.store.tables[table].children_of(parent_key)
            if str(pick(k)).isdigit()
        ]
        return max(numbers, default=0) + 1

    def _comm_method_ids(self) -> tuple[str, ...]:
        return (self.config.email_method_id, self.config.phone_method_id, *OTHER_COMM_METHODS)

    def _create_commmethod(
        self, ctx: CallContext, v: dict[str, Any], parent: tuple[Key, Row] | None
    ) -> tuple[Key, dict[str, Any], str | None]:
        assert parent is not None
        (customer_id,), customer = parent
        comm_id = v.get("CommId") or self._next_child_id("commmethod", parent[0], lambda k: k[1])
        data = {**{k: val for k, val in v.items() if val is not None}}
        data.update({"CustomerId": customer_id, "CommId": int(comm_id)})
        self._validate_commmethod(ctx, data, None)
        if data.get("MethodDefault") is None:
            siblings = self.store.tables["commmethod"].children_of(parent[0])
            data["MethodDefault"] = not any(
                r.data.get("MethodId") == data["MethodId"] and r.data.get("MethodDefault")
                for _, r in siblings
            )
        return (customer_id, int(comm_id)), data, customer.company

    def _validate_commmethod(self, ctx: CallContext, data: dict[str, Any], old: Row | None) -> None:
        edef = ENTITIES["CommMethod"]
        self._mandatory(edef, data, "MethodId", "Value")
        if data["MethodId"] not in self._comm_method_ids():
            raise bad_request(
                "ODP_DESERIALIZATION_ERROR",
                f"'{data['MethodId']}' is not a valid CommMethodCode "
                f"(valid: {', '.join(self._comm_method_ids())}).",
            )

    def _after_write_commmethod(self, key: Key, row: Row) -> None:
        """One default per method and customer: a new default clears the others."""
        if not row.data.get("MethodDefault"):
            return
        edef = ENTITIES["CommMethod"]
        for other_key, other in self.store.tables["commmethod"].children_of(key[:1]):
            if (
                other_key != key
                and other.data.get("MethodId") == row.data.get("MethodId")
                and other.data.get("MethodDefault")
            ):
                self._write(
                    edef, other_key, {**other.data, "MethodDefault": False}, other.company, other
                )

    # ----------------------------------------------------------------------------------------
    # customer orders (§5)
    # ----------------------------------------------------------------------------------------

    def _create_order(
        self, ctx: CallContext, v: dict[str, Any], parent: tuple[Key, Row] | None
    ) -> tuple[Key, dict[str, Any], str | None]:
        edef = ENTITIES["CustomerOrder"]
        self._mandatory(edef, v, "Contract", "CustomerNo")
        contract = v["Contract"]
        company = self.config.sites.get(contract)
        if company is None:
            raise business_error("SITE_NOT_EXIST", f"Site {contract} does not exist.")
        self._check_company(ctx, company)
        customer = self._order_customer(v["CustomerNo"], company)
        order_no = v.get("OrderNo")
        if not order_no:
            order_no = f"C{self.store.next('order_no', 1000001)}"
            while self.store.get("order", (order_no,)) is not None:
                order_no = f"C{self.store.next('order_no', 1000001)}"
        now = self._now()
        data = {
            "OrderId": "NO",
            "CurrencyCode": self.config.default_currency,
            "WantedDeliveryDate": timestamp(now),
            **{k: val for k, val in v.items() if val is not None},
            "OrderNo": order_no,
            "Company": company,
            "CustomerName": customer.data.get("Name"),
            "Objstate": "Planned",
            "DateEntered": timestamp(now),
        }
        self._validate_order(ctx, data, None)
        return (order_no,), data, company

    def _order_customer(self, customer_no: str, company: str) -> Row:
        customer = self.store.get("customer", (customer_no,))
        if customer is None or customer.company != company:
            raise business_error("CUSTNOTEXIST", f"Customer {customer_no} does not exist.")
        return customer

    def _validate_order(self, ctx: CallContext, data: dict[str, Any], old: Row | None) -> None:
        if old is not None and old.data.get("Objstate") in ("Cancelled", "Invoiced"):
            raise business_error(
                "ORDER_STATE", f"Order {data['OrderNo']} is {old.data['Objstate']}: no changes."
            )
        for field_name in ("ShipAddrNo", "BillAddrNo"):
            addr = data.get(field_name)
            if addr is not None and self.store.get("address", (data["CustomerNo"], addr)) is None:
                raise business_error(
                    "ADDRESS_NOT_EXIST",
                    f"Address {addr} does not exist for customer {data['CustomerNo']}.",
                )

    def _create_line(
        self, ctx: CallContext, v: dict[str, Any], parent: tuple[Key, Row] | None
    ) -> tuple[Key, dict[str, Any], str | None]:
        assert parent is not None
        (order_no,), order = parent
        if order.data.get("Objstate") not in ("Planned", "Released"):
            raise business_error(
                "ORDER_STATE", f"Lines cannot be added to a {order.data.get('Objstate')} order."
            )
        line_no = v.get("LineNo") or str(self._next_child_id("line", (order_no,), lambda k: k[1]))
        rel_no = v.get("RelNo") or "1"
        data = {
            "SaleUnitPrice": 0,
            **{k: val for k, val in v.items() if val is not None},
            "OrderNo": order_no,
            "LineNo": str(line_no),
            "RelNo": str(rel_no),
            "LineItemNo": 0,
            "Contract": order.data.get("Contract"),
            "CurrencyCode": order.data.get("CurrencyCode"),
            "Objstate": order.data.get("Objstate"),
        }
        self._validate_line(ctx, data, None)
        return (order_no, str(line_no), str(rel_no), 0), data, order.company

    def _validate_line(self, ctx: CallContext, data: dict[str, Any], old: Row | None) -> None:
        edef = ENTITIES["CustomerOrderLine"]
        self._mandatory(edef, data, "CatalogNo", "BuyQtyDue")
        if data["BuyQtyDue"] <= 0:
            raise business_error("QTY_NOT_POSITIVE", "Sales quantity must be greater than zero.")
        if data.get("SaleUnitPrice") is not None and data["SaleUnitPrice"] < 0:
            raise business_error("NEGATIVE_PRICE", "Sales price cannot be negative.")

    def _create_charge(
        self, ctx: CallContext, v: dict[str, Any], parent: tuple[Key, Row] | None
    ) -> tuple[Key, dict[str, Any], str | None]:
        assert parent is not None
        (order_no,), order = parent
        seq = self._next_child_id("charge", (order_no,), lambda k: k[1])
        data = {
            "ChargedQty": 1,
            "Company": order.company,
            **{k: val for k, val in v.items() if val is not None},
            "OrderNo": order_no,
            "SequenceNo": seq,
            "Contract": order.data.get("Contract"),
            "CurrencyCode": order.data.get("CurrencyCode"),
        }
        if data["Company"] != order.company:
            raise business_error(
                "COMPANY_MISMATCH",
                f"Company {data['Company']} differs from company {order.company} of the order.",
            )
        self._validate_charge(ctx, data, None)
        return (order_no, seq), data, order.company

    def _validate_charge(self, ctx: CallContext, data: dict[str, Any], old: Row | None) -> None:
        edef = ENTITIES["CustomerOrderCharge"]
        self._mandatory(edef, data, "ChargeType", "ChargeAmount")
        if data.get("ChargedQty") is None or data["ChargedQty"] <= 0:
            raise business_error("QTY_NOT_POSITIVE", "Charged quantity must be greater than zero.")

    def _action_CustomerOrder_Release(
        self, ctx: CallContext, key: Key, row: Row, params: dict[str, Any]
    ) -> ApiResponse:
        if row.data.get("Objstate") != "Planned":
            raise business_error(
                "ORDER_STATE", f"Order {key[0]} is {row.data.get('Objstate')}, not Planned."
            )
        lines = self.store.tables["line"].children_of(key)
        if not lines:
            raise business_error("NO_LINES", f"Order {key[0]} has no lines.")
        self._write(
            ENTITIES["CustomerOrder"], key, {**row.data, "Objstate": "Released"}, row.company, row
        )
        for line_key, line in lines:
            self._write(
                ENTITIES["CustomerOrderLine"],
                line_key,
                {**line.data, "Objstate": "Released"},
                line.company,
                line,
            )
        return ApiResponse(204)

    # ----------------------------------------------------------------------------------------
    # GL voucher wizard (§6, decision 7)
    # ----------------------------------------------------------------------------------------

    def _create_tempvoucher(
        self, ctx: CallContext, v: dict[str, Any], parent: tuple[Key, Row] | None
    ) -> tuple[Key, dict[str, Any], str | None]:
        company = v.get("Company")
        if company:
            self._check_company(ctx, company)
        objkey = uuid.uuid4().hex.upper()
        data = {
            "VoucherDate": today(self._now()),
            "VoucherStatus": "Confirmed",
            "CurrencyCode": self.config.default_currency,
            **{k: val for k, val in v.items() if val is not None},
            "Objkey": objkey,
        }
        self._validate_tempvoucher(ctx, data, None)
        return (objkey,), data, company or None

    def _validate_tempvoucher(
        self, ctx: CallContext, data: dict[str, Any], old: Row | None
    ) -> None:
        self._mandatory(ENTITIES["VoucherEntryVirtual"], data, "VoucherDate")
        if data.get("VoucherStatus") not in VOUCHER_STATUSES:
            raise bad_request(
                "ODP_DESERIALIZATION_ERROR",
                f"VoucherStatus must be one of {', '.join(VOUCHER_STATUSES)}.",
            )
        voucher_date = date.fromisoformat(data["VoucherDate"])
        if data.get("AccountingYear") is None:
            data["AccountingYear"] = voucher_date.year
        if data.get("AccountingPeriod") is None:
            data["AccountingPeriod"] = voucher_date.month

    def _create_posting(
        self, ctx: CallContext, v: dict[str, Any], parent: tuple[Key, Row] | None
    ) -> tuple[Key, dict[str, Any], str | None]:
        assert parent is not None
        (objkey,), voucher = parent
        row_no = self._next_child_id("posting", (objkey,), lambda k: k[1])
        data = {**{k: val for k, val in v.items() if val is not None}}
        data.update({"Objkey": objkey, "RowNo": row_no})
        return (objkey, row_no), data, voucher.company

    def _action_VoucherEntry_CreateVoucher(
        self, ctx: CallContext, key: Key, row: Row, params: dict[str, Any]
    ) -> ApiResponse:
        header = row.data
        edef = ENTITIES["VoucherEntryVirtual"]
        self._mandatory(edef, header, "Company", "VoucherType")
        company = str(header["Company"])
        self._check_company(ctx, company)
        postings = [r.data for _, r in self.store.tables["posting"].children_of(key)]
        if not postings:
            raise business_error("NO_VOUCHER_ROWS", "The voucher has no rows.")
        debit = credit = Decimal(0)
        for posting in postings:
            if not posting.get("Account"):
                raise business_error(
                    "ACCOUNT_MISSING", f"Account is mandatory on voucher row {posting['RowNo']}."
                )
            debit += Decimal(str(posting.get("DebetAmount") or 0))
            credit += Decimal(str(posting.get("CreditAmount") or 0))
        if debit.quantize(Decimal("0.01")) != credit.quantize(Decimal("0.01")):
            raise business_error(
                "VOUCHER_NOT_BALANCED",
                f"The voucher is not balanced: debit {debit:.2f}, credit {credit:.2f}.",
            )
        year = int(header["AccountingYear"])
        voucher_type = str(header["VoucherType"])
        n = self.store.next(f"voucher:{company}:{voucher_type}:{year}")
        voucher_no = (year % 100) * 1_000_000 + n
        voucher_fields = {
            "Company": company,
            "VoucherType": voucher_type,
            "AccountingYear": year,
            "VoucherNo": voucher_no,
            "AccountingPeriod": header.get("AccountingPeriod"),
            "VoucherDate": header.get("VoucherDate"),
            "VoucherStatus": header.get("VoucherStatus"),
            "VoucherText2": header.get("VoucherText2"),
            "CurrencyCode": header.get("CurrencyCode"),
        }
        voucher_def, row_def = ENTITIES["Voucher"], ENTITIES["VoucherRow"]
        record: dict[str, Any] = dict.fromkeys(voucher_def.fields)
        record.update(
            voucher_fields,
            UserGroup=header.get("UserGroup"),
            DateReg=timestamp(self._now()),
            EnteredByUserId=ctx.client_id,
        )
        vkey = (company, voucher_type, year, voucher_no)
        self._write(voucher_def, vkey, record, company, None)
        for row_no, posting in enumerate(postings, start=1):
            row_record: dict[str, Any] = dict.fromkeys(row_def.fields)
            row_record.update(
                {k: posting.get(k) for k in row_def.fields if k in posting and k != "RowNo"}
            )
            row_record.update(voucher_fields, RowNo=row_no)
            self._write(row_def, (*vkey, row_no), row_record, company, None)
        self._delete_cascade(edef, key, row)  # the draft is consumed
        return ApiResponse(
            200,
            {
                "@odata.context": f"{ctx.base_url}{ctx.service_root}/$metadata#Edm.Int32",
                "value": voucher_no,
            },
        )

    def _action_VoucherEntry_RemoveTempVoucher(
        self, ctx: CallContext, key: Key, row: Row, params: dict[str, Any]
    ) -> ApiResponse:
        self._delete_cascade(ENTITIES["VoucherEntryVirtual"], key, row)
        return ApiResponse(204)
