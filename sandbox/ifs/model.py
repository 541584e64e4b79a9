"""Entity model of the IFS Cloud simulator.

``ENTITIES`` describes every entity type (fields, keys, navigations, what can be written);
``PROJECTIONS`` maps each projection's entity sets to them; ``CallContext`` and ``ApiResponse``
are the request and response of one OData call. The rows live in :mod:`sandbox.ifs.store`.
Reference: ``reference/ifs-cloud.md`` §4 (customers), §5 (orders), §6 (vouchers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# --------------------------------------------------------------------------------------------
# Entity definitions
# --------------------------------------------------------------------------------------------

STR, INT, NUM, BOOL, DATE, DATETIME = "str", "int", "num", "bool", "date", "datetime"
RW, INSERT, RO = "rw", "insert", "ro"  # updatable, insert-only, read-only (server-set)


@dataclass(frozen=True)
class FieldSpec:
    type: str = STR
    access: str = RW
    max_len: int | None = None


def _f(type_: str = STR, access: str = RW, max_len: int | None = None) -> FieldSpec:
    return FieldSpec(type_, access, max_len)


@dataclass(frozen=True)
class EntityDef:
    name: str
    luname: str
    table: str
    keys: tuple[str, ...]
    fields: Mapping[str, FieldSpec]
    parent: str | None = None  # containing entity; its keys are the first keys of this one
    navs: Mapping[str, str] = field(default_factory=dict)  # collection navigations
    refs: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # one-to-one
    indexed: tuple[str, ...] = ()
    insertable: bool = True
    updatable: bool = True
    deletable: bool = True
    actions: tuple[str, ...] = ()
    virtual: bool = False  # assistant (wizard) entity: bound actions do not require If-Match

    @property
    def parent_key_len(self) -> int:
        return len(ENTITIES[self.parent].keys) if self.parent else 0

    def key_type(self, name: str) -> str:
        return self.fields[name].type

    def keyref(self, key: tuple[Any, ...]) -> str:
        def snake(name: str) -> str:
            out = "".join("_" + c if c.isupper() and i else c for i, c in enumerate(name))
            return out.upper()

        return "".join(f"{snake(k)}={v}^" for k, v in zip(self.keys, key, strict=True))


_ADDRESS_LINES = {f"Address{i}": _f(max_len=100) for i in range(1, 7)}
_CODE_PARTS = {f"Code{c}": _f(max_len=20) for c in "BCDEFGHIJ"}

ENTITIES: dict[str, EntityDef] = {}


def _register(*defs: EntityDef) -> None:
    for d in defs:
        ENTITIES[d.name] = d


_register(
    EntityDef(
        name="CustomerInfo",
        luname="CustomerInfo",
        table="customer",
        keys=("CustomerId",),
        fields={
            "CustomerId": _f(STR, INSERT, 20),
            "Name": _f(max_len=100),
            "CreationDate": _f(DATE, INSERT),
            "Country": _f(),  # validated as ISO-3166 alpha-2 by the rules
            "DefaultLanguage": _f(max_len=2),
            "PartyType": _f(STR, INSERT),
            "DefaultDomain": _f(BOOL),
            "CustomerCategory": _f(),
            "CorporateForm": _f(max_len=8),
            "AssociationNo": _f(max_len=50),
            "IdentifierReference": _f(max_len=100),
            "Company": _f(STR, INSERT, 20),
        },
        navs={"CustomerInfoAddresses": "CustomerInfoAddress", "CommunicationMethods": "CommMethod"},
    ),
    EntityDef(
        name="CustomerInfoAddress",
        luname="CustomerInfoAddress",
        table="address",
        keys=("CustomerId", "AddressId"),
        fields={
            "CustomerId": _f(STR, INSERT, 20),
            "AddressId": _f(STR, INSERT, 50),
            "Name": _f(max_len=100),
            **_ADDRESS_LINES,
            "ZipCode": _f(max_len=35),
            "City": _f(max_len=35),
            "County": _f(max_len=35),
            "State": _f(max_len=35),
            "Country": _f(),  # validated as ISO-3166 alpha-2 by the rules
            "DefaultDomain": _f(BOOL),
            "ValidFrom": _f(DATE),
            "ValidTo": _f(DATE),
            "EanLocation": _f(max_len=100),
        },
        parent="CustomerInfo",
    ),
    EntityDef(
        name="CommMethod",
        luname="CommMethod",
        table="commmethod",
        keys=("CustomerId", "CommId"),
        fields={
            "CustomerId": _f(STR, INSERT, 20),
            "CommId": _f(INT, INSERT),
            "MethodId": _f(STR, RW, 20),
            "Value": _f(max_len=200),
            "MethodDefault": _f(BOOL),
            "AddressDefault": _f(BOOL),
            "AddressId": _f(max_len=50),
            "Name": _f(max_len=100),
            "Description": _f(max_len=200),
            "ValidFrom": _f(DATE),
            "ValidTo": _f(DATE),
        },
        parent="CustomerInfo",
        indexed=("Value",),
    ),
    EntityDef(
        name="CustomerOrder",
        luname="CustomerOrder",
        table="order",
        keys=("OrderNo",),
        fields={
            "OrderNo": _f(STR, INSERT, 12),
            "CustomerNo": _f(STR, INSERT, 20),
            "CustomerName": _f(STR, RO),
            "CustomerPoNo": _f(max_len=50),
            "Contract": _f(STR, INSERT, 5),
            "Company": _f(STR, RO),
            "CurrencyCode": _f(STR, INSERT, 3),
            "WantedDeliveryDate": _f(DATETIME),
            "OrderId": _f(STR, INSERT, 3),
            "ShipAddrNo": _f(max_len=50),
            "BillAddrNo": _f(max_len=50),
            "AuthorizeCode": _f(max_len=20),
            "SalesmanCode": _f(max_len=20),
            "PayTermId": _f(max_len=20),
            "ShipViaCode": _f(max_len=3),
            "DeliveryTerms": _f(max_len=5),
            "LanguageCode": _f(max_len=2),
            "LabelNote": _f(max_len=50),
            "NoteText": _f(max_len=2000),
            "InternalPoNo": _f(max_len=50),
            "Objstate": _f(STR, RO),
            "DateEntered": _f(DATETIME, RO),
        },
        navs={
            "OrderLinesArray": "CustomerOrderLine",
            "CustomerOrderChargeArray": "CustomerOrderCharge",
        },
        refs={"CustomerNoRef": ("CustomerInfo", ("CustomerNo",))},
        indexed=("CustomerPoNo", "CustomerNo"),
        actions=("CustomerOrder_Release",),
    ),
    EntityDef(
        name="CustomerOrderLine",
        luname="CustomerOrderLine",
        table="line",
        keys=("OrderNo", "LineNo", "RelNo", "LineItemNo"),
        fields={
            "OrderNo": _f(STR, INSERT, 12),
            "LineNo": _f(STR, INSERT, 4),
            "RelNo": _f(STR, INSERT, 4),
            "LineItemNo": _f(INT, RO),
            "CatalogNo": _f(STR, INSERT, 25),
            "CatalogDesc": _f(max_len=200),
            "BuyQtyDue": _f(NUM),
            "SaleUnitPrice": _f(NUM),
            "UnitPriceInclTax": _f(NUM),
            "BaseSaleUnitPrice": _f(NUM),
            "Discount": _f(NUM),
            "SalesUnitMeas": _f(max_len=10),
            "TaxCode": _f(max_len=20),
            "WantedDeliveryDate": _f(DATETIME),
            "CustomerPoLineNo": _f(max_len=4),
            "NoteText": _f(max_len=2000),
            "Contract": _f(STR, RO),
            "CurrencyCode": _f(STR, RO),
            "Objstate": _f(STR, RO),
        },
        parent="CustomerOrder",
    ),
    EntityDef(
        name="CustomerOrderCharge",
        luname="CustomerOrderCharge",
        table="charge",
        keys=("OrderNo", "SequenceNo"),
        fields={
            "OrderNo": _f(STR, INSERT, 12),
            "SequenceNo": _f(INT, RO),
            "ChargeType": _f(STR, INSERT, 25),
            "ChargeTypeDesc": _f(max_len=100),
            "ChargeAmount": _f(NUM),
            "ChargeAmountInclTax": _f(NUM),
            "ChargedQty": _f(NUM),
            "ChargeCost": _f(NUM),
            "TaxCode": _f(max_len=20),
            "Company": _f(STR, INSERT, 20),
            "Contract": _f(STR, RO),
            "CurrencyCode": _f(STR, RO),
        },
        parent="CustomerOrder",
    ),
    EntityDef(
        name="VoucherEntryVirtual",
        luname="VoucherEntryVirtual",
        table="tempvoucher",
        keys=("Objkey",),
        fields={
            "Objkey": _f(STR, RO),
            "Company": _f(STR, INSERT, 20),
            "VoucherType": _f(max_len=3),
            "VoucherDate": _f(DATE),
            "AccountingYear": _f(INT),
            "AccountingPeriod": _f(INT),
            "VoucherStatus": _f(),
            "VoucherText2": _f(max_len=200),
            "CurrencyCode": _f(max_len=3),
            "UserGroup": _f(max_len=30),
        },
        navs={"VoucherPostingArray": "VoucherPostingVirtual"},
        actions=("VoucherEntry_CreateVoucher", "VoucherEntry_RemoveTempVoucher"),
        virtual=True,
    ),
    EntityDef(
        name="VoucherPostingVirtual",
        luname="VoucherPostingVirtual",
        table="posting",
        keys=("Objkey", "RowNo"),
        fields={
            "Objkey": _f(STR, RO),
            "RowNo": _f(INT, RO),
            "Account": _f(max_len=20),
            **_CODE_PARTS,
            "DebetAmount": _f(NUM),
            "CreditAmount": _f(NUM),
            "CurrencyDebetAmount": _f(NUM),
            "CurrencyCreditAmount": _f(NUM),
            "CurrencyRate": _f(NUM),
            "Quantity": _f(NUM),
            "OptionalCode": _f(max_len=20),
            "TaxDirection": _f(),
            "Text": _f(max_len=200),
        },
        parent="VoucherEntryVirtual",
        virtual=True,
    ),
    EntityDef(
        name="Voucher",
        luname="Voucher",
        table="voucher",
        keys=("Company", "VoucherType", "AccountingYear", "VoucherNo"),
        fields={
            "Company": _f(STR, RO),
            "VoucherType": _f(STR, RO),
            "AccountingYear": _f(INT, RO),
            "VoucherNo": _f(INT, RO),
            "AccountingPeriod": _f(INT, RO),
            "VoucherDate": _f(DATE, RO),
            "VoucherStatus": _f(STR, RO),
            "VoucherText2": _f(STR, RO),
            "CurrencyCode": _f(STR, RO),
            "UserGroup": _f(STR, RO),
            "DateReg": _f(DATETIME, RO),
            "EnteredByUserId": _f(STR, RO),
        },
        indexed=("VoucherText2",),
        insertable=False,
        updatable=False,
        deletable=False,
    ),
    EntityDef(
        name="VoucherRow",
        luname="VoucherRow",
        table="voucherrow",
        keys=("Company", "VoucherType", "AccountingYear", "VoucherNo", "RowNo"),
        fields={
            "Company": _f(STR, RO),
            "VoucherType": _f(STR, RO),
            "AccountingYear": _f(INT, RO),
            "VoucherNo": _f(INT, RO),
            "RowNo": _f(INT, RO),
            "AccountingPeriod": _f(INT, RO),
            "VoucherDate": _f(DATE, RO),
            "VoucherStatus": _f(STR, RO),
            "VoucherText2": _f(STR, RO),
            "CurrencyCode": _f(STR, RO),
            "Account": _f(STR, RO),
            **{k: FieldSpec(STR, RO) for k in _CODE_PARTS},
            "DebetAmount": _f(NUM, RO),
            "CreditAmount": _f(NUM, RO),
            "CurrencyDebetAmount": _f(NUM, RO),
            "CurrencyCreditAmount": _f(NUM, RO),
            "Quantity": _f(NUM, RO),
            "OptionalCode": _f(STR, RO),
            "Text": _f(STR, RO),
        },
        indexed=("VoucherText2",),
        insertable=False,
        updatable=False,
        deletable=False,
    ),
)


@dataclass(frozen=True)
class EntitySetDef:
    entity: str
    insertable: bool = True  # POST on the set itself (children may still be created via a nav)
    writable: bool = True  # PATCH/DELETE/actions through this set


PROJECTIONS: dict[str, dict[str, EntitySetDef]] = {
    "CustomerHandling": {"CustomerInfoSet": EntitySetDef("CustomerInfo")},
    "CustomerOrderHandling": {
        "CustomerOrderSet": EntitySetDef("CustomerOrder"),
        "CustomerOrderLineSet": EntitySetDef("CustomerOrderLine", insertable=False),
        "CustomerOrderChargeSet": EntitySetDef("CustomerOrderCharge", insertable=False),
    },
    "VoucherEntryAssistantHandling": {"VoucherSet": EntitySetDef("VoucherEntryVirtual")},
    "VoucherHandling": {"VoucherSet": EntitySetDef("Voucher", insertable=False, writable=False)},
    "VoucherRowsAnalysis": {
        "VoucherRowSet": EntitySetDef("VoucherRow", insertable=False, writable=False)
    },
}


# --------------------------------------------------------------------------------------------
# Request context and response of one OData call
# --------------------------------------------------------------------------------------------

JSON_CT = "application/json;odata.metadata=minimal;charset=utf-8"


@dataclass
class CallContext:
    """Who calls and where: the IAM client, its companies and the projection's service root."""

    client_id: str
    companies: tuple[str, ...]
    base_url: str  # http://host:port
    service_root: str  # /main/ifsapplications/projection/v1/CustomerHandling.svc
    projection: str


@dataclass
class ApiResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_CT
    entity_path: str | None = None  # relative to the service root (for $<Content-ID>)
    etag: str | None = None
