"""Drafted actions and what people decide about them.

An action (a transfer or a purchase order line) is drafted by a plan as ``proposed``; then

    proposed --edit quantity--> proposed   (planner; audited with the quantities)
    proposed --approve--> approved          (approver; re-checked inside the transaction)
    proposed --reject (reason)--> rejected  (approver)
    approved --post--> posted               (a transfer's outbound leg goes to the ledger, a
                                             purchase order line is opened)
    posted --receive--> closed              (the transfer's inbound leg, or the PO's receipt)

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
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
import polars as pl

from control_tower import ledger
from control_tower.config import Settings
from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.ledger import Movement, MovementType
from control_tower.store import Store

log = logging.getLogger(__name__)

ROLES = ("viewer", "planner", "approver", "admin")
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

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; roles are {', '.join(ROLES)}")
        if not self.name.strip():
            raise ValueError("an actor needs a name")


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
    "to_location, supplier, quantity, ship_date, arrival_date, proposed_by, explanation"
)


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


def _set_status(cur: duckdb.DuckDBPyConnection, action_id: int, status: str) -> None:
    cur.execute("UPDATE actions SET status = ? WHERE action_id = ?", [status, action_id])


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
        today = _data_today(cur) or date.today()
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


def _data_today(cur: duckdb.DuckDBPyConnection) -> date | None:
    """The data's today (``Store.as_of``), read inside the caller's transaction."""
    return cur.execute(
        "SELECT greatest((SELECT max(ts)::DATE FROM ledger), "
        "(SELECT max(date) FROM demand_history))"
    ).fetchall()[0][0]


def _editors(cur: duckdb.DuckDBPyConnection, action_id: int) -> set[str]:
    rows = cur.execute(
        "SELECT DISTINCT actor FROM action_events WHERE action_id = ? AND to_status = 'proposed'",
        [action_id],
    ).fetchall()
    return {r[0] for r in rows}


def _source_stock(cur: duckdb.DuckDBPyConnection, action: dict) -> tuple[int, int, str]:
    """Units at the transfer's source (the owner holding the most, the company first when it
    suffices), and what approved, unposted transfers from there already promise."""
    owners = cur.execute(
        "SELECT owner, sum(quantity)::BIGINT FROM ledger WHERE sku = ? AND location = ? "
        "GROUP BY owner ORDER BY (owner = 'company') DESC, sum(quantity) DESC",
        [action["sku"], action["from_location"]],
    ).fetchall()
    promised = cur.execute(
        "SELECT coalesce(sum(quantity), 0)::BIGINT FROM actions WHERE status = 'approved' "
        "AND kind = 'transfer' AND sku = ? AND from_location = ? AND action_id <> ?",
        [action["sku"], action["from_location"], action["action_id"]],
    ).fetchall()[0][0]
    if not owners:
        return 0, int(promised), "company"
    company = next((int(q) for o, q in owners if o == "company"), 0)
    if company - promised >= action["quantity"]:
        return company, int(promised), "company"
    owner, units = max(owners, key=lambda r: r[1])
    return int(units), int(promised), owner


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
        today = _data_today(cur)
        if today is not None and (today - action["as_of"]).days > settings.actions.stale_after_days:
            raise ActionRefused(
                f"action {action_id} was drafted on data as of {action['as_of']}; the data is "
                f"now as of {today}: re-plan before approving"
            )
        if action["kind"] == "transfer" and action["from_location"]:
            units, promised, _owner = _source_stock(cur, action)
            if units - promised < action["quantity"]:
                raise ActionRefused(
                    f"{action['from_location']} holds {units:,} of {action['sku']}"
                    + (f", {promised:,} already promised to approved transfers" if promised else "")
                    + f"; the transfer needs {action['quantity']:,}"
                )
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


def post(store: Store, action_id: int, actor: Actor, when: datetime | None = None) -> dict:
    """Carry out an approved action: a transfer's dispatch (``transfer_out``, now in transit),
    or a purchase order line opened with the supplier; in the same transaction as the state
    change."""
    _allow(actor, "post")
    with store.transaction() as cur:
        action = _load(cur, action_id)
        _expect(cur, action, "approved")
        shipped = when or datetime.combine(action["ship_date"], datetime.min.time())
        arrival = action["arrival_date"]
        if arrival < shipped.date():
            arrival = shipped.date() + (action["arrival_date"] - action["ship_date"])
        ref = reference(action_id)
        if action["kind"] == "transfer":
            _units, _promised, owner = _source_stock(cur, action)
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


def receive(
    store: Store,
    action_id: int,
    actor: Actor,
    when: datetime | None = None,
    quantity: int | None = None,
) -> dict:
    """Book the arrival of a posted action (the transfer's ``transfer_in``, or a receipt
    against the PO line); the action closes when all of it has arrived."""
    _allow(actor, "post")
    with store.transaction() as cur:
        action = _load(cur, action_id)
        _expect(cur, action, "posted")
        ref = reference(action_id)
        at = when or datetime.combine(action["arrival_date"], datetime.min.time()) + timedelta(
            hours=12
        )
        if action["kind"] == "transfer":
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
                        "company",
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
