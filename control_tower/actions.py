"""Drafted actions and what people decide about them.

An action (a transfer or a purchase order line) is drafted by a plan as ``proposed``, an
expedite of a late PO line or transfer by the exception engine; then

    proposed --edit quantity--> proposed   (planner; audited with the quantities)
    proposed --approve--> approved          (approver; re-checked inside the transaction)
    proposed --reject (reason)--> rejected  (approver)
    approved --post--> posted               (a transfer's outbound leg goes to the ledger, a
                                             purchase order line is opened; an expedite moves
                                             its target's expected date to the date the
                                             supplier or shipping site committed to)
    posted --receive--> closed              (the transfer's inbound leg, or the PO's receipt;
                                             an expedite closes once its target has arrived)

and a newer plan moves the proposals of the one before to ``superseded``. Every change is an
``action_events`` row (who, when, from and to, reason, quantities before and after); nothing
is deleted. Each verb is one transaction that checks the action's state inside it, so of two
people approving one action at the same time exactly one succeeds and the other is told who
did. Approval also refuses an action drafted on data older than ``stale_after_days`` and a
transfer whose source no longer holds the units (less what approved transfers already
promised). Roles are checked here, not only on screen: a planner proposes and edits, an
approver approves and rejects (never an action they proposed or edited, unless
``separation_of_duties`` is off), an admin does all; a viewer nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import duckdb
import polars as pl

from control_tower import ledger, position
from control_tower.config import Settings
from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.ledger import Movement, MovementType
from control_tower.store import Store, data_now, data_today, registered

log = logging.getLogger(__name__)

ROLES = ("viewer", "planner", "approver", "admin", "supplier")
CAN = {
    "propose": {"planner", "admin"},
    "edit": {"planner", "admin"},
    "decide": {"approver", "admin"},
    "post": {"planner", "approver", "admin"},
}
STATES = ("proposed", "approved", "rejected", "posted", "closed", "superseded")


class ActionRefused(ControlTowerError):
    """A change to an action that cannot be made now, and why."""

    title = "Action refused"


class PermissionDenied(ActionRefused):
    title = "Not allowed"


@dataclass(frozen=True)
class Actor:
    """Who acts, and with which role (from the login or the local user store)."""

    name: str
    role: str
    supplier: str | None = None  # a supplier user: the supplier it speaks for, and only it

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; roles are {', '.join(ROLES)}")
        if not self.name.strip():
            raise ValueError("an actor needs a name")
        if (self.role == "supplier") != bool(self.supplier):
            raise ValueError("a supplier user, and only one, names the supplier it speaks for")


def _allow(actor: Actor, verb: str) -> None:
    if actor.role not in CAN[verb]:
        allowed = " or ".join(sorted(CAN[verb]))
        raise PermissionDenied(f"{actor.name} is a {actor.role}; to {verb} needs {allowed}")


def _reason(reason: str | None, required: bool) -> str | None:
    text = (reason or "").strip()
    if required and not text:
        raise ActionRefused("a reason is required")
    if len(text) > 2000:
        raise ActionRefused("the reason is longer than 2,000 characters")
    return text or None


COLUMNS = (
    "action_id, created_at, kind, status, plan_run, plan_line, as_of, sku, from_location, "
    "to_location, supplier, quantity, ship_date, arrival_date, proposed_by, explanation, target, "
    "targets"
)
KINDS = ("transfer", "purchase_order", "expedite", "request_allocation")


def _load(cur: duckdb.DuckDBPyConnection, action_id: int) -> dict:
    rows = cur.execute(
        f"SELECT {COLUMNS} FROM actions WHERE action_id = ?",  # noqa: S608
        [action_id],
    ).fetchall()
    if not rows:
        raise NotFoundError(f"no action {action_id}")
    names = [c.strip() for c in COLUMNS.split(",")]
    return dict(zip(names, rows[0], strict=True))


def _last_decision(cur: duckdb.DuckDBPyConnection, action_id: int) -> tuple | None:
    rows = cur.execute(
        "SELECT actor, occurred_at, to_status FROM action_events WHERE action_id = ? "
        "ORDER BY event_id DESC LIMIT 1",
        [action_id],
    ).fetchall()
    return rows[0] if rows else None


def _expect(cur: duckdb.DuckDBPyConnection, action: dict, *states: str) -> None:
    if action["status"] in states:
        return
    last = _last_decision(cur, action["action_id"])
    by = f" by {last[0]} at {last[1]:%Y-%m-%d %H:%M}" if last else ""
    raise ActionRefused(
        f"action {action['action_id']} is already {action['status']}{by}; "
        f"this needs it {' or '.join(states)}"
    )


def _event(
    cur: duckdb.DuckDBPyConnection,
    action_id: int,
    actor: Actor,
    before: str | None,
    after: str,
    reason: str | None,
    qty_before: int | None = None,
    qty_after: int | None = None,
) -> None:
    cur.execute(
        "INSERT INTO action_events (action_id, occurred_at, actor, from_status, to_status, "
        "reason, quantity_before, quantity_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [action_id, datetime.now(), actor.name, before, after, reason, qty_before, qty_after],
    )


def record_proposed(
    cur: duckdb.DuckDBPyConnection, proposed_by: str, made: list[tuple[int, int, str]]
) -> None:
    """Inside the caller's transaction: the audit event of each action just drafted, as
    (action_id, quantity, reason) rows: who drafted it, and why."""
    if made:
        now = datetime.now()
        cur.executemany(
            "INSERT INTO action_events (action_id, occurred_at, actor, from_status, to_status, "
            "reason, quantity_before, quantity_after) VALUES (?, ?, ?, NULL, 'proposed', ?, "
            "NULL, ?)",
            [[i, now, proposed_by, reason, qty] for i, qty, reason in made],
        )


def _set_status(cur: duckdb.DuckDBPyConnection, action_id: int, status: str) -> None:
    cur.execute("UPDATE actions SET status = ? WHERE action_id = ?", [status, action_id])


def expedite_targets(action: dict) -> list[str]:
    """The PO lines or transfers an expedite chases (its ``targets``; one drafted before they
    were recorded chases its ``target`` alone)."""
    return list(action.get("targets") or ([action["target"]] if action.get("target") else []))


def chases(action: dict) -> str:
    """What an expedite chases, in words: "PO-1", "PO-1 and PO-2", "PO-1 and 8 more lines"."""
    refs = expedite_targets(action)
    if len(refs) <= 2:
        return " and ".join(refs)
    return f"{refs[0]} and {len(refs) - 1} more lines"


def describe(action: dict) -> str:
    """One line for people: what the action does, between where, and when."""
    qty = f"{action['quantity']:,} {action['sku']}"
    if action["kind"] == "expedite":
        source = action["supplier"] or action["from_location"]
        return (
            f"expedite {chases(action)}: {qty} from {source} to {action['to_location']}, "
            f"asked for by {action['arrival_date']}"
        )
    if action["kind"] == "request_allocation":
        return (
            f"request to {action['supplier']} to allocate {qty} to us, ready by "
            f"{action['arrival_date']}"
        )
    source = action["from_location"] or action["supplier"]
    return (
        f"{action['kind'].replace('_', ' ')} of {qty} from {source} to {action['to_location']}, "
        f"leaving {action['ship_date']}, arriving {action['arrival_date']}"
    )


# -- readers ---------------------------------------------------------------------------------------
def get_action(store: Store, action_id: int) -> dict:
    return _load(store.cursor(), action_id)


def list_actions(
    store: Store,
    *,
    statuses: list[str] | None = None,
    sku: str | None = None,
    location: str | None = None,
    action_ids: list[int] | None = None,
) -> pl.DataFrame:
    """Actions, newest first, filtered by status, SKU, either end's location or ids."""
    unknown = sorted(set(statuses or []) - set(STATES))
    if unknown:
        raise NotFoundError(
            f"unknown status {', '.join(unknown)}; statuses are {', '.join(STATES)}"
        )
    return store.query(
        f"SELECT {COLUMNS} FROM actions "  # noqa: S608
        "WHERE ($all_status OR status IN (SELECT unnest($statuses))) "
        "AND ($sku IS NULL OR sku = $sku) "
        "AND ($location IS NULL OR from_location = $location OR to_location = $location) "
        "AND ($all_ids OR action_id IN (SELECT unnest($ids))) "
        "ORDER BY action_id DESC",
        {
            "all_status": not statuses,
            "statuses": statuses or [""],
            "sku": sku,
            "location": location,
            "all_ids": action_ids is None,
            "ids": action_ids or [-1],
        },
    )


def action_history(store: Store, action_id: int | None = None) -> pl.DataFrame:
    """The audit trail (one action's, or all), oldest first."""
    return store.query(
        "SELECT e.event_id, e.action_id, e.occurred_at, e.actor, e.from_status, e.to_status, "
        "e.reason, e.quantity_before, e.quantity_after, a.kind, a.sku, a.from_location, "
        "a.to_location FROM action_events e JOIN actions a USING (action_id) "
        "WHERE $all OR e.action_id = $id ORDER BY e.event_id",
        {"all": action_id is None, "id": action_id if action_id is not None else -1},
    )


# -- verbs -----------------------------------------------------------------------------------------
def propose_transfer(
    store: Store,
    sku: str,
    from_location: str,
    to_location: str,
    quantity: int,
    actor: Actor,
    *,
    reason: str,
    ship_date: date | None = None,
) -> dict:
    """Draft a transfer by hand (or by the agent) as a proposed action: the lane must exist;
    it leaves on ``ship_date`` (default the data's next day) and arrives after the lane's
    transit."""
    _allow(actor, "propose")
    text = _reason(reason, required=True)
    if int(quantity) != quantity or quantity <= 0:
        raise ActionRefused(f"the quantity must be a whole number above zero, not {quantity}")
    with store.transaction() as cur:
        if not cur.execute("SELECT 1 FROM products WHERE sku = ?", [sku]).fetchall():
            raise NotFoundError(f"unknown SKU {sku!r}")
        lanes = cur.execute(
            "SELECT transit_days FROM lanes WHERE from_location = ? AND to_location = ?",
            [from_location, to_location],
        ).fetchall()
        lane = lanes[0] if lanes else None
        if lane is None:
            raise ActionRefused(f"there is no lane from {from_location!r} to {to_location!r}")
        today = _today(cur)
        leave = ship_date or today + timedelta(days=1)
        action_id = cur.execute(
            "INSERT INTO actions (created_at, kind, status, as_of, sku, from_location, "
            "to_location, quantity, ship_date, arrival_date, proposed_by, explanation) "
            "VALUES (?, 'transfer', 'proposed', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING action_id",
            [
                datetime.now(),
                today,
                sku,
                from_location,
                to_location,
                int(quantity),
                leave,
                leave + timedelta(days=int(lane[0])),
                actor.name,
                text,
            ],
        ).fetchall()[0][0]
        _event(cur, action_id, actor, None, "proposed", text, None, int(quantity))
    return get_action(store, action_id)


def edit_quantity(store: Store, action_id: int, quantity: int, actor: Actor, reason: str) -> dict:
    """Change a proposed action's quantity (audited with before and after)."""
    _allow(actor, "edit")
    text = _reason(reason, required=True)
    if int(quantity) != quantity or quantity <= 0:
        raise ActionRefused(f"the quantity must be a whole number above zero, not {quantity}")
    with store.transaction() as cur:
        action = _load(cur, action_id)
        _expect(cur, action, "proposed")
        before = action["quantity"]
        cur.execute(
            "UPDATE actions SET quantity = ? WHERE action_id = ?", [int(quantity), action_id]
        )
        _event(cur, action_id, actor, "proposed", "proposed", text, before, int(quantity))
    return get_action(store, action_id)


# -- expedites -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Inbound:
    """What is still to arrive on a PO line or a transfer, as an expedite sees it."""

    kind: str  # 'purchase_order' | 'transfer'
    reference: str
    sku: str
    source: str  # the supplier, or the shipping location
    to_location: str
    left: int  # units still to arrive
    expected_date: date


def inbound_line(cur: duckdb.DuckDBPyConnection, reference: str, sku: str) -> Inbound:
    """The open PO line (``reference`` a PO number) or transfer (a transfer id) of ``sku``:
    units still to arrive (ordered less received; shipped less received) and its date."""
    po = cur.execute(
        "SELECT supplier, location, quantity, expected_date, status FROM purchase_orders "
        "WHERE po_number = ? AND sku = ?",
        [reference, sku],
    ).fetchall()
    if po:
        supplier, location, quantity, expected, status = po[0]
        got = cur.execute(
            "SELECT coalesce(sum(quantity), 0)::BIGINT FROM ledger WHERE reference = ? "
            "AND sku = ? AND movement_type = 'receipt'",
            [reference, sku],
        ).fetchall()[0][0]
        left = int(quantity) - int(got) if status == "open" else 0
        return Inbound("purchase_order", reference, sku, supplier, location, max(left, 0), expected)
    transfer = cur.execute(
        "SELECT from_location, to_location, quantity, expected_date, status FROM transfers "
        "WHERE transfer_id = ? AND sku = ?",
        [reference, sku],
    ).fetchall()
    if not transfer:
        raise NotFoundError(f"no open purchase order line or transfer {reference!r} of {sku!r}")
    source, to_location, quantity, expected, status = transfer[0]
    legs = cur.execute(
        "SELECT coalesce(sum(CASE WHEN movement_type = 'transfer_out' THEN -quantity END), 0),"
        " coalesce(sum(CASE WHEN movement_type = 'transfer_in' THEN quantity END), 0) "
        "FROM ledger WHERE reference = ? AND sku = ?",
        [reference, sku],
    ).fetchall()[0]
    shipped, received = int(legs[0]), int(legs[1])
    left = {"planned": int(quantity), "in_transit": shipped - received}.get(status, 0)
    return Inbound("transfer", reference, sku, source, to_location, max(left, 0), expected)


BLOCKING_EXPEDITE_SQL = """
    SELECT 1 FROM actions a
    WHERE a.kind = 'expedite' AND list_contains(coalesce(a.targets, [a.target]), l.reference)
      AND a.sku = l.sku
      AND (a.status IN ('proposed', 'approved')
           OR ($decisions_stand AND a.status IN ('rejected', 'posted')
               AND a.as_of >= l.expected_date))
"""  # an expedite of line l in progress, or (for the engine) decided on data from after its
# current date: that decision stands until the line gets a new date

EXPEDITE_LINES = {
    "kind": pl.String,
    "reference": pl.String,
    "sku": pl.String,
    "source": pl.String,
    "to_location": pl.String,
    "units_left": pl.Int64,
    "expected_date": pl.Date,
    "requested": pl.Date,
    "explanation": pl.String,
}


def draft_expedites_in(
    cur: duckdb.DuckDBPyConnection,
    lines: pl.DataFrame,
    proposed_by: str,
    as_of: date,
    *,
    stale_after_days: int | None = None,
    decisions_stand: bool = True,
) -> list[int]:
    """Inside the caller's transaction: proposed expedites for ``lines`` (columns
    :data:`EXPEDITE_LINES`) asking for their units by ``requested``, leaving out a line with
    nothing left to arrive or with an expedite in progress, or (``decisions_stand``) one
    decided on data from after its current expected date. The late lines (expected by
    ``as_of``) of one SKU from one source to one location make one expedite, as a buyer
    makes one call for them: its units are theirs together, asked for by the earliest date
    any of them asks, and it chases every one (``targets``, the earliest expected first).
    A line not late yet (pulled in ahead of a stock-out) is an expedite of its own. With
    ``stale_after_days``, proposed expedites drafted on data older than that are superseded
    first (they could no longer be approved), so their lines are drafted afresh. Returns the
    new action ids."""
    if stale_after_days is not None:
        _supersede_stale_expedites(cur, proposed_by, as_of, stale_after_days)
    if lines.height == 0:
        return []
    lines = lines.select([pl.col(c).cast(t) for c, t in EXPEDITE_LINES.items()])
    with registered(cur, "expedite_lines", lines):
        rows = cur.execute(
            f"""
            SELECT {", ".join(f"l.{c}" for c in EXPEDITE_LINES)} FROM expedite_lines l
            WHERE l.units_left > 0 AND NOT EXISTS ({BLOCKING_EXPEDITE_SQL})
            """,  # noqa: S608
            {"decisions_stand": decisions_stand},
        ).fetchall()
    open_lines = pl.DataFrame(rows, schema=EXPEDITE_LINES, orient="row")
    if open_lines.height == 0:
        return []
    grouped = (
        open_lines.with_columns(
            one=pl.when(pl.col("expected_date") <= as_of)
            .then(pl.lit(""))
            .otherwise(pl.col("reference")),  # a line not late yet stays alone
        )
        .sort("expected_date", "reference")
        .group_by("kind", "source", "sku", "to_location", "one", maintain_order=True)
        .agg(
            target=pl.col("reference").first(),
            targets=pl.col("reference"),
            units=pl.col("units_left").sum(),
            requested=pl.col("requested").min(),
            explanations=pl.col("explanation"),
        )
        .sort("target", "sku")
    )
    rows = []
    for g in grouped.iter_rows(named=True):
        refs, texts = g["targets"], g["explanations"]
        text = (
            texts[0]
            if len(refs) == 1
            else (
                f"{len(refs)} late lines of {g['sku']} from {g['source']} for "
                f"{g['to_location']}, {g['units']:,} units in all: ask for them by "
                f"{g['requested']}, in one call. " + " ".join(t for t in texts if t)
            )
        )
        rows.append(
            [
                datetime.now(),
                as_of,
                g["sku"],
                g["source"] if g["kind"] == "transfer" else None,
                g["to_location"],
                g["source"] if g["kind"] == "purchase_order" else None,
                int(g["units"]),
                as_of,
                g["requested"],
                proposed_by,
                text,
                g["target"],
                list(refs),
            ]
        )
    made = []
    for row in rows:
        made += cur.execute(
            """
            INSERT INTO actions (created_at, kind, status, as_of, sku, from_location,
                to_location, supplier, quantity, ship_date, arrival_date, proposed_by,
                explanation, target, targets)
            VALUES (?, 'expedite', 'proposed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            RETURNING action_id, quantity, explanation
            """,
            row,
        ).fetchall()
    record_proposed(cur, proposed_by, made)
    return sorted(int(r[0]) for r in made)


def _supersede_stale_expedites(
    cur: duckdb.DuckDBPyConnection, actor: str, as_of: date, stale_after_days: int
) -> None:
    stale = cur.execute(
        "SELECT action_id, quantity FROM actions WHERE kind = 'expedite' AND status = "
        "'proposed' AND as_of < ?",
        [as_of - timedelta(days=stale_after_days)],
    ).fetchall()
    for action_id, quantity in stale:
        _set_status(cur, action_id, "superseded")
        _event(
            cur,
            action_id,
            Actor(actor, "planner"),
            "proposed",
            "superseded",
            f"drafted on stale data: drafted again on data as of {as_of}",
            quantity,
            quantity,
        )


def propose_expedite(
    store: Store,
    reference: str,
    sku: str,
    actor: Actor,
    *,
    reason: str,
    requested: date | None = None,
) -> dict:
    """Draft by hand (or by the agent) an expedite of an open PO line or transfer: ask for
    what is still to arrive by ``requested`` (default the data's today + 2 days)."""
    _allow(actor, "propose")
    text = _reason(reason, required=True)
    with store.transaction() as cur:
        line = inbound_line(cur, reference, sku)
        if line.left <= 0:
            raise ActionRefused(f"{reference} has nothing of {sku} left to arrive")
        today = _today(cur)
        wanted = requested or today + timedelta(days=2)
        if wanted <= today:
            raise ActionRefused(f"ask for a date after the data's today ({today}), not {wanted}")
        if wanted >= line.expected_date and line.expected_date > today:
            raise ActionRefused(
                f"{reference} is already expected on {line.expected_date}; an expedite asks "
                "for an earlier date"
            )
        row = {
            "kind": line.kind,
            "reference": line.reference,
            "sku": line.sku,
            "source": line.source,
            "to_location": line.to_location,
            "units_left": line.left,
            "expected_date": line.expected_date,
            "requested": wanted,
            "explanation": text,
        }
        made = draft_expedites_in(
            cur,
            pl.DataFrame([row], schema=EXPEDITE_LINES),
            actor.name,
            today,
            decisions_stand=False,  # a person may ask again after a rejection
        )
        if not made:
            raise ActionRefused(f"{reference} already has an expedite in progress")
    return get_action(store, made[0])


def expedite_lines(cur: duckdb.DuckDBPyConnection, action: dict) -> list[Inbound]:
    """The lines an expedite chases that still have units to arrive."""
    lines = [inbound_line(cur, ref, action["sku"]) for ref in expedite_targets(action)]
    return [line for line in lines if line.left > 0]


def _check_expedite(cur: duckdb.DuckDBPyConnection, action: dict) -> list[Inbound]:
    lines = expedite_lines(cur, action)
    if not lines:
        raise ActionRefused(
            f"{chases(action)} has nothing of {action['sku']} left to arrive: nothing to expedite"
        )
    return lines


def _today(cur: duckdb.DuckDBPyConnection, action: dict | None = None) -> date:
    """The data's today (:func:`control_tower.store.data_today`) inside the caller's
    transaction; in a store without movements or demand yet, the day ``action`` was drafted
    on. Without either there is nothing to act on."""
    today = data_today(cur) or (action["as_of"] if action else None)
    if today is None:
        raise ActionRefused("the store holds no stock movements or demand yet: nothing to act on")
    return today


def _editors(cur: duckdb.DuckDBPyConnection, action_id: int) -> set[str]:
    rows = cur.execute(
        "SELECT DISTINCT actor FROM action_events WHERE action_id = ? AND to_status = 'proposed'",
        [action_id],
    ).fetchall()
    return {r[0] for r in rows}


def _giving_owner(cur: duckdb.DuckDBPyConnection, action: dict) -> tuple[int, str]:
    """Units at the transfer's source now and the owner that gives them: the company when it
    holds enough, otherwise the owner holding the most (consigned stock at a VMI site)."""
    owners = cur.execute(
        "SELECT owner, sum(quantity)::BIGINT FROM ledger WHERE sku = ? AND location = ? "
        "GROUP BY owner ORDER BY (owner = 'company') DESC, sum(quantity) DESC",
        [action["sku"], action["from_location"]],
    ).fetchall()
    if not owners:
        return 0, "company"
    company = next((int(q) for o, q in owners if o == "company"), 0)
    if company >= action["quantity"]:
        return company, "company"
    owner, units = max(owners, key=lambda r: r[1])
    return int(units), owner


@dataclass(frozen=True)
class SourceStock:
    """What a transfer's source can give on its ship date: the stock it holds now (of the
    owner that gives most: the company's, or a supplier's consigned stock at a VMI site),
    plus inbound due there by the ship date that is not late (a late line is no promise),
    less what approved transfers out of it already promised."""

    sku: str
    location: str
    ship_date: date
    on_hand: int
    inbound: tuple[tuple[str, int, date], ...]  # (reference, units, expected date)
    promised: int

    @property
    def available(self) -> int:
        return self.on_hand + sum(units for _, units, _ in self.inbound) - self.promised

    def shortage_text(self, quantity: int) -> str:
        """Why ``quantity`` cannot leave: the figures that add up to what is there."""
        parts = [f"{self.location} holds {self.on_hand:,} of {self.sku}"]
        if self.inbound:
            due = ", ".join(f"{ref} {units:,} on {when}" for ref, units, when in self.inbound)
            parts.append(
                f"{sum(u for _, u, _ in self.inbound):,} due in by {self.ship_date} ({due})"
            )
        if self.promised:
            parts.append(f"{self.promised:,} already promised to approved transfers")
        return (
            "; ".join(parts)
            + f": {max(self.available, 0):,} can leave on {self.ship_date}, "
            + f"the transfer needs {quantity:,}"
        )

    def relies_on(self, quantity: int) -> str | None:
        """The inbound a transfer of ``quantity`` needs, in words, or None when the stock
        held now (less promises) covers it."""
        if self.on_hand - self.promised >= quantity or not self.inbound:
            return None
        due = ", ".join(f"{ref} ({units:,} due {when})" for ref, units, when in self.inbound)
        return f"relies on inbound to {self.location}: {due}"


SOURCE_STOCK_SQL = """
WITH pairs AS (SELECT DISTINCT sku, location FROM source_pairs),
owners AS (
    SELECT l.sku, l.location, l.owner, sum(l.quantity)::BIGINT AS units
    FROM ledger l JOIN pairs p ON p.sku = l.sku AND p.location = l.location
    WHERE l.ts < $cutoff
    GROUP BY ALL
),
promised AS (
    SELECT a.sku, a.from_location AS location, sum(a.quantity)::BIGINT AS units
    FROM actions a JOIN pairs p ON p.sku = a.sku AND p.location = a.from_location
    WHERE a.status = 'approved' AND a.kind = 'transfer' AND a.action_id <> $exclude
    GROUP BY ALL
)
SELECT p.sku, p.location,
       coalesce((SELECT units FROM owners o WHERE o.sku = p.sku AND o.location = p.location
                 AND o.owner = 'company'), 0) AS company,
       coalesce((SELECT max(units) FROM owners o WHERE o.sku = p.sku
                 AND o.location = p.location AND o.owner <> 'company'), 0) AS consigned,
       coalesce(pr.units, 0) AS promised
FROM pairs p LEFT JOIN promised pr USING (sku, location)
"""


def source_stock(
    store: Store, transfers: pl.DataFrame, today: date, *, exclude: int = -1
) -> list[SourceStock]:
    """Per row of ``transfers`` (sku, from_location, ship_date) its :class:`SourceStock` as of
    the data's ``today``, ignoring action ``exclude`` among the promises. Reads through the
    store's cursor, so inside a transaction it sees that transaction's writes. One read for
    all rows: a plan releases hundreds at once."""
    if transfers.height == 0:
        return []
    pairs = transfers.select("sku", pl.col("from_location").alias("location"))
    cur = store.cursor()
    with registered(cur, "source_pairs", pairs):
        held = store.query(
            SOURCE_STOCK_SQL,
            {"cutoff": data_now(today) + timedelta(seconds=1), "exclude": exclude},
        )
    stock = {(r["sku"], r["location"]): r for r in held.iter_rows(named=True)}
    due = (
        position.inbound(store, as_of=today)
        .filter(pl.col("expected_date") > today)  # a late line is no promise
        .join(pairs.unique(), left_on=["sku", "to_location"], right_on=["sku", "location"])
        .select("sku", "to_location", "reference", "remaining", "expected_date")
    )
    inbound: dict[tuple[str, str], list[tuple[str, int, date]]] = {}
    for sku, loc, ref, units, when in due.iter_rows():
        inbound.setdefault((sku, loc), []).append((ref, int(units), when))
    out = []
    for sku, loc, ship in transfers.select("sku", "from_location", "ship_date").iter_rows():
        row = stock.get((sku, loc), {"company": 0, "consigned": 0, "promised": 0})
        company, consigned = int(row["company"]), int(row["consigned"])
        coming = tuple(i for i in inbound.get((sku, loc), []) if i[2] <= ship)
        if consigned > company + sum(u for _, u, _ in coming):  # a VMI site's supplier stock
            company, coming = consigned, ()
        out.append(SourceStock(sku, loc, ship, company, coming, int(row["promised"])))
    return out


def approve(
    store: Store,
    action_id: int,
    actor: Actor,
    reason: str | None = None,
    *,
    settings: Settings | None = None,
) -> dict:
    """Approve a proposed action, re-checking inside the transaction that nobody decided it
    yet, that it is not stale and that a transfer's source still holds the units."""
    settings = settings or Settings()
    _allow(actor, "decide")
    text = _reason(reason, required=False)
    with store.transaction() as cur:
        action = _load(cur, action_id)
        _expect(cur, action, "proposed")
        if settings.actions.separation_of_duties:
            involved = {action["proposed_by"]} | _editors(cur, action_id)
            if actor.name in involved:
                raise PermissionDenied(
                    f"{actor.name} proposed or edited action {action_id}; another approver "
                    "must decide it (separation of duties)"
                )
        today = _today(cur, action)
        if (today - action["as_of"]).days > settings.actions.stale_after_days:
            raise ActionRefused(
                f"action {action_id} was drafted on data as of {action['as_of']}; the data is "
                f"now as of {today}: re-plan before approving"
            )
        if action["kind"] == "expedite":
            _check_expedite(cur, action)
        elif action["kind"] == "transfer" and action["from_location"]:
            ship = max(action["ship_date"], today)
            (source,) = source_stock(
                store,
                pl.DataFrame(
                    {
                        "sku": [action["sku"]],
                        "from_location": [action["from_location"]],
                        "ship_date": [ship],
                    }
                ),
                today,
                exclude=action_id,
            )
            if source.available < action["quantity"]:
                raise ActionRefused(source.shortage_text(action["quantity"]))
        _set_status(cur, action_id, "approved")
        _event(
            cur,
            action_id,
            actor,
            "proposed",
            "approved",
            text,
            action["quantity"],
            action["quantity"],
        )
    log.info("action %s approved by %s", action_id, actor.name)
    return get_action(store, action_id)


def approve_many(
    store: Store, action_ids: list[int], actor: Actor, *, settings: Settings | None = None
) -> list[tuple[int, str]]:
    """Approve each action on its own (one refusal does not stop the others): per action,
    ``approved`` or the reason it was refused."""
    results = []
    for action_id in action_ids:
        try:
            approve(store, action_id, actor, settings=settings)
            results.append((action_id, "approved"))
        except (ActionRefused, NotFoundError) as exc:
            results.append((action_id, exc.detail))
    return results


def reject(store: Store, action_id: int, actor: Actor, reason: str) -> dict:
    """Reject a proposed action; a reason is required."""
    _allow(actor, "decide")
    text = _reason(reason, required=True)
    with store.transaction() as cur:
        action = _load(cur, action_id)
        _expect(cur, action, "proposed")
        _set_status(cur, action_id, "rejected")
        _event(
            cur,
            action_id,
            actor,
            "proposed",
            "rejected",
            text,
            action["quantity"],
            action["quantity"],
        )
    return get_action(store, action_id)


def reference(action_id: int) -> str:
    """The transfer id or PO number an action posts under."""
    return f"ACT-{action_id}"


def post(
    store: Store,
    action_id: int,
    actor: Actor,
    when: datetime | None = None,
    *,
    committed_date: date | None = None,
) -> dict:
    """Carry out an approved action: a transfer's dispatch (``transfer_out``, now in transit),
    or a purchase order line opened with the supplier; in the same transaction as the state
    change. An expedite records the date the supplier (or shipping site) committed to,
    ``committed_date`` (default the date asked for), as its target's expected date."""
    _allow(actor, "post")
    with store.transaction() as cur:
        action = _load(cur, action_id)
        _expect(cur, action, "approved")
        if action["kind"] == "expedite":
            _post_expedite(cur, action, actor, committed_date or action["arrival_date"])
            return _load(cur, action_id)
        if action["kind"] == "request_allocation":
            _set_status(cur, action_id, "posted")
            _event(
                cur,
                action_id,
                actor,
                "approved",
                "posted",
                f"sent to {action['supplier']}: it answers in the supplier portal",
                action["quantity"],
                action["quantity"],
            )
            return _load(cur, action_id)
        today = _today(cur, action)
        now = data_now(today)
        if when is not None and when > now:
            raise ActionRefused(
                f"a posting dated {when:%Y-%m-%d %H:%M} is after the data's today ({today}) "
                "and would move it; post it without a date (it is booked now, in data time)",
                title="Posting dated in the future",
            )
        shipped = when or now
        transit = action["arrival_date"] - action["ship_date"]
        arrival = max(action["arrival_date"], shipped.date() + transit)
        ref = reference(action_id)
        if action["kind"] == "transfer":
            units, owner = _giving_owner(cur, action)
            if units < action["quantity"]:
                (source,) = source_stock(
                    store,
                    pl.DataFrame(
                        {
                            "sku": [action["sku"]],
                            "from_location": [action["from_location"]],
                            "ship_date": [action["ship_date"]],
                        }
                    ),
                    today,
                    exclude=action_id,
                )
                raise ActionRefused(
                    f"{action['from_location']} holds {units:,} of {action['sku']} now; the "
                    f"transfer needs {action['quantity']:,}"
                    + (
                        f". It {source.relies_on(action['quantity'])}: post it once that is "
                        "received"
                        if source.relies_on(action["quantity"])
                        else ""
                    ),
                    title="Not enough stock to ship",
                )
            ledger.dispatch_in(
                cur,
                ref,
                action["sku"],
                action["from_location"],
                action["to_location"],
                action["quantity"],
                ship_date=shipped,
                expected_date=arrival,
                owner=owner,
            )
        else:
            cur.execute(
                "INSERT INTO purchase_orders (po_number, sku, supplier, location, quantity, "
                "order_date, expected_date, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'open')",
                [
                    ref,
                    action["sku"],
                    action["supplier"],
                    action["to_location"],
                    action["quantity"],
                    shipped.date(),
                    arrival,
                ],
            )
        _set_status(cur, action_id, "posted")
        _event(
            cur,
            action_id,
            actor,
            "approved",
            "posted",
            f"posted as {ref}",
            action["quantity"],
            action["quantity"],
        )
    return get_action(store, action_id)


def _post_expedite(
    cur: duckdb.DuckDBPyConnection, action: dict, actor: Actor, committed: date
) -> None:
    lines = _check_expedite(cur, action)
    today = _today(cur)
    if committed < today:
        raise ActionRefused(f"the committed date {committed} is before the data's today {today}")
    for line in lines:
        if line.kind == "purchase_order":
            cur.execute(
                "UPDATE purchase_orders SET expected_date = ? WHERE po_number = ? AND sku = ?",
                [committed, line.reference, line.sku],
            )
        else:
            cur.execute(
                "UPDATE transfers SET expected_date = ? WHERE transfer_id = ?",
                [committed, line.reference],
            )
    chased = " and ".join(
        f"{line.reference} (expected {line.expected_date} before)" for line in lines
    )
    cur.execute(
        "UPDATE actions SET arrival_date = ? WHERE action_id = ?", [committed, action["action_id"]]
    )
    _set_status(cur, action["action_id"], "posted")
    _event(
        cur,
        action["action_id"],
        actor,
        "approved",
        "posted",
        f"{lines[0].source} committed to {committed} for {chased}",
        action["quantity"],
        action["quantity"],
    )


def _received_now(cur: duckdb.DuckDBPyConnection, action: dict) -> datetime:
    """When goods booked without a time arrived: now in data time (:func:`data_now`, never
    ahead of the data's today, which would move it), and not before a transfer left."""
    at = data_now(_today(cur, action))
    if action["kind"] == "transfer":
        left = cur.execute(
            "SELECT max(ts) FROM ledger WHERE reference = ? AND movement_type = 'transfer_out'",
            [reference(action["action_id"])],
        ).fetchall()[0][0]
        if left is not None and left > at:
            at = left
    return at


def receive(
    store: Store,
    action_id: int,
    actor: Actor,
    when: datetime | None = None,
    quantity: int | None = None,
) -> dict:
    """Book the arrival of a posted action (the transfer's ``transfer_in``, or a receipt
    against the PO line), at ``when`` (default: noon of the data's today, see
    :func:`_received_now`); the action closes when all of it has arrived. An expedite closes
    once its target has arrived (booked on the PO line or transfer itself)."""
    _allow(actor, "post")
    with store.transaction() as cur:
        action = _load(cur, action_id)
        _expect(cur, action, "posted")
        ref = reference(action_id)
        if when is not None and when > data_now(_today(cur, action)):
            raise ActionRefused(
                f"a receipt dated {when:%Y-%m-%d %H:%M} is after the data's today "
                f"({_today(cur, action)}) and would move it; book it without a date (now, in "
                "data time)",
                title="Receipt dated in the future",
            )
        at = when or _received_now(cur, action)
        if action["kind"] == "request_allocation":
            raise ActionRefused(
                f"{action['supplier']} answers a request for allocation in the supplier portal; "
                "nothing is received against it"
            )
        if action["kind"] == "expedite":
            left = expedite_lines(cur, action)
            if left:
                raise ActionRefused(
                    "; ".join(
                        f"{line.reference} still has {line.left:,} of {line.sku} to arrive "
                        f"(expected {line.expected_date})"
                        for line in left
                    )
                    + ": book its receipt first"
                )
            done = True
        elif action["kind"] == "transfer":
            ledger.receive_in(cur, ref, received=at, quantity=quantity)
            done = cur.execute(
                "SELECT status = 'received' FROM transfers WHERE transfer_id = ?", [ref]
            ).fetchall()[0][0]
        else:
            got = cur.execute(
                "SELECT coalesce(sum(quantity), 0)::BIGINT FROM ledger WHERE reference = ? "
                "AND movement_type = 'receipt'",
                [ref],
            ).fetchall()[0][0]
            left = action["quantity"] - int(got)
            take = left if quantity is None else int(quantity)
            if take <= 0 or take > left:
                raise ActionRefused(f"PO {ref}: cannot receive {take}; {left} still due")
            legs = cur.execute(
                "SELECT count(*) FROM ledger WHERE reference = ? AND movement_type = 'receipt'",
                [ref],
            ).fetchall()[0][0]
            # a call-off into a VMI site stays the supplier's until we consume it
            consigned = cur.execute(
                "SELECT l.kind = 'vmi' AND s.vmi FROM locations l, suppliers s "
                "WHERE l.code = ? AND s.code = ?",
                [action["to_location"], action["supplier"]],
            ).fetchall()
            owner = action["supplier"] if consigned and consigned[0][0] else "company"
            ledger.post_in(
                cur,
                [
                    Movement(
                        f"{ref}:rcv{legs + 1}",
                        at,
                        action["sku"],
                        action["to_location"],
                        MovementType.RECEIPT,
                        take,
                        owner,
                        ref,
                    )
                ],
            )
            done = take == left
            if done:
                cur.execute(
                    "UPDATE purchase_orders SET status = 'closed' WHERE po_number = ?", [ref]
                )
        if done:
            _set_status(cur, action_id, "closed")
            _event(
                cur,
                action_id,
                actor,
                "posted",
                "closed",
                "received in full",
                action["quantity"],
                action["quantity"],
            )
    return get_action(store, action_id)


# -- releasing a plan ------------------------------------------------------------------------------
def release_lines(
    store: Store, lines: pl.DataFrame, as_of: date, release_days: int
) -> pl.DataFrame:
    """Which lines of a plan made on data as of ``as_of`` become proposed actions now: those
    due in the release window (shipping, or ordered, by ``as_of + release_days``; the plan's
    first day is ``as_of + 1``) that can be carried out when due. A transfer is released
    only when its source can give the units on its ship date (:class:`SourceStock`, less
    what the lines released before it take from there, in ship-date order); a released line
    that relies on inbound says so in its reason, a line held back says why. Later lines
    stay planned: the next plan replaces them (a rolling horizon, as MRP's planned versus
    firmed orders). Returns ``lines`` (line_no, kind, sku, from_location, quantity,
    ship_date, reason, ...) with ``release_now`` and ``reason`` set."""
    due = pl.col("ship_date") <= as_of + timedelta(days=release_days)
    lines = lines.with_columns(release_now=due)
    transfers = lines.filter(due & (pl.col("kind") == "transfer")).sort("ship_date", "line_no")
    if transfers.height == 0:
        return lines
    taken: dict[tuple[str, str], int] = {}
    decided: dict[int, tuple[bool, str]] = {}
    rows = transfers.iter_rows(named=True)
    for row, source in zip(rows, source_stock(store, transfers, as_of), strict=True):
        key = (row["sku"], row["from_location"])
        earlier = taken.get(key, 0)
        left = replace(source, promised=source.promised + earlier)
        if left.available < row["quantity"]:
            decided[row["line_no"]] = (
                False,
                f"; not released: {left.shortage_text(row['quantity'])}"
                + (f" (the plan's earlier lines take {earlier:,} of it)" if earlier else ""),
            )
            continue
        taken[key] = earlier + row["quantity"]
        relies = left.relies_on(row["quantity"])
        if relies:
            decided[row["line_no"]] = (True, f"; {relies}")
    if not decided:
        return lines
    notes = pl.DataFrame(
        {
            "line_no": list(decided),
            "released": [v[0] for v in decided.values()],
            "note": [v[1] for v in decided.values()],
        },
        schema={"line_no": lines.schema["line_no"], "released": pl.Boolean, "note": pl.String},
    )
    return (
        lines.join(notes, on="line_no", how="left")
        .with_columns(
            release_now=pl.col("release_now") & pl.col("released").fill_null(True),
            reason=pl.col("reason") + pl.col("note").fill_null(""),
        )
        .drop("released", "note")
    )


def propose_plan_lines(
    cur: duckdb.DuckDBPyConnection,
    run_id: int,
    as_of: date,
    proposed_by: str,
    scope: list[str] | None,
) -> int:
    """Inside the caller's transaction (the plan run and its lines written): the run's
    released lines become proposed actions, and the actions still proposed by earlier plans
    (of the SKUs this run covers) are superseded, since nobody decided them and this run
    replaces them; decided actions are never touched. Returns how many were proposed."""
    cur.execute(
        """
        CREATE OR REPLACE TEMP TABLE superseded AS
        SELECT action_id, quantity FROM actions
        WHERE status = 'proposed' AND plan_run IS NOT NULL AND plan_run < $run
          AND ($all OR sku IN (SELECT unnest($skus)))
        """,
        {"run": run_id, "all": not scope, "skus": list(scope or [])},
    )
    cur.execute(
        """
        INSERT INTO action_events (action_id, occurred_at, actor, from_status, to_status,
            reason, quantity_before, quantity_after)
        SELECT action_id, $now, $by, 'proposed', 'superseded',
               'replaced by plan run ' || $run::VARCHAR, quantity, quantity
        FROM superseded
        """,
        {"now": datetime.now(), "by": proposed_by, "run": run_id},
    )
    cur.execute(
        "UPDATE actions SET status = 'superseded' "
        "WHERE action_id IN (SELECT action_id FROM superseded)"
    )
    cur.execute("DROP TABLE superseded")
    made = cur.execute(
        """
        INSERT INTO actions (created_at, kind, status, plan_run, plan_line, as_of, sku,
            from_location, to_location, supplier, quantity, ship_date, arrival_date,
            proposed_by)
        SELECT $now, CASE kind WHEN 'order' THEN 'purchase_order' ELSE 'transfer' END,
               'proposed', run_id, line_no, $as_of, sku, from_location, to_location, supplier,
               quantity, ship_date, arrival_date, $by
        FROM plan_lines WHERE run_id = $run AND release_now ORDER BY line_no
        RETURNING action_id, quantity
        """,
        {"now": datetime.now(), "as_of": as_of, "by": proposed_by, "run": run_id},
    ).fetchall()
    record_proposed(cur, proposed_by, [(i, q, f"drafted by plan run {run_id}") for i, q in made])
    return len(made)


# -- approval by policy ----------------------------------------------------------------------------
@dataclass(frozen=True)
class AutoApprovalResult:
    """What a pass of the auto-approval policy did: the actions it approved, and per limit
    how many proposals it left to people because of it."""

    policy: str
    approved: list[int]
    left_to_people: int
    kept_by: dict[str, int]


AUTO_CANDIDATES_SQL = """
SELECT a.action_id, a.kind, a.sku, a.from_location, a.to_location, a.supplier, a.quantity,
       a.ship_date, a.as_of, a.target, a.targets,
       a.quantity * coalesce(p.unit_cost, 0) AS value
FROM actions a LEFT JOIN products p USING (sku)
WHERE a.status = 'proposed'
ORDER BY a.ship_date, a.action_id
"""


@dataclass(frozen=True)
class Kept:
    """Why the policy leaves a proposal to people: the limit (a key of ``kept_by``), the
    breach in figures, and the money the limit guards."""

    limit: str
    why: str
    at_risk: float


def _policy_limits(
    a: dict, policy, severity: float, max_level: float | None
) -> tuple[Kept | None, str]:
    """(why ``a`` is kept for people, or None; the limits it passed, in words)."""
    value = float(a["value"])
    if a["kind"] not in policy.kinds:
        return Kept("kind", f"the policy does not approve a {a['kind']}", value), ""
    passed = []
    if a["kind"] != "expedite":  # an expedite buys nothing new
        if value > policy.max_value:
            why = f"{value:,.2f} at cost, above the policy's {policy.max_value:,.0f}"
            return Kept("value", why, value - policy.max_value), ""
        passed.append(f"value {value:,.2f} within {policy.max_value:,.0f}")
    if a["kind"] in ("transfer", "purchase_order"):
        if max_level is None or max_level <= 0:
            why = f"{a['to_location']} has no max level for {a['sku']} to check it against"
            return Kept("max level", why, value), ""
        limit = policy.max_level_share * max_level
        if a["quantity"] > limit:
            over = a["quantity"] - limit
            why = (
                f"{a['quantity']:,} units to {a['to_location']}, {over:,.0f} above "
                f"{policy.max_level_share:g} x its max level of {max_level:,.0f}"
            )
            return Kept("max level", why, over * value / max(a["quantity"], 1)), ""
        passed.append(
            f"{a['quantity']:,} units within {policy.max_level_share:g} x the max level "
            f"{max_level:,.0f} at {a['to_location']}"
        )
    if a["kind"] == "transfer" and policy.lanes is not None:
        lane = f"{a['from_location']}>{a['to_location']}"
        if lane not in policy.lanes:
            return Kept("lane", f"lane {lane} is not among the policy's lanes", value), ""
        passed.append(f"lane {lane} allowed")
    supplier = a["supplier"]
    if supplier and policy.suppliers is not None:
        if supplier not in policy.suppliers:
            why = f"supplier {supplier} is not among the policy's suppliers"
            return Kept("supplier", why, value), ""
        passed.append(f"supplier {supplier} allowed")
    if severity > policy.max_linked_severity:
        why = (
            f"serves an exception of severity {severity:,.0f}, above the policy's "
            f"{policy.max_linked_severity:,.0f}"
        )
        return Kept("linked severity", why, severity), ""
    passed.append(
        f"linked severity {severity:,.0f} within {policy.max_linked_severity:,.0f}"
        if severity
        else "linked to no exception"
    )
    return None, "; ".join(passed)


def auto_approve(
    store: Store,
    settings: Settings,
    *,
    severities: dict[int, float],
    max_levels: dict[tuple[str, str], float],
) -> AutoApprovalResult:
    """Approve by the configured policy (``[actions.auto_approve]``) every proposal within
    all its limits, as ``policy:<name>``, with the limits that passed it as the reason; the
    others stay proposed for people. ``severities``: per action the highest severity of the
    exceptions linked to it; ``max_levels``: per (sku, location) the policy's max level.
    The checks a person's approval makes hold too: nothing drafted on stale data, and a
    transfer only when its source can give the units on its ship date after every transfer
    approved before it (in ship-date order). One transaction; each action's state is
    re-read in it, so one decided meanwhile by a person is left alone. Each proposal left to
    people records why (``kept_for_people``: the limit and the breach in figures) and the
    money that limit guards (``kept_at_risk``), for the inbox."""
    policy = settings.actions.auto_approve
    actor = Actor(f"policy:{policy.name}", "approver")
    proposed = store.query(AUTO_CANDIDATES_SQL)
    if not policy.enabled or proposed.height == 0:
        return AutoApprovalResult(
            policy.name, [], proposed.height, {"switched off": 1} if not policy.enabled else {}
        )
    today = data_today(store.cursor()) or proposed["as_of"].max()
    kept: dict[str, int] = {}
    held: dict[int, Kept] = {}  # action -> why it waits for people
    passing: list[tuple[dict, str]] = []
    for a in proposed.iter_rows(named=True):
        if (today - a["as_of"]).days > settings.actions.stale_after_days:
            why = f"drafted on data as of {a['as_of']}, stale against {today}: re-plan"
            held[a["action_id"]] = Kept("stale", why, float(a["value"]))
            continue
        blocked, reason = _policy_limits(
            a,
            policy,
            severities.get(a["action_id"], 0.0),
            max_levels.get((a["sku"], a["to_location"])),
        )
        if blocked:
            held[a["action_id"]] = blocked
            continue
        passing.append((a, reason))
    transfers = pl.DataFrame(
        [a for a, _ in passing if a["kind"] == "transfer" and a["from_location"]],
        schema=proposed.schema,
    ).with_columns(ship_date=pl.max_horizontal("ship_date", pl.lit(today)))
    sources = dict(zip(transfers["action_id"], source_stock(store, transfers, today), strict=True))
    taken: dict[tuple[str, str], int] = {}
    approved: list[int] = []
    with store.transaction() as cur:
        for a, reason in passing:
            if a["action_id"] in sources:
                key = (a["sku"], a["from_location"])
                source = sources[a["action_id"]]
                left = replace(source, promised=source.promised + taken.get(key, 0))
                if left.available < a["quantity"]:
                    why = (
                        f"{a['from_location']} can give {max(left.available, 0):,} of the "
                        f"{a['quantity']:,} by {a['ship_date']} after what is promised"
                    )
                    held[a["action_id"]] = Kept("source stock", why, float(a["value"]))
                    continue
                taken[key] = taken.get(key, 0) + a["quantity"]
            if a["kind"] == "expedite" and not expedite_lines(cur, a):
                why = f"{chases(a)} has nothing of {a['sku']} left to arrive"
                held[a["action_id"]] = Kept("nothing left to expedite", why, 0.0)
                continue
            if _load(cur, a["action_id"])["status"] != "proposed":
                continue  # decided by a person meanwhile
            _set_status(cur, a["action_id"], "approved")
            _event(
                cur,
                a["action_id"],
                actor,
                "proposed",
                "approved",
                f"within policy {policy.name}: {reason}",
                a["quantity"],
                a["quantity"],
            )
            approved.append(a["action_id"])
        for why in held.values():
            kept[why.limit] = kept.get(why.limit, 0) + 1
        if held:
            cur.executemany(
                "UPDATE actions SET kept_for_people = ?, kept_at_risk = ? "
                "WHERE action_id = ? AND status = 'proposed'",
                [[w.limit + ": " + w.why, round(w.at_risk, 2), i] for i, w in held.items()],
            )
    log.info(
        "policy %s approved %d of %d proposals; kept for people: %s",
        policy.name,
        len(approved),
        proposed.height,
        kept,
    )
    return AutoApprovalResult(policy.name, approved, proposed.height - len(approved), kept)
