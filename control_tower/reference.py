"""Master data as people name it: locations, products and suppliers with their English and
Chinese names split apart (the store keeps them as one bilingual string, e.g. "Chengdu RDC
成都区域仓"). Read-only."""

from __future__ import annotations

import re

import polars as pl

from control_tower.store import Store

CJK = re.compile(r"[\u3400-\u9fff][\u3400-\u9fff0-9A-Za-z·（）()]*")


def split_name(name: str | None) -> tuple[str, str]:
    """("English part", "Chinese part") of a bilingual name; either may be empty."""
    if not name:
        return "", ""
    first = CJK.search(name)
    if first is None:
        return name.strip(), ""
    return name[: first.start()].strip(), name[first.start() :].strip()


def locations(store: Store) -> pl.DataFrame:
    """code, kind, region, name_en, name_zh, region_en, region_zh."""
    rows = store.rows("SELECT code, kind, name, region FROM locations ORDER BY code")
    out = []
    for code, kind, name, region in rows:
        en, zh = split_name(name)
        region_en, region_zh = split_name(region)
        out.append((code, kind, en, zh, region_en, region_zh))
    return pl.DataFrame(
        out,
        schema=["code", "kind", "name_en", "name_zh", "region_en", "region_zh"],
        orient="row",
    )


def products(store: Store) -> pl.DataFrame:
    """sku, name_en, name_zh, category_en, category_zh."""
    rows = store.rows("SELECT sku, name, category FROM products ORDER BY sku")
    out = [(sku, *split_name(name), *split_name(category)) for sku, name, category in rows]
    return pl.DataFrame(
        out, schema=["sku", "name_en", "name_zh", "category_en", "category_zh"], orient="row"
    )


def suppliers(store: Store) -> pl.DataFrame:
    """code, name_en, name_zh, vmi."""
    rows = store.rows("SELECT code, name, vmi FROM suppliers ORDER BY code")
    out = [(code, *split_name(name), bool(vmi)) for code, name, vmi in rows]
    return pl.DataFrame(out, schema=["code", "name_en", "name_zh", "vmi"], orient="row")
