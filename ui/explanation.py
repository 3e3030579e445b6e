"""A drafted action's explanation as a card, drawn from its record
(:class:`control_tower.explain.Explanation`): why, if nothing is done, with it, the cost with
its parts and the alternatives as small tables, and the safety stock. Without a record (an
action drafted otherwise, or explained before records were kept) the stored text is shown."""

from __future__ import annotations

import polars as pl
import streamlit as st

from control_tower.explain import Explanation, money
from ui.format import plain
from ui.widgets import keyed_table

COST_COLUMNS = {
    "part": st.column_config.TextColumn("part"),
    "working": st.column_config.TextColumn("units x a unit, or the share"),
    "amount": st.column_config.TextColumn("amount"),
}
ALTERNATIVE_COLUMNS = {
    "source": "source",
    "kind": "kind",
    "cost a unit": st.column_config.TextColumn(
        "cost a unit",
        help="as the plan compared the sources: transport, fixed costs shared over a usual "
        "load, and any price above the cheapest supplier",
    ),
    "arrives": "arrives",
    "verdict": st.column_config.TextColumn("verdict", width="large"),
}


def explanation_card(record: Explanation | None, text: str | None, *, key: str) -> None:
    """The card of ``record`` in a container keyed ``key`` (its tables ``{key}_cost`` and
    ``{key}_alternatives``); ``text`` as a caption when there is no record."""
    if record is None:
        if text:
            st.caption(plain(text))
        return
    with st.container(border=True, key=key):
        st.markdown(f"**Why**: {plain(record.why())}")
        left, right = st.columns(2)
        left.markdown(f"**If nothing is done**: {plain(record.if_nothing_done())}")
        right.markdown(f"**With it**: {plain(record.with_action())}")
        st.markdown(f"**Cost**: {plain(money(record.total_cost))}")
        keyed_table(
            pl.DataFrame(record.cost_rows(), schema=list(COST_COLUMNS)),
            key=f"{key}_cost",
            column_config=COST_COLUMNS,
        )
        if record.alternatives:
            st.markdown("**Alternatives**")
            keyed_table(
                pl.DataFrame(record.alternative_rows(), schema=list(ALTERNATIVE_COLUMNS)),
                key=f"{key}_alternatives",
                column_config=ALTERNATIVE_COLUMNS,
            )
            if record.more_alternatives:
                st.caption(
                    f"{record.more_alternatives:,} more compared, as listed with the plan's "
                    "lines on the Plan page."
                )
        if record.safety is not None:
            st.caption(
                plain(f"Safety stock at {record.safety.location}: {record.safety.sentence()}.")
            )
