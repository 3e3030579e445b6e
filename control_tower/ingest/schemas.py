"""What each importable entity's file looks like: columns, types, keys and references.

This is the one definition; ``data/schemas/*.json`` and the README's tables are generated
from it (``control-tower schemas --write``), and a test keeps them in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DType = Literal["str", "int", "decimal", "float", "date", "datetime", "bool"]


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    dtype: DType
    required: bool = False
    description: str = ""
    choices: tuple[str, ...] | None = None
    minimum: float | None = None  # inclusive
    positive: bool = False  # strictly greater than zero
    references: tuple[str, str] | None = None  # (entity, its key column)
    default: object | None = None
    maximum: float | None = None  # inclusive; None: the type's sane bound (see validate.py)
    not_future: bool = False  # a date of something that has happened: not after today


@dataclass(frozen=True)
class EntitySpec:
    name: str
    table: str
    description: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    date_column: str | None = None  # for the freshness range
    indexed: bool = True  # False: the table has no key index; the writer keeps the key unique
    notes: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


QTY_MAX = 1_000_000_000  # units in one row: far above any real movement, far below overflow
DAYS_MAX = 3_650  # lead and transit times, shelf life: ten years

LOCATION_KINDS = ("central_dc", "regional_dc", "store", "supplier", "vmi")
MOVEMENT_TYPES = (
    "receipt",
    "sale",
    "issue",
    "transfer_out",
    "transfer_in",
    "adjustment",
    "consignment_consume",
)
TRANSFER_STATUSES = ("planned", "in_transit", "received", "cancelled")
PO_STATUSES = ("open", "closed", "cancelled")

_LOC = ("locations", "code")
_SKU = ("products", "sku")
_SUP = ("suppliers", "code")

SPECS: dict[str, EntitySpec] = {
    "locations": EntitySpec(
        "locations",
        "locations",
        "Sites of the network: DCs, stores, supplier and VMI sites.",
        (
            ColumnSpec("code", "str", True, "unique location code, e.g. CD-RDC"),
            ColumnSpec("name", "str", True, "display name (any language)"),
            ColumnSpec("kind", "str", True, "what the site is", choices=LOCATION_KINDS),
            ColumnSpec("region", "str", description="region the site serves, e.g. 华东 / East"),
            ColumnSpec("country", "str", description="ISO country code, e.g. CN"),
            ColumnSpec("lat", "float", description="latitude, -90..90"),
            ColumnSpec("lon", "float", description="longitude, -180..180"),
            ColumnSpec("capacity", "int", description="storage capacity in units", minimum=0),
            ColumnSpec(
                "allow_negative",
                "bool",
                description="true lets on-hand go below zero",
                default=False,
            ),
        ),
        key=("code",),
    ),
    "products": EntitySpec(
        "products",
        "products",
        "The SKUs.",
        (
            ColumnSpec("sku", "str", True, "unique SKU code"),
            ColumnSpec("name", "str", True, "product name (any language)"),
            ColumnSpec("category", "str", description="category for filters and reports"),
            ColumnSpec("unit_cost", "decimal", True, "cost per unit, for stock value", minimum=0),
            ColumnSpec("price", "decimal", description="selling price per unit", minimum=0),
            ColumnSpec("unit_volume", "float", description="volume per unit (m3)", minimum=0),
            ColumnSpec(
                "shelf_life_days",
                "int",
                description="shelf life in days",
                positive=True,
                maximum=DAYS_MAX,
            ),
        ),
        key=("sku",),
    ),
    "suppliers": EntitySpec(
        "suppliers",
        "suppliers",
        "Suppliers; a VMI supplier owns the stock at its VMI site.",
        (
            ColumnSpec("code", "str", True, "unique supplier code"),
            ColumnSpec("name", "str", True, "supplier name"),
            ColumnSpec("country", "str", description="ISO country code"),
            ColumnSpec(
                "location",
                "str",
                description="the supplier's site (a location code)",
                references=_LOC,
            ),
            ColumnSpec(
                "vmi",
                "bool",
                description="true for a vendor-managed (consignment) supplier",
                default=False,
            ),
            ColumnSpec(
                "on_time_rate", "float", description="share of deliveries on time, 0..1", minimum=0
            ),
        ),
        key=("code",),
    ),
    "supplier_products": EntitySpec(
        "supplier_products",
        "supplier_products",
        "Which supplier sells which SKU, on what terms.",
        (
            ColumnSpec("supplier", "str", True, "supplier code", references=_SUP),
            ColumnSpec("sku", "str", True, "SKU", references=_SKU),
            ColumnSpec(
                "lead_time_mean_days",
                "float",
                True,
                "mean lead time in days",
                minimum=0,
                maximum=DAYS_MAX,
            ),
            ColumnSpec(
                "lead_time_std_days",
                "float",
                description="spread of the lead time (days)",
                minimum=0,
                default=0.0,
            ),
            ColumnSpec("moq", "int", description="minimum order quantity", minimum=0, default=1),
            ColumnSpec(
                "pack_size",
                "int",
                description="orders are multiples of this",
                positive=True,
                default=1,
            ),
            ColumnSpec("price", "decimal", description="purchase price per unit", minimum=0),
        ),
        key=("supplier", "sku"),
    ),
    "lanes": EntitySpec(
        "lanes",
        "lanes",
        "Transport lanes between locations.",
        (
            ColumnSpec("from_location", "str", True, "origin location code", references=_LOC),
            ColumnSpec("to_location", "str", True, "destination location code", references=_LOC),
            ColumnSpec(
                "transit_days",
                "int",
                True,
                "days from dispatch to arrival",
                minimum=0,
                maximum=DAYS_MAX,
            ),
            ColumnSpec("cost_per_unit", "decimal", True, "transport cost per unit", minimum=0),
            ColumnSpec(
                "fixed_cost", "decimal", description="fixed cost per shipment", minimum=0, default=0
            ),
            ColumnSpec("capacity", "int", description="units per shipment at most", minimum=0),
        ),
        key=("from_location", "to_location"),
    ),
    "transfers": EntitySpec(
        "transfers",
        "transfers",
        "Stock transfers between locations. Importing an in_transit or received transfer posts "
        "its ledger legs (transfer_out at ship_date, transfer_in at received_date).",
        (
            ColumnSpec("transfer_id", "str", True, "unique transfer id"),
            ColumnSpec("sku", "str", True, "SKU", references=_SKU),
            ColumnSpec("from_location", "str", True, "source location", references=_LOC),
            ColumnSpec("to_location", "str", True, "destination location", references=_LOC),
            ColumnSpec("quantity", "int", True, "units", positive=True, maximum=QTY_MAX),
            ColumnSpec("ship_date", "date", description="dispatch date (needed once shipped)"),
            ColumnSpec("expected_date", "date", True, "expected arrival date"),
            ColumnSpec(
                "received_date",
                "date",
                description="arrival date (needed once received)",
                not_future=True,
            ),
            ColumnSpec("status", "str", True, "transfer status", choices=TRANSFER_STATUSES),
        ),
        key=("transfer_id",),
        date_column="ship_date",
    ),
    "purchase_orders": EntitySpec(
        "purchase_orders",
        "purchase_orders",
        "Purchase order lines. What has arrived is the ledger's receipts whose reference is the "
        "po_number; the rest of an open line is on order.",
        (
            ColumnSpec("po_number", "str", True, "purchase order number"),
            ColumnSpec("sku", "str", True, "SKU", references=_SKU),
            ColumnSpec("supplier", "str", True, "supplier code", references=_SUP),
            ColumnSpec("location", "str", True, "delivery location", references=_LOC),
            ColumnSpec("quantity", "int", True, "units ordered", positive=True, maximum=QTY_MAX),
            ColumnSpec("order_date", "date", True, "date ordered"),
            ColumnSpec("expected_date", "date", True, "expected delivery date"),
            ColumnSpec(
                "status", "str", description="line status", choices=PO_STATUSES, default="open"
            ),
        ),
        key=("po_number", "sku"),
        date_column="order_date",
    ),
    "ledger": EntitySpec(
        "ledger",
        "ledger",
        "Stock movements. quantity is a positive number of units; the movement type gives the "
        "direction (receipt, transfer_in add; sale, issue, transfer_out, consignment_consume "
        "remove); only an adjustment may be negative. Re-importing an event id already posted "
        "with the same content is skipped.",
        (
            ColumnSpec("event_id", "str", True, "unique id of the movement (idempotency key)"),
            ColumnSpec(
                "ts",
                "datetime",
                True,
                "when it happened: YYYY-MM-DD or YYYY-MM-DD HH:MM:SS",
                not_future=True,
            ),
            ColumnSpec("sku", "str", True, "SKU", references=_SKU),
            ColumnSpec("location", "str", True, "location code", references=_LOC),
            ColumnSpec("movement_type", "str", True, "kind of movement", choices=MOVEMENT_TYPES),
            ColumnSpec(
                "quantity",
                "int",
                True,
                "units (positive; an adjustment may be negative)",
                maximum=QTY_MAX,
            ),
            ColumnSpec(
                "owner",
                "str",
                description="'company', or the supplier code owning VMI stock",
                default="company",
            ),
            ColumnSpec(
                "reference",
                "str",
                description="PO number for receipts; transfer_id for transfer legs",
            ),
            ColumnSpec("note", "str", description="free text"),
        ),
        key=("event_id",),
        date_column="ts",
        indexed=False,
    ),
    "demand": EntitySpec(
        "demand",
        "demand_history",
        "Daily demand: what customers asked for, which may exceed sales when stock ran out. "
        "Re-importing a day replaces its quantity.",
        (
            ColumnSpec("sku", "str", True, "SKU", references=_SKU),
            ColumnSpec("location", "str", True, "location code", references=_LOC),
            ColumnSpec(
                "date", "date", True, "day, YYYY-MM-DD (not in the future)", not_future=True
            ),
            ColumnSpec("quantity", "int", True, "units asked for", minimum=0, maximum=QTY_MAX),
        ),
        key=("sku", "location", "date"),
        date_column="date",
        indexed=False,
    ),
}

ENTITIES: tuple[str, ...] = tuple(SPECS)


def entity_columns(entity: str) -> list[ColumnSpec]:
    return list(spec_for(entity).columns)


def spec_for(entity: str) -> EntitySpec:
    from control_tower.errors import ControlTowerError

    try:
        return SPECS[entity]
    except KeyError:
        raise ControlTowerError(
            f"unknown entity {entity!r}; choose one of: {', '.join(ENTITIES)}",
            title="Unknown entity",
        ) from None


def as_json_schema(entity: str) -> dict:
    """A JSON-Schema-like description of one entity's file (for data/schemas/)."""
    spec = spec_for(entity)
    json_types = {
        "str": "string",
        "int": "integer",
        "decimal": "number",
        "float": "number",
        "date": "string",
        "datetime": "string",
        "bool": "boolean",
    }
    props = {}
    for c in spec.columns:
        prop: dict = {"type": json_types[c.dtype], "description": c.description}
        if c.dtype == "date":
            prop["format"] = "date"
        if c.dtype == "datetime":
            prop["format"] = "date-time"
        if c.choices:
            prop["enum"] = list(c.choices)
        if c.minimum is not None:
            prop["minimum"] = c.minimum
        if c.positive:
            prop["exclusiveMinimum"] = 0
        if c.maximum is not None:
            prop["maximum"] = c.maximum
        if c.not_future:
            prop["x-not-after-today"] = True
        if c.references:
            prop["x-references"] = f"{c.references[0]}.{c.references[1]}"
        if c.default is not None:
            prop["default"] = c.default
        props[c.name] = prop
    return {
        "title": entity,
        "description": spec.description,
        "type": "object",
        "properties": props,
        "required": list(spec.required),
        "x-key": list(spec.key),
    }
