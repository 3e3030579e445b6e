"""The demo network: a Chinese FMCG distributor with two years of history, imported like user data.

:func:`generate_demo` returns one polars frame per ingest entity, with exactly the file columns of
``docs/CONTRACTS.md``; :func:`build_demo` hands them to
:func:`control_tower.ingest.ingest_frames`, so the demo passes the same validation and the same
single transaction as a user's files.

What the data holds:

- a central DC in Kunshan (昆山中心仓) and ``locations - 1`` regional DCs in real cities with real
  coordinates, regions (华东, 华北, ...) and sizes; five suppliers with their own sites, one of them
  vendor-managed (VMI) with its stock in a ``vmi`` location next to the central DC, owned by the
  supplier until the central DC consumes it (寄售: consumption passes ownership);
- SKUs in six categories with bilingual names, costs, prices, volumes, shelf lives; every SKU has a
  primary supplier (price = unit cost) and some an alternative one; lanes central -> regional,
  regional <-> neighbouring regional, supplier -> central, costed from road distance and volume;
- daily demand per SKU x regional DC: weekly and yearly seasonality (stronger in the north),
  Spring Festival (stocking up, then the holiday trough), 618, Double 11, Double 12, Labour Day,
  National Day and Mid-Autumn, trends, promotions (some not told to the planners), intermittent
  and lumpy items, new launches, end-of-life items (delisted without warning), city sizes;
- a ledger from a day-by-day simulation of planners who forecast by exponential smoothing on a
  damped festival calendar and replenish by order-up-to rules (regional: transit + review + 16
  days; central: an echelon rule over lead time + review + 10 days, with
  z * sqrt(LT * sd^2 + d^2 * sd_LT^2) of safety stock): opening balances, purchase orders with
  drawn lead times (suppliers close for the Spring Festival, have bad weeks the quotes do not
  show, split some deliveries), transfers central -> regional on each DC's delivery days, weekly
  lateral transfers, VMI call-offs and consumption, sales = min(demand, stock), count corrections
  and damage write-offs. Over two years: fill rate about 99%, regional cover about 20 days,
  supplier on-time rates about 80-97%;
- at the end date (just after Double 11): open and late purchase orders (a carrier backlog, a
  typhoon at the electronics supplier), transfers in transit, regions short of SKUs that a
  neighbour holds in excess (a regional promotion was cancelled after its stock was pushed) while
  the central DC waits for a late delivery, and dead stock of delisted items (no outbound movement
  for 90+ days).

Invariants (each checked in ``tests/ingest/test_demo.py``):

- the same arguments give identical frames: every draw comes from one ``numpy`` Generator seeded
  by ``seed``; nothing reads the clock or a global random state;
- every SKU, location and supplier a row refers to exists in the master data;
- demand >= sales for every SKU x location x day, and sales = min(demand, stock on hand);
- the ledger rows plus the transfer legs the ingest posts (transfer_out at 00:00 of ship_date,
  transfer_in at 00:00 of received_date) never take on-hand below zero at any
  (sku, location, owner), in any order of same-instant rows: a dispatch is always covered by the
  sender's closing stock of the day before. Times of day order each day: transfer legs 00:00,
  purchase receipts 07:00, VMI consumption 08:00, sales 18:00, counts and write-offs 21:00; the
  opening balances are at 00:00 of the first day, when nothing is dispatched;
- quantities are whole units; file quantities are positive magnitudes, except adjustments, which
  are signed;
- demand rows exist only for days with demand > 0 (``dense_demand=True`` adds the zero days of
  each series' selling life), sales rows only for days with sales > 0.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from tqdm import tqdm

from control_tower.errors import ControlTowerError

if TYPE_CHECKING:
    from control_tower.ingest import ImportResult
    from control_tower.store import Store

__all__ = ["DEFAULT_END_DATE", "build_demo", "generate_demo", "write_demo_files"]

log = logging.getLogger(__name__)

DEFAULT_END_DATE = date(2026, 11, 15)
COMPANY = "company"
COUNTRY = "CN"

# -- calendar ----------------------------------------------------------------------------------
# Lunar holidays, checked against the `holidays` package (holidays.China).
# fmt: off
SPRING_FESTIVAL = {
    2016: date(2016, 2, 8), 2017: date(2017, 1, 28), 2018: date(2018, 2, 16),
    2019: date(2019, 2, 5), 2020: date(2020, 1, 25), 2021: date(2021, 2, 12),
    2022: date(2022, 2, 1), 2023: date(2023, 1, 22), 2024: date(2024, 2, 10),
    2025: date(2025, 1, 29), 2026: date(2026, 2, 17), 2027: date(2027, 2, 6),
    2028: date(2028, 1, 26), 2029: date(2029, 2, 13), 2030: date(2030, 2, 3),
    2031: date(2031, 1, 23), 2032: date(2032, 2, 11), 2033: date(2033, 1, 31),
    2034: date(2034, 2, 19), 2035: date(2035, 2, 8),
}
MID_AUTUMN = {
    2016: date(2016, 9, 15), 2017: date(2017, 10, 4), 2018: date(2018, 9, 24),
    2019: date(2019, 9, 13), 2020: date(2020, 10, 1), 2021: date(2021, 9, 21),
    2022: date(2022, 9, 10), 2023: date(2023, 9, 29), 2024: date(2024, 9, 17),
    2025: date(2025, 10, 6), 2026: date(2026, 9, 25), 2027: date(2027, 9, 15),
    2028: date(2028, 10, 3), 2029: date(2029, 9, 22), 2030: date(2030, 9, 12),
    2031: date(2031, 10, 1), 2032: date(2032, 9, 19), 2033: date(2033, 9, 8),
    2034: date(2034, 9, 27), 2035: date(2035, 9, 16),
}
# fmt: on
# Supplier factories and carriers close around the Spring Festival: (first, last) day offsets.
SPRING_FESTIVAL_CLOSURE = (-2, 6)

# -- the network -------------------------------------------------------------------------------
REGIONS = {
    "east": "East China 华东",
    "north": "North China 华北",
    "south": "South China 华南",
    "southwest": "Southwest 西南",
    "central": "Central China 华中",
    "northwest": "Northwest 西北",
    "northeast": "Northeast 东北",
}


@dataclass(frozen=True)
class City:
    code: str
    name: str
    name_zh: str
    region: str
    lat: float
    lon: float
    size: float  # demand relative to an average city


CENTRAL = City("KS", "Kunshan", "昆山", "east", 31.3856, 120.9802, 0.0)
# In order of use: the first seven cover all seven regions.
CITIES = (
    City("BJ", "Beijing", "北京", "north", 39.9042, 116.4074, 1.35),
    City("GZ", "Guangzhou", "广州", "south", 23.1291, 113.2644, 1.25),
    City("CD", "Chengdu", "成都", "southwest", 30.5728, 104.0668, 1.05),
    City("WH", "Wuhan", "武汉", "central", 30.5928, 114.3055, 0.95),
    City("XA", "Xi'an", "西安", "northwest", 34.3416, 108.9398, 0.80),
    City("SY", "Shenyang", "沈阳", "northeast", 41.8057, 123.4315, 0.70),
    City("HZ", "Hangzhou", "杭州", "east", 30.2741, 120.1551, 1.10),
    City("ZZ", "Zhengzhou", "郑州", "central", 34.7466, 113.6254, 0.85),
    City("CQ", "Chongqing", "重庆", "southwest", 29.5630, 106.5516, 1.00),
    City("TJ", "Tianjin", "天津", "north", 39.3434, 117.3616, 0.85),
    City("NJ", "Nanjing", "南京", "east", 32.0603, 118.7969, 0.90),
    City("JN", "Jinan", "济南", "east", 36.6512, 117.1201, 0.75),
    City("CS", "Changsha", "长沙", "central", 28.2282, 112.9388, 0.80),
    City("XM", "Xiamen", "厦门", "east", 24.4798, 118.0894, 0.60),
    City("KM", "Kunming", "昆明", "southwest", 25.0389, 102.7183, 0.65),
    City("HRB", "Harbin", "哈尔滨", "northeast", 45.8038, 126.5349, 0.60),
    City("SZ", "Shenzhen", "深圳", "south", 22.5431, 114.0579, 1.15),
    City("HF", "Hefei", "合肥", "east", 31.8206, 117.2272, 0.70),
    City("NN", "Nanning", "南宁", "south", 22.8170, 108.3665, 0.55),
    City("QD", "Qingdao", "青岛", "east", 36.0671, 120.3826, 0.70),
    City("LZ", "Lanzhou", "兰州", "northwest", 36.0611, 103.8343, 0.45),
    City("URC", "Urumqi", "乌鲁木齐", "northwest", 43.8256, 87.6168, 0.45),
    City("SJZ", "Shijiazhuang", "石家庄", "north", 38.0428, 114.5149, 0.60),
    City("TY", "Taiyuan", "太原", "north", 37.8706, 112.5489, 0.50),
    City("GY", "Guiyang", "贵阳", "southwest", 26.6470, 106.6302, 0.50),
)
MAX_LOCATIONS = len(CITIES) + 1
CENTRAL_CODE = "CDC-KS"
VMI_CODE = "VMI-KS"


@dataclass(frozen=True)
class SupplierDef:
    code: str
    name: str
    site: str  # location code of its site
    site_name: str
    city: str
    lat: float
    lon: float
    categories: tuple[str, ...]  # primary source for these categories
    lead_time: tuple[float, float]  # range of the mean lead time (days)
    lead_time_cv: float  # spread / mean
    quote_buffer: float  # quoted lead time = mean + buffer * spread (sets its on-time rate)
    order_weekdays: tuple[int, ...]  # Monday = 0
    vmi: bool = False


SUPPLIERS = (
    SupplierDef(
        code="SUP-JNB",
        name="Jiangnan Beverage Co. 江南饮品有限公司",
        site="SUP-JNB-JX",
        site_name="Jiangnan Beverage Jiaxing plant 江南饮品嘉兴工厂",
        city="Jiaxing",
        lat=30.7469,
        lon=120.7555,
        categories=("beverages",),
        lead_time=(5.0, 7.0),
        lead_time_cv=0.15,
        quote_buffer=1.6,
        order_weekdays=(0, 2, 4),
        vmi=True,
    ),
    SupplierDef(
        code="SUP-MNF",
        name="Minnan Foods Co. 闽南食品有限公司",
        site="SUP-MNF-JJ",
        site_name="Minnan Foods Jinjiang plant 闽南食品晋江工厂",
        city="Jinjiang",
        lat=24.7814,
        lon=118.5521,
        categories=("snacks",),
        lead_time=(8.0, 14.0),
        lead_time_cv=0.2,
        quote_buffer=1.4,
        order_weekdays=(1, 4),
    ),
    SupplierDef(
        code="SUP-BYC",
        name="Baiyun Daily Chemical Co. 白云日化有限公司",
        site="SUP-BYC-GZ",
        site_name="Baiyun Daily Chemical Guangzhou plant 白云日化广州工厂",
        city="Guangzhou",
        lat=23.1577,
        lon=113.2732,
        categories=("personal_care", "household"),
        lead_time=(10.0, 16.0),
        lead_time_cv=0.2,
        quote_buffer=1.3,
        order_weekdays=(0, 3),
    ),
    SupplierDef(
        code="SUP-HQE",
        name="Huaqiang Electronics Co. 华强电子有限公司",
        site="SUP-HQE-SZ",
        site_name="Huaqiang Electronics Shenzhen warehouse 华强电子深圳仓",
        city="Shenzhen",
        lat=22.5455,
        lon=114.0880,
        categories=("electronics",),
        lead_time=(14.0, 30.0),
        lead_time_cv=0.25,
        quote_buffer=0.9,
        order_weekdays=(2,),
    ),
    SupplierDef(
        code="SUP-YZC",
        name="Yangtze Consumer Goods Co. 长江日用消费品有限公司",
        site="SUP-YZC-NB",
        site_name="Yangtze Consumer Goods Ningbo warehouse 长江日用宁波仓",
        city="Ningbo",
        lat=29.8683,
        lon=121.5440,
        categories=("baby",),
        lead_time=(12.0, 28.0),
        lead_time_cv=0.2,
        quote_buffer=1.3,
        order_weekdays=(1, 4),
    ),
)
# Second sources: (supplier, categories, share of their SKUs, lead time range, price premium).
ALTERNATE_SOURCES = (("SUP-YZC", ("personal_care", "household"), 0.25, (7.0, 10.0), 0.06),)

# -- the catalogue -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    key: str
    label: str
    prefix: str
    rate: float  # units/day of a plain single item in an average city
    margin: float
    shelf_life: tuple[int, int] | None
    case_units: int
    yearly_amplitude: float
    yearly_peak_doy: int
    weekly: tuple[float, ...]
    spring_stocking: float  # extra demand in the weeks before the Spring Festival
    ecommerce: float  # sensitivity to 618 / Double 11 / Double 12
    national_day: float
    labour_day: float
    mid_autumn: float
    intermittent_share: float
    lumpy_share: float
    lines: tuple[tuple[str, str], ...]
    packs: tuple[tuple[str, str, int], ...]
    # (name, 中文名, unit cost of the first size, litres per unit, ((size, factor), ...))
    items: tuple[tuple[str, str, float, float, tuple[tuple[str, float], ...]], ...]


_OFFICE_WEEK = (1.06, 1.03, 1.0, 1.0, 1.08, 0.96, 0.87)
_WEEKEND_WEEK = (0.95, 0.95, 0.96, 1.0, 1.04, 1.1, 1.0)

CATEGORIES = (
    Category(
        key="beverages",
        label="Beverages 饮料",
        prefix="BEV",
        rate=120.0,
        margin=0.35,
        shelf_life=(270, 365),
        case_units=24,
        yearly_amplitude=0.35,
        yearly_peak_doy=200,
        weekly=_OFFICE_WEEK,
        spring_stocking=0.55,
        ecommerce=0.5,
        national_day=1.35,
        labour_day=1.2,
        mid_autumn=1.15,
        intermittent_share=0.04,
        lumpy_share=0.02,
        lines=(
            ("", ""),
            ("Zero Sugar ", "无糖"),
            ("Light ", "轻享"),
            ("Premium ", "臻选"),
            ("Honey ", "蜂蜜"),
        ),
        packs=(("", "", 1), (" x6", " 6入", 6), (" x24 case", " 24入整箱", 24)),
        items=(
            ("Green Tea", "绿茶", 1.6, 0.55, (("500ml", 1), ("1L", 1.8))),
            ("Jasmine Tea", "茉莉花茶", 1.6, 0.55, (("500ml", 1), ("1L", 1.8))),
            ("Oolong Tea", "乌龙茶", 1.9, 0.55, (("500ml", 1),)),
            ("Iced Black Tea", "冰红茶", 1.5, 0.55, (("500ml", 1), ("1L", 1.8))),
            ("Cola", "可乐", 1.3, 0.36, (("330ml", 1), ("500ml", 1.4), ("2L", 4.2))),
            ("Lemon Soda", "柠檬汽水", 1.4, 0.36, (("330ml", 1), ("500ml", 1.4))),
            ("Sparkling Water", "苏打气泡水", 2.0, 0.52, (("480ml", 1),)),
            ("Mineral Water", "矿泉水", 0.7, 0.6, (("550ml", 1), ("1.5L", 2.4))),
            ("Orange Juice", "橙汁", 2.6, 0.33, (("300ml", 1), ("1L", 2.8))),
            ("Coconut Milk", "椰汁", 2.8, 0.27, (("245ml", 1), ("1L", 3.4))),
            ("Soy Milk", "豆奶", 1.8, 0.27, (("250ml", 1),)),
            ("Walnut Milk", "核桃乳", 2.2, 0.26, (("240ml", 1),)),
            ("Sour Plum Drink", "酸梅汤", 2.0, 0.33, (("300ml", 1),)),
            ("Herbal Tea", "凉茶", 2.1, 0.34, (("310ml", 1),)),
            ("Energy Drink", "功能饮料", 3.2, 0.27, (("250ml", 1),)),
            ("Bottled Milk Tea", "瓶装奶茶", 3.5, 0.55, (("500ml", 1),)),
            ("Cold Brew Coffee", "冷萃咖啡", 4.5, 0.3, (("270ml", 1),)),
        ),
    ),
    Category(
        key="snacks",
        label="Snacks 休闲零食",
        prefix="SNK",
        rate=80.0,
        margin=0.40,
        shelf_life=(180, 270),
        case_units=20,
        yearly_amplitude=0.15,
        yearly_peak_doy=25,
        weekly=_OFFICE_WEEK,
        spring_stocking=0.8,
        ecommerce=0.8,
        national_day=1.3,
        labour_day=1.15,
        mid_autumn=1.45,
        intermittent_share=0.06,
        lumpy_share=0.03,
        lines=(
            ("", ""),
            ("Spicy ", "香辣"),
            ("Sea Salt ", "海盐"),
            ("Premium ", "臻选"),
            ("BBQ ", "烧烤味"),
        ),
        packs=(("", "", 1), (" x5", " 5袋装", 5), (" x20 case", " 20袋整箱", 20)),
        items=(
            ("Potato Chips", "薯片", 3.2, 0.9, (("70g", 1), ("150g", 1.9))),
            ("Seaweed Snack", "海苔", 4.5, 0.4, (("36g", 1),)),
            ("Spicy Strips", "辣条", 2.0, 0.25, (("100g", 1), ("260g", 2.3))),
            ("Sunflower Seeds", "瓜子", 4.0, 0.4, (("160g", 1), ("500g", 2.8))),
            ("Daily Mixed Nuts", "每日坚果", 12.0, 0.35, (("175g", 1), ("750g", 4.0))),
            ("Beef Jerky", "牛肉干", 14.0, 0.25, (("100g", 1),)),
            ("Rice Crackers", "仙贝", 3.5, 0.6, (("52g", 1), ("400g", 5.5))),
            ("Chocolate Wafers", "巧克力威化", 5.0, 0.4, (("150g", 1),)),
            ("Dried Mango", "芒果干", 5.5, 0.25, (("80g", 1),)),
            ("Pork Floss Cake", "肉松饼", 8.0, 0.6, (("200g", 1),)),
            ("Instant Noodles", "方便面", 2.2, 0.7, (("105g", 1), ("5-pack", 4.6))),
            ("Egg Rolls", "蛋卷", 6.0, 0.7, (("200g", 1),)),
            ("Sachima", "沙琪玛", 5.0, 0.6, (("260g", 1),)),
            ("Roasted Peanuts", "花生", 3.0, 0.3, (("180g", 1),)),
            ("Butter Cookies", "曲奇", 4.5, 0.4, (("100g", 1), ("400g", 3.6))),
            ("Marshmallows", "棉花糖", 3.5, 0.5, (("120g", 1),)),
        ),
    ),
    Category(
        key="personal_care",
        label="Personal Care 个人护理",
        prefix="PCA",
        rate=35.0,
        margin=0.55,
        shelf_life=(1095, 1095),
        case_units=24,
        yearly_amplitude=0.08,
        yearly_peak_doy=190,
        weekly=_OFFICE_WEEK,
        spring_stocking=0.15,
        ecommerce=1.6,
        national_day=0.9,
        labour_day=0.95,
        mid_autumn=1.0,
        intermittent_share=0.10,
        lumpy_share=0.03,
        lines=(
            ("", ""),
            ("Fresh ", "清爽"),
            ("Sensitive ", "敏感肌"),
            ("Premium ", "高端"),
            ("Herbal ", "草本"),
        ),
        packs=(("", "", 1), (" x2", " 2支装", 2), (" x12 case", " 12入箱", 12)),
        items=(
            ("Shampoo", "洗发水", 14.0, 0.45, (("400ml", 1), ("750ml", 1.7))),
            ("Conditioner", "护发素", 14.0, 0.45, (("400ml", 1),)),
            ("Body Wash", "沐浴露", 12.0, 0.55, (("500ml", 1), ("1L", 1.8))),
            ("Toothpaste", "牙膏", 5.5, 0.18, (("120g", 1), ("180g", 1.4))),
            ("Toothbrush", "牙刷", 3.0, 0.08, (("1 pc", 1), ("3 pcs", 2.6))),
            ("Facial Cleanser", "洗面奶", 16.0, 0.15, (("100g", 1),)),
            ("Moisturising Cream", "面霜", 28.0, 0.1, (("50g", 1),)),
            ("Sunscreen", "防晒霜", 25.0, 0.08, (("50ml", 1),)),
            ("Hand Cream", "护手霜", 6.0, 0.05, (("30g", 1), ("75g", 2.0))),
            ("Deodorant", "止汗露", 12.0, 0.08, (("50ml", 1),)),
            ("Razor", "剃须刀", 9.0, 0.1, (("3 blades", 1),)),
            ("Lip Balm", "润唇膏", 5.0, 0.02, (("4g", 1),)),
            ("Mouthwash", "漱口水", 9.0, 0.55, (("500ml", 1),)),
            ("Cotton Pads", "化妆棉", 4.0, 0.3, (("100 pcs", 1),)),
            ("Hand Soap", "洗手液", 6.5, 0.35, (("300ml", 1),)),
            ("Sheet Mask", "面膜", 15.0, 0.15, (("5 pcs", 1),)),
        ),
    ),
    Category(
        key="household",
        label="Household 家居清洁",
        prefix="HHD",
        rate=45.0,
        margin=0.45,
        shelf_life=(1095, 1095),
        case_units=12,
        yearly_amplitude=0.10,
        yearly_peak_doy=30,
        weekly=_OFFICE_WEEK,
        spring_stocking=0.35,
        ecommerce=1.0,
        national_day=0.85,
        labour_day=0.95,
        mid_autumn=1.0,
        intermittent_share=0.08,
        lumpy_share=0.03,
        lines=(
            ("", ""),
            ("Lemon ", "柠檬"),
            ("Lavender ", "薰衣草"),
            ("Eco ", "环保"),
            ("Antibacterial ", "抗菌"),
        ),
        packs=(("", "", 1), (" x3", " 3件装", 3), (" x12 case", " 12入箱", 12)),
        items=(
            ("Laundry Detergent", "洗衣液", 10.0, 1.1, (("1kg", 1), ("3kg", 2.6))),
            ("Laundry Pods", "洗衣凝珠", 18.0, 0.6, (("30 pcs", 1),)),
            ("Dish Soap", "洗洁精", 4.5, 0.55, (("500g", 1), ("1.5kg", 2.7))),
            ("Toilet Cleaner", "洁厕灵", 5.0, 0.55, (("500g", 1),)),
            ("Floor Cleaner", "地板清洁剂", 9.0, 1.1, (("1L", 1),)),
            ("Glass Cleaner", "玻璃清洁剂", 6.0, 0.55, (("500ml", 1),)),
            ("Facial Tissue", "抽纸", 2.0, 1.0, (("100 sheets", 1), ("6 packs", 5.6))),
            ("Kitchen Paper Towels", "厨房纸", 5.0, 2.2, (("2 rolls", 1),)),
            ("Toilet Paper", "卷纸", 12.0, 6.0, (("10 rolls", 1),)),
            ("Trash Bags", "垃圾袋", 4.0, 0.4, (("50 pcs", 1), ("100 pcs", 1.8))),
            ("Wet Wipes", "湿巾", 3.5, 0.4, (("80 pcs", 1),)),
            ("Cleaning Sponges", "海绵擦", 3.0, 0.3, (("5 pcs", 1),)),
            ("Disinfectant", "消毒液", 8.0, 1.1, (("1L", 1),)),
            ("Fabric Softener", "柔顺剂", 9.0, 1.1, (("1L", 1),)),
            ("Air Freshener", "空气清新剂", 7.0, 0.45, (("320ml", 1),)),
            ("Mosquito Repellent", "驱蚊液", 8.0, 0.08, (("50ml", 1),)),
        ),
    ),
    Category(
        key="electronics",
        label="Electronics Accessories 数码配件",
        prefix="ELA",
        rate=12.0,
        margin=0.60,
        shelf_life=None,
        case_units=10,
        yearly_amplitude=0.05,
        yearly_peak_doy=330,
        weekly=_WEEKEND_WEEK,
        spring_stocking=0.25,
        ecommerce=2.0,
        national_day=1.2,
        labour_day=1.1,
        mid_autumn=1.0,
        intermittent_share=0.30,
        lumpy_share=0.10,
        lines=(
            ("", ""),
            ("Basic ", "基础款"),
            ("Pro ", "专业版"),
            ("Mini ", "迷你"),
            ("Max ", "加强版"),
        ),
        packs=(("", "", 1), (" x2", " 2入装", 2), (" x10 box", " 10入盒", 10)),
        items=(
            ("USB-C Cable", "数据线", 6.0, 0.1, (("1m", 1), ("2m", 1.4))),
            ("Fast Charger", "快充头", 18.0, 0.15, (("20W", 1), ("65W", 2.6))),
            ("Power Bank", "充电宝", 42.0, 0.35, (("10000mAh", 1), ("20000mAh", 1.6))),
            ("Wireless Earbuds", "蓝牙耳机", 55.0, 0.25, (("", 1),)),
            ("Phone Case", "手机壳", 5.0, 0.15, (('6.1"', 1), ('6.7"', 1.1))),
            ("Screen Protector", "钢化膜", 2.5, 0.05, (('6.1"', 1), ('6.7"', 1.1))),
            ("Car Charger", "车载充电器", 15.0, 0.12, (("", 1),)),
            ("Wireless Charger", "无线充电器", 32.0, 0.3, (("15W", 1),)),
            ("Bluetooth Speaker", "蓝牙音箱", 58.0, 1.0, (("", 1),)),
            ("Smart Band", "智能手环", 85.0, 0.3, (("", 1),)),
            ("Memory Card", "存储卡", 22.0, 0.02, (("64GB", 1), ("128GB", 1.7))),
            ("USB Flash Drive", "U盘", 16.0, 0.03, (("64GB", 1), ("128GB", 1.6))),
            ("Wireless Mouse", "无线鼠标", 28.0, 0.4, (("", 1),)),
            ("Keyboard", "键盘", 55.0, 2.5, (("", 1),)),
            ("Selfie Stick", "自拍杆", 18.0, 0.5, (("", 1),)),
            ("HDMI Cable", "HDMI线", 10.0, 0.3, (("1.5m", 1), ("3m", 1.5))),
        ),
    ),
    Category(
        key="baby",
        label="Mother & Baby 母婴",
        prefix="BBY",
        rate=25.0,
        margin=0.50,
        shelf_life=(540, 730),
        case_units=6,
        yearly_amplitude=0.03,
        yearly_peak_doy=100,
        weekly=_WEEKEND_WEEK,
        spring_stocking=0.1,
        ecommerce=1.6,
        national_day=0.95,
        labour_day=1.0,
        mid_autumn=1.0,
        intermittent_share=0.15,
        lumpy_share=0.05,
        lines=(
            ("", ""),
            ("Organic ", "有机"),
            ("Premium ", "臻护"),
            ("Gentle ", "温和"),
            ("Night ", "夜用"),
        ),
        packs=(("", "", 1), (" x2", " 2件装", 2), (" x4 case", " 4包整箱", 4)),
        items=(
            ("Diapers", "纸尿裤", 48.0, 6.0, (("S", 1), ("M", 1), ("L", 1), ("XL", 1))),
            ("Pull-up Pants", "拉拉裤", 52.0, 6.0, (("L", 1), ("XL", 1))),
            ("Baby Wipes", "婴儿湿巾", 6.0, 0.5, (("80 pcs", 1),)),
            ("Infant Formula Stage 1", "婴儿配方奶粉1段", 120.0, 2.0, (("800g", 1),)),
            ("Infant Formula Stage 2", "婴儿配方奶粉2段", 115.0, 2.0, (("800g", 1),)),
            ("Infant Formula Stage 3", "婴儿配方奶粉3段", 105.0, 2.0, (("800g", 1),)),
            ("Baby Rice Cereal", "婴儿米粉", 22.0, 0.9, (("225g", 1),)),
            ("Baby Lotion", "婴儿润肤乳", 25.0, 0.25, (("200ml", 1),)),
            ("Baby Shampoo & Wash", "婴儿洗发沐浴露", 28.0, 0.35, (("300ml", 1),)),
            ("Feeding Bottle", "奶瓶", 35.0, 0.6, (("160ml", 1), ("240ml", 1.1))),
            ("Pacifier", "安抚奶嘴", 18.0, 0.15, (("", 1),)),
            ("Teether", "牙胶", 12.0, 0.1, (("", 1),)),
            ("Baby Biscuits", "婴儿饼干", 9.0, 0.3, (("60g", 1),)),
            ("Fruit Puree", "果泥", 5.0, 0.12, (("100g", 1),)),
            ("Nursing Pads", "防溢乳垫", 25.0, 1.2, (("100 pcs", 1),)),
            ("Baby Laundry Detergent", "婴儿洗衣液", 22.0, 1.1, (("1L", 1),)),
        ),
    ),
)
CATEGORY_WEIGHTS = {
    "beverages": 0.22,
    "snacks": 0.21,
    "personal_care": 0.17,
    "household": 0.15,
    "electronics": 0.13,
    "baby": 0.12,
}
LINE_COST = (1.0, 1.0, 0.95, 1.35, 1.05)
LINE_RATE = (1.0, 0.5, 0.35, 0.3, 0.25)
PACK_RATE = (1.0, 0.35, 0.12)
SIZE_RATE = 0.6  # every size after the first sells this share of the first

# -- planning parameters of the simulated planners ----------------------------------------------
PLANNER_EVENT_DAMPING = 0.6  # planners expect festival effects ** this
SMOOTHING = 0.08  # exponential smoothing of the deseasonalised demand level
Z_REGIONAL = 1.0  # ~84% cycle service at the regional DCs (fill rate ~98%)
Z_ECHELON = 1.0
REGIONAL_BUFFER_DAYS = 16  # regional order-up-to covers transit + review + this
CENTRAL_BUFFER_DAYS = 10  # the echelon order-up-to covers lead time + review + this + regional
LATERAL_WEEKDAY = 2  # planners review lateral transfers on Wednesdays
LATERAL_SHORT_DAYS = 3.0  # a regional DC below this cover asks a neighbour ...
LATERAL_DONOR_DAYS = 45.0  # ... that holds more than this, leaving it this much:
LATERAL_KEEP_DAYS = 30.0
LATERAL_FILL_DAYS = 14.0
HORIZON_PAD = 150  # days of calendar beyond the end date that planners look ahead over

# minutes of the day of each kind of ledger row (see the module invariants)
MINUTE_RECEIPT = 7 * 60
MINUTE_VMI = 8 * 60
MINUTE_SALE = 18 * 60
MINUTE_COUNT = 21 * 60


# ==============================================================================================
# public API
# ==============================================================================================


def generate_demo(
    *,
    skus: int = 300,
    locations: int = 8,
    days: int = 730,
    seed: int = 7,
    end_date: date = DEFAULT_END_DATE,
    progress: bool = False,
    dense_demand: bool = False,
) -> dict[str, pl.DataFrame]:
    """The demo network as one frame per ingest entity (keys in ``ENTITIES`` order).

    ``locations`` counts the central DC plus the regional DCs (3..26); supplier and VMI sites come
    on top. ``days`` of history end at ``end_date`` inclusive. Same arguments, same frames.
    ``dense_demand`` also writes the zero-demand days of each series' selling life.
    """
    _check_arguments(skus, locations, days)
    started = time.perf_counter()
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    start_date = end_date - timedelta(days=days - 1)
    network = _network(locations)
    catalogue = _catalogue(rng, skus)
    sourcing = _sourcing(rng, catalogue)
    model = _demand_model(rng, catalogue, network, start_date, days)
    log.info(
        "demo: %d SKUs x %d regional DCs x %d days, model ready in %.1f s",
        skus,
        locations - 1,
        days,
        time.perf_counter() - started,
    )
    sim = _Simulation(rng, catalogue, network, sourcing, model, dense_demand)
    history = sim.run(progress)
    log.info("demo: simulated in %.1f s", time.perf_counter() - started)
    frames = _frames(catalogue, network, sourcing, model, history, start_date)
    log.info(
        "demo: %s rows in %.1f s",
        ", ".join(f"{k} {v.height:,}" for k, v in frames.items()),
        time.perf_counter() - started,
    )
    return frames


def build_demo(
    store: Store,
    *,
    skus: int = 300,
    locations: int = 8,
    days: int = 730,
    seed: int = 7,
    end_date: date = DEFAULT_END_DATE,
    progress: bool = False,
    dense_demand: bool = False,
) -> dict[str, ImportResult]:
    """Generate the demo network and import it through the ordinary import path, in one
    transaction (all or nothing); then record the suppliers' stock reports, VMI levels and
    settlements through the supplier services."""
    from control_tower.ingest import ingest_frames  # the ingest package may import this module

    frames = generate_demo(
        skus=skus,
        locations=locations,
        days=days,
        seed=seed,
        end_date=end_date,
        progress=progress,
        dense_demand=dense_demand,
    )
    started = time.perf_counter()
    results = ingest_frames(store, frames, source="demo")
    from control_tower.ingest.demo_collab import seed_collaboration

    seed_collaboration(store, seed=seed)
    log.info("demo: imported in %.1f s", time.perf_counter() - started)
    return results


def write_demo_files(
    frames: Mapping[str, pl.DataFrame], directory: str | Path, *, fmt: str = "csv"
) -> list[Path]:
    """Write each frame as ``{entity}.{fmt}`` (csv or parquet): sample files a user can open,
    edit and import again. Returns the paths written."""
    if fmt not in ("csv", "parquet"):
        raise ControlTowerError(
            f"unknown file format {fmt!r}; use csv or parquet", title="Demo settings"
        )
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for entity, frame in frames.items():
        path = out / f"{entity}.{fmt}"
        if fmt == "csv":
            frame.write_csv(path, datetime_format="%Y-%m-%d %H:%M:%S", date_format="%Y-%m-%d")
        else:
            frame.write_parquet(path)
        paths.append(path)
    return paths


def _check_arguments(skus: int, locations: int, days: int) -> None:
    problems = []
    if not 10 <= skus <= 20_000:
        problems.append(f"skus must be between 10 and 20000 (got {skus})")
    if not 3 <= locations <= MAX_LOCATIONS:
        problems.append(
            f"locations (central + regional DCs) must be between 3 and "
            f"{MAX_LOCATIONS} (got {locations})"
        )
    if not 60 <= days <= 3650:
        problems.append(f"days must be between 60 and 3650 (got {days})")
    if problems:
        raise ControlTowerError("; ".join(problems), title="Demo settings")


# ==============================================================================================
# master data
# ==============================================================================================


def _road_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance (haversine, R = 6371 km) times 1.25 for the road network."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 1.25 * 2 * 6371.0 * np.arcsin(np.sqrt(a))


def _transit_days(road_km: np.ndarray) -> np.ndarray:
    """A truck covers ~800 km a day; at least one day between sites."""
    return np.maximum(1, np.ceil(road_km / 800.0)).astype(np.int64)


@dataclass
class _Network:
    cities: tuple[City, ...]  # the regional DCs, index l
    codes: list[str]  # regional DC codes
    transit: np.ndarray  # (L,) days central -> regional
    review_period: np.ndarray  # (L,) days between deliveries
    review_days: np.ndarray  # (L, 7) bool: weekdays a DC receives deliveries
    lateral: list[tuple[int, int, int, float]]  # (from, to, transit days, road km)
    central_km: np.ndarray  # (L,)
    lat: np.ndarray
    size: np.ndarray

    @property
    def count(self) -> int:
        return len(self.cities)

    @property
    def all_codes(self) -> list[str]:
        """Global location index: central, regional DCs, VMI, supplier sites."""
        return [CENTRAL_CODE, *self.codes, VMI_CODE, *(s.site for s in SUPPLIERS)]


def _network(locations: int) -> _Network:
    cities = CITIES[: locations - 1]
    lat = np.array([c.lat for c in cities])
    lon = np.array([c.lon for c in cities])
    size = np.array([c.size for c in cities])
    central_km = _road_km(np.full_like(lat, CENTRAL.lat), np.full_like(lon, CENTRAL.lon), lat, lon)
    # Big cities get a truck from the central DC twice a week, the others once, spread over
    # the week so the central DC's dock is not idle on any working day.
    weekdays = np.zeros((len(cities), 7), dtype=bool)
    for i, s in enumerate(size):
        weekdays[i, [i % 3, i % 3 + 3] if s >= 1.0 else [i % 5]] = True
    review_period = np.ceil(7.0 / weekdays.sum(axis=1)).astype(np.int64)
    km = _road_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    # Lateral lanes: each DC's two nearest neighbours, and any DC within 1000 km; both ways.
    pairs: set[tuple[int, int]] = set()
    for i in range(len(cities)):
        order = [j for j in np.argsort(km[i]) if j != i]
        for rank, j in enumerate(order):
            if rank < 2 or km[i, j] <= 1000.0:
                pairs.add((i, int(j)))
                pairs.add((int(j), i))
    lateral = [(i, j, int(_transit_days(km[i, j])), float(km[i, j])) for i, j in sorted(pairs)]
    return _Network(
        cities=cities,
        codes=[f"RDC-{c.code}" for c in cities],
        transit=_transit_days(central_km),
        review_period=review_period,
        review_days=weekdays,
        lateral=lateral,
        central_km=central_km,
        lat=lat,
        size=size,
    )


@dataclass
class _Catalogue:
    sku: list[str]
    name: list[str]
    category: np.ndarray  # (S,) index into CATEGORIES
    unit_cost: np.ndarray
    price: np.ndarray
    unit_volume: np.ndarray  # m3
    shelf_life: np.ndarray  # days, 0 = none
    pack_count: np.ndarray  # consumer units in one SKU unit
    rate: np.ndarray  # units/day in an average city, before the lifecycle

    @property
    def count(self) -> int:
        return len(self.sku)


def _catalogue(rng: np.random.Generator, skus: int) -> _Catalogue:
    """Pick ``skus`` distinct products (category x item x size x line x pack), at least one per
    category, the rest weighted by category; beyond the catalogue's size (2,025 products),
    later generations ("Gen 2 第2代") are added."""
    rows = []
    for c, cat in enumerate(CATEGORIES):
        for item_en, item_zh, cost, litres, sizes in cat.items:
            for z, (size, factor) in enumerate(sizes):
                for ln, (line_en, line_zh) in enumerate(cat.lines):
                    for p, (pack_en, pack_zh, count) in enumerate(cat.packs):
                        rows.append(
                            (
                                c,
                                item_en,
                                item_zh,
                                cost,
                                litres,
                                size,
                                factor,
                                z,
                                ln,
                                line_en,
                                line_zh,
                                p,
                                pack_en,
                                pack_zh,
                                count,
                            )
                        )
    weights = np.array([CATEGORY_WEIGHTS[CATEGORIES[r[0]].key] for r in rows])
    per_category = np.bincount([r[0] for r in rows], minlength=len(CATEGORIES))
    weights = weights / per_category[[r[0] for r in rows]]
    # one product of every category first (so every supplier has SKUs), then by weight
    category_of = np.array([r[0] for r in rows])
    first = [int(rng.choice(np.flatnonzero(category_of == c))) for c in range(len(CATEGORIES))]
    rest = weights.copy()
    rest[first] = 0.0
    picked = rng.choice(
        len(rows), size=min(skus, len(rows)) - len(first), replace=False, p=rest / rest.sum()
    )
    chosen: list[tuple[int, int]] = [(i, 1) for i in [*first, *map(int, picked)]]
    generation = 2  # beyond the catalogue: later generations of the same products
    while len(chosen) < skus:
        take = min(skus - len(chosen), len(rows))
        picked = rng.choice(len(rows), size=take, replace=False, p=weights / weights.sum())
        chosen.extend((int(i), generation) for i in picked)
        generation += 1
    chosen.sort(key=lambda rg: (rows[rg[0]][0], rg[0], rg[1]))

    counters = [0] * len(CATEGORIES)
    sku, name = [], []
    category, unit_cost, price, volume, shelf, packs, rate = [], [], [], [], [], [], []
    noise = rng.lognormal(0.0, 0.8, size=len(chosen))
    margin_noise = rng.uniform(-0.08, 0.08, size=len(chosen))
    shelf_draw = rng.uniform(size=len(chosen))
    for k, (i, gen) in enumerate(chosen):
        (
            c,
            item_en,
            item_zh,
            cost,
            litres,
            size,
            factor,
            z,
            ln,
            line_en,
            line_zh,
            p,
            pack_en,
            pack_zh,
            count,
        ) = rows[i]
        cat = CATEGORIES[c]
        counters[c] += 1
        sku.append(f"{cat.prefix}-{counters[c]:04d}")
        size_text = f" {size}" if size else ""
        gen_en, gen_zh = (f" Gen {gen}", f" 第{gen}代") if gen > 1 else ("", "")
        name.append(
            f"{line_en}{item_en}{size_text}{pack_en}{gen_en} {line_zh}{item_zh}{pack_zh}{gen_zh}"
        )
        category.append(c)
        each = cost * factor**0.85 * LINE_COST[ln] * count * (0.93 if count > 1 else 1.0)
        unit_cost.append(round(each, 2))
        price.append(round(each * (1 + cat.margin + margin_noise[k]), 2))
        volume.append(round(litres * factor * count * 1.1 / 1000.0, 5))
        if cat.shelf_life is None:
            shelf.append(0)
        else:
            lo, hi = cat.shelf_life
            shelf.append(int(lo + round((hi - lo) * shelf_draw[k] / 30.0) * 30))
        packs.append(count)
        rate.append(
            cat.rate
            * LINE_RATE[ln]
            * PACK_RATE[p]
            * (SIZE_RATE if z else 1.0)
            * noise[k]
            / (1.0 + 0.5 * (gen - 1))
        )
    return _Catalogue(
        sku,
        name,
        np.array(category),
        np.array(unit_cost),
        np.array(price),
        np.array(volume),
        np.array(shelf),
        np.array(packs),
        np.array(rate),
    )


@dataclass
class _Sourcing:
    supplier: np.ndarray  # (S,) index into SUPPLIERS: the primary source
    lead_time_mean: np.ndarray  # (S,) days
    lead_time_std: np.ndarray  # (S,)
    quoted: np.ndarray  # (S,) days the supplier promises
    moq: np.ndarray
    pack_size: np.ndarray
    is_vmi: np.ndarray  # (S,) bool
    order_days: np.ndarray  # (S, 7) bool
    review_period: np.ndarray  # (S,) days between orders
    alternates: pl.DataFrame  # supplier_products rows of second sources (sku index, ...)


def _sourcing(rng: np.random.Generator, cat: _Catalogue) -> _Sourcing:
    by_category = {c: i for i, sup in enumerate(SUPPLIERS) for c in sup.categories}
    supplier = np.array([by_category[CATEGORIES[c].key] for c in cat.category])
    lo = np.array([SUPPLIERS[s].lead_time[0] for s in supplier])
    hi = np.array([SUPPLIERS[s].lead_time[1] for s in supplier])
    mean = np.round(rng.uniform(lo, hi) * 2) / 2
    cv = np.array([SUPPLIERS[s].lead_time_cv for s in supplier])
    std = np.round(mean * cv * rng.uniform(0.7, 1.3, size=len(mean)), 1)
    buffer = np.array([SUPPLIERS[s].quote_buffer for s in supplier])
    quoted = np.ceil(mean + buffer * std).astype(np.int64)
    case_units = np.array([CATEGORIES[c].case_units for c in cat.category])
    pack_size = np.maximum(1, np.round(case_units / cat.pack_count)).astype(np.int64)
    # MOQ: about half a week of network demand, in whole cases, at least one case.
    weekly_cases = cat.rate * 7.0 * 6.0 / pack_size
    moq = (
        pack_size * np.clip(np.round(weekly_cases * rng.uniform(0.3, 0.8, len(mean))), 1, 40)
    ).astype(np.int64)
    order_days = np.zeros((len(supplier), 7), dtype=bool)
    for i, sup in enumerate(SUPPLIERS):
        order_days[np.ix_(supplier == i, list(sup.order_weekdays))] = True
    review = np.ceil(7.0 / order_days.sum(axis=1)).astype(np.int64)
    is_vmi = np.array([SUPPLIERS[s].vmi for s in supplier])

    alt_rows = []
    codes = [s.code for s in SUPPLIERS]
    for code, cats, share, (lt_lo, lt_hi), premium in ALTERNATE_SOURCES:
        in_scope = np.flatnonzero(np.isin([CATEGORIES[c].key for c in cat.category], cats))
        pick = in_scope[rng.uniform(size=len(in_scope)) < share]
        lt = np.round(rng.uniform(lt_lo, lt_hi, size=len(pick)) * 2) / 2
        alt_rows.append(
            pl.DataFrame(
                {
                    "sku_index": pick.astype(np.int64),
                    "supplier": [code] * len(pick),
                    "lead_time_mean_days": lt,
                    "lead_time_std_days": np.round(lt * 0.15, 1),
                    "moq": moq[pick],
                    "pack_size": pack_size[pick],
                    "price": np.round(cat.unit_cost[pick] * (1 + premium), 2),
                }
            )
        )
        assert code in codes
    return _Sourcing(
        supplier, mean, std, quoted, moq, pack_size, is_vmi, order_days, review, pl.concat(alt_rows)
    )


# ==============================================================================================
# the demand model
# ==============================================================================================


@dataclass
class _DemandModel:
    """lambda[s, l, d] = base[s, l] * calendar[c(s), l, d] * sku_factor[s, d] (* end-game effects);
    the planners plan with ``planner_calendar`` and ``known_factor`` (promotions told to them,
    launches; not delistings, not the trend, which their smoothing has to find)."""

    days: int
    dates: np.ndarray  # datetime64[D], days + HORIZON_PAD
    base: np.ndarray  # (S, L) units/day
    calendar: np.ndarray  # (C, L, N)
    planner_calendar: np.ndarray  # (C, L, N) what the planners expect of it
    sku_factor: np.ndarray  # (S, N) trend x promotions x lifecycle
    known_factor: np.ndarray  # (S, N) promotions told to planners x lifecycle
    dispersion: np.ndarray  # (S,) gamma shape: smaller is more erratic
    lumpy_probability: np.ndarray  # (S,) daily chance of a bulk order per DC (0 = none)
    lumpy_size: np.ndarray  # (S,) mean bulk order
    launch_day: np.ndarray  # (S,) first day with demand (0 for items older than the history)
    eol_day: np.ndarray  # (S,) first day without demand (>= days when not ending)
    spring_festivals: list[int]  # day indices
    # end-game imbalance: the short DC's SKUs surge, the long neighbour's drop
    imbalance_sku: np.ndarray
    imbalance_short: np.ndarray
    imbalance_long: np.ndarray

    @property
    def horizon(self) -> int:
        return self.calendar.shape[2]

    def lifecycle_active(self, d: int) -> np.ndarray:
        return (self.launch_day <= d) & (d < self.eol_day)


def _day_offsets(dates: np.ndarray, events: list[date]) -> list[np.ndarray]:
    return [(dates - np.datetime64(e, "D")).astype(np.int64) for e in events]


def _calendar(dates: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(C, L, N) multipliers: weekday x season x festivals, mean about 1 over a year; and the
    planners' version of it."""
    n = len(dates)
    years = range(int(str(dates[0])[:4]), int(str(dates[-1])[:4]) + 1)
    missing = [y for y in years if y not in SPRING_FESTIVAL]
    if missing:
        raise ControlTowerError(
            f"the demo calendar covers {min(SPRING_FESTIVAL)}-"
            f"{max(SPRING_FESTIVAL)}, not {missing}",
            title="Demo settings",
        )
    weekday = ((dates - np.datetime64("1970-01-05", "D")).astype(np.int64)) % 7  # Monday = 0
    doy = (dates - dates.astype("datetime64[Y]")).astype(np.int64) + 1
    weekly = np.array([c.weekly for c in CATEGORIES])
    weekly = weekly / weekly.mean(axis=1, keepdims=True)
    amp = np.array([c.yearly_amplitude for c in CATEGORIES])[:, None] * (
        0.6 + 0.4 * np.clip((lat[None, :] - 20.0) / 20.0, 0.0, 1.5)
    )  # stronger up north
    peak = np.array([c.yearly_peak_doy for c in CATEGORIES])
    season = 1 + amp[:, :, None] * np.cos(
        2 * np.pi * (doy[None, None, :] - peak[:, None, None]) / 365.25
    )
    events = np.ones((len(CATEGORIES), n))
    cat = {
        k: np.array([getattr(c, k) for c in CATEGORIES])
        for k in ("spring_stocking", "ecommerce", "national_day", "labour_day", "mid_autumn")
    }

    def apply(off: np.ndarray, lo: int, hi: int, factor: np.ndarray | float) -> None:
        mask = (off >= lo) & (off <= hi)
        if mask.any():  # factor: one number, or one per category
            events[:, mask] *= np.reshape(factor, (-1, 1)) if np.ndim(factor) else factor

    for off in _day_offsets(dates, [SPRING_FESTIVAL[y] for y in years]):
        ramp = np.clip((off + 25) / 15.0, 0.0, 1.0)  # stocking up for the New Year (年货)
        m = (off >= -24) & (off <= -4)
        events[:, m] *= 1 + cat["spring_stocking"][:, None] * ramp[None, m]
        apply(off, -3, -1, 0.55)  # shops and carriers wind down
        apply(off, 0, 6, 0.25)  # the holiday week
        m = (off >= 7) & (off <= 20)
        events[:, m] *= (0.45 + 0.55 * (off[m] - 6) / 14.0)[None, :]
    for scale, month_day in ((1.0, (11, 11)), (0.6, (6, 18))):  # Double 11 and 618
        for off in _day_offsets(dates, [date(y, *month_day) for y in years]):
            s = cat["ecommerce"] * scale
            apply(off, -20, -12, 1 + 0.15 * s)
            apply(off, -11, -1, 1 + 0.35 * s)
            apply(off, 0, 0, 1 + 1.8 * s)
            apply(off, 1, 3, 1 + 0.5 * s)
            apply(off, 4, 12, 0.85)
    for off in _day_offsets(dates, [date(y, 12, 12) for y in years]):  # Double 12
        apply(off, 0, 0, 1 + 0.4 * cat["ecommerce"])
    for off in _day_offsets(dates, [date(y, 10, 1) for y in years]):  # National Day, Golden Week
        apply(off, -6, -1, 1 + 0.5 * (cat["national_day"] - 1))
        apply(off, 0, 6, cat["national_day"])
    for off in _day_offsets(dates, [date(y, 5, 1) for y in years]):  # Labour Day
        apply(off, 0, 4, cat["labour_day"])
    for off in _day_offsets(dates, [MID_AUTUMN[y] for y in years]):  # mooncakes and gifts
        apply(off, -14, -1, cat["mid_autumn"])
        apply(off, 0, 1, 0.85)
    routine = weekly[:, weekday][:, None, :] * season
    # the planners' calendar: festival effects damped (they under-call peaks and troughs)
    known = routine * (events**PLANNER_EVENT_DAMPING)[:, None, :]
    return routine * events[:, None, :], known


def _step_profile(
    shape: tuple[int, int],
    rows: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    log_factor: np.ndarray,
) -> np.ndarray:
    """exp of a sum of log factors over [start, end) intervals, per row (vectorised)."""
    acc = np.zeros((shape[0], shape[1] + 1))
    np.add.at(acc, (rows, np.clip(starts, 0, shape[1])), log_factor)
    np.add.at(acc, (rows, np.clip(ends, 0, shape[1])), -log_factor)
    return np.exp(np.cumsum(acc, axis=1)[:, : shape[1]])


def _demand_model(
    rng: np.random.Generator, cat: _Catalogue, net: _Network, start: date, days: int
) -> _DemandModel:
    s_count, n = cat.count, days + HORIZON_PAD
    dates = np.datetime64(start, "D") + np.arange(n)
    calendar, planner_calendar = _calendar(dates, net.lat)

    # Item classes: smooth, intermittent (slow movers) and lumpy (occasional bulk orders).
    u = rng.uniform(size=s_count)
    inter_share = np.array([CATEGORIES[c].intermittent_share for c in cat.category])
    lumpy_share = np.array([CATEGORIES[c].lumpy_share for c in cat.category])
    intermittent = u < inter_share
    lumpy = (u >= inter_share) & (u < inter_share + lumpy_share)
    rate = cat.rate.copy()
    rate[intermittent] = rng.uniform(0.05, 0.6, size=intermittent.sum())
    rate[lumpy] = rng.uniform(0.1, 0.5, size=lumpy.sum())
    lumpy_probability = np.where(lumpy, rng.uniform(0.02, 0.07, size=s_count), 0.0)
    lumpy_size = np.where(lumpy, rng.uniform(10, 60, size=s_count), 0.0)
    dispersion = np.where(
        intermittent | lumpy,
        rng.uniform(0.6, 2.0, size=s_count),
        rng.uniform(4.0, 25.0, size=s_count),
    )

    # Regional assortments and tastes: a few SKUs are not sold in a region at all.
    affinity = rng.lognormal(0.0, 0.15, size=(len(CATEGORIES), net.count))
    ranged = rng.uniform(size=(s_count, net.count)) >= 0.03
    ranged[np.arange(s_count), rng.integers(0, net.count, size=s_count)] = True
    base = (
        rate[:, None]
        * net.size[None, :]
        * affinity[cat.category]
        * rng.lognormal(0.0, 0.3, size=(s_count, net.count))
        * ranged
    )

    # Lifecycle: launches during the history, end-of-life items that stop selling.
    d_idx = np.arange(n)
    launch_day = np.zeros(s_count, dtype=np.int64)
    eol_day = np.full(s_count, n + 1, dtype=np.int64)
    order = rng.permutation(s_count)
    n_launch = max(1, round(0.08 * s_count))
    n_eol = max(2, round(0.06 * s_count))
    launched, ending = order[:n_launch], order[n_launch : n_launch + n_eol]
    launch_day[launched] = rng.integers(
        int(days * 0.3), max(int(days * 0.3) + 1, days - 45), size=n_launch
    )
    # half of them ended long ago (dead stock), half recently (ageing stock)
    dead_hi = max(10, days - 95)
    dead_lo = min(max(20, days // 5), dead_hi)
    half = (n_eol + 1) // 2
    eol_day[ending[:half]] = rng.integers(dead_lo, dead_hi + 1, size=half)
    recent_lo = max(10, dead_hi, days - 80)
    eol_day[ending[half:]] = rng.integers(recent_lo, max(recent_lo + 1, days - 30), n_eol - half)
    ramp = rng.uniform(21, 60, size=s_count)
    launch_ramp = np.where(
        launch_day[:, None] > 0,
        np.clip((d_idx[None, :] - launch_day[:, None] + 1) / ramp[:, None], 0.0, 1.0),
        1.0,
    )
    to_end = eol_day[:, None] - d_idx[None, :]  # sales fade over a month, then stop
    fading = np.where(to_end <= 0, 0.0, np.where(to_end <= 30, 0.35 + 0.65 * to_end / 30.0, 1.0))

    # Trend: -50%..+80% a year, around +4%.
    growth = np.clip(rng.normal(0.04, 0.18, size=s_count), -0.5, 0.8)
    trend = np.exp(growth[:, None] * (d_idx[None, :] - days / 2) / 365.25)

    # Promotions: about three a year per SKU, 5-12 days, +30%..+120%, a dip of 15% after;
    # three in ten are run by sales without telling the planners.
    count = rng.poisson(3.0 * n / 365.0, size=s_count)
    rows = np.repeat(np.arange(s_count), count)
    starts = rng.integers(0, n, size=len(rows))
    length = rng.integers(5, 13, size=len(rows))
    lift = np.log(rng.uniform(1.3, 2.2, size=len(rows)))
    told = rng.uniform(size=len(rows)) < 0.7
    dip = np.full(len(rows), np.log(0.85))
    promo = _step_profile((s_count, n), rows, starts, starts + length, lift)
    promo *= _step_profile((s_count, n), rows, starts + length, starts + length + 7, dip)
    promo_known = _step_profile(
        (s_count, n), rows[told], starts[told], (starts + length)[told], lift[told]
    )

    # The end-game imbalance: one regional DC's demand surges for some SKUs while its nearest
    # neighbour's drops (a regional promotion moved), and the central DC waits on a late PO.
    steady = np.flatnonzero(~intermittent & ~lumpy & (launch_day == 0) & (eol_day > n))
    n_imb = min(len(steady), max(2, round(0.06 * s_count)))
    imbalance_sku = rng.choice(steady, size=n_imb, replace=False)
    short = rng.integers(0, net.count, size=n_imb)
    nearest = {}
    for i, j, _, km in net.lateral:
        if i not in nearest or km < nearest[i][1]:
            nearest[i] = (j, km)
    long_ = np.array([nearest[int(a)][0] for a in short])
    base[imbalance_sku, short] = np.maximum(base[imbalance_sku, short], 2.0)
    base[imbalance_sku, long_] = np.maximum(base[imbalance_sku, long_], 2.0)

    sf_days = [
        int((np.datetime64(SPRING_FESTIVAL[y], "D") - dates[0]).astype(np.int64))
        for y in SPRING_FESTIVAL
        if dates[0] <= np.datetime64(SPRING_FESTIVAL[y]) <= dates[-1]
    ]
    return _DemandModel(
        days=days,
        dates=dates,
        base=base,
        calendar=calendar,
        planner_calendar=planner_calendar,
        sku_factor=trend * promo * launch_ramp * fading,
        known_factor=promo_known * launch_ramp,  # nobody tells the planners about a delisting
        dispersion=dispersion,
        lumpy_probability=lumpy_probability,
        lumpy_size=lumpy_size,
        launch_day=launch_day,
        eol_day=eol_day,
        spring_festivals=sf_days,
        imbalance_sku=imbalance_sku,
        imbalance_short=short,
        imbalance_long=long_,
    )


# ==============================================================================================
# the simulation
# ==============================================================================================


def _supplier_troubles(rng: np.random.Generator, days: int) -> np.ndarray:
    """(suppliers, days) extra lead time of orders placed that day: each supplier has about
    1.5 episodes a year (a material shortage, a line down) of 2-5 weeks, adding 5-15 days
    that the quoted dates do not show."""
    extra = np.zeros((len(SUPPLIERS), days), dtype=np.int64)
    for s in range(len(SUPPLIERS)):
        for _ in range(rng.poisson(1.5 * days / 365.0)):
            start = int(rng.integers(0, days))
            extra[s, start : start + int(rng.integers(14, 36))] = rng.integers(5, 16)
    return extra


@dataclass
class _History:
    """Everything that happened, as flat integer arrays (indices into the master data)."""

    opening: dict[str, np.ndarray]  # loc (global), sku, qty, owner_vmi
    demand: dict[str, np.ndarray]  # day, sku, l, qty
    sales: dict[str, np.ndarray]
    transfers: dict[str, np.ndarray]  # day, sku, src (global), dst (global), qty, expected, arrival
    po_lines: dict[str, np.ndarray]  # po, day, sku, qty, expected, arrive1, qty1, arrive2, qty2
    po_headers: list[tuple[int, int, str]]  # per PO number: supplier index, order day, suffix
    vmi: dict[str, np.ndarray]  # day, sku, qty
    counts: dict[str, np.ndarray]  # day, sku, loc (global), qty (signed), issue (bool)
    peak_stock: np.ndarray  # (global locations,) highest total on hand


class _Records:
    """Append-only columns of integer arrays, concatenated once at the end."""

    def __init__(self, *names: str) -> None:
        self._parts: dict[str, list[np.ndarray]] = {k: [] for k in names}

    def add(self, **cols: Any) -> None:
        """Append one batch; scalars are broadcast, integers kept as int32 (days, indices and
        daily quantities all fit), which halves the memory of tens of millions of rows."""
        length = max(np.size(v) for v in cols.values())
        for k, v in cols.items():
            a = np.asarray(v)
            a = a.astype(np.int32) if a.dtype.kind in "iu" else a
            self._parts[k].append(np.broadcast_to(a, (length,)).copy())

    def done(self) -> dict[str, np.ndarray]:
        return {
            k: (np.concatenate(v) if v else np.zeros(0, dtype=np.int64))
            for k, v in self._parts.items()
        }


class _Simulation:
    """Day-by-day stock simulation, vectorised over all SKU x regional DC series.

    Each day, in this order: transfers arrive and leave (00:00; dispatches are limited by the
    sender's closing stock of the day before), purchase receipts (07:00), VMI consumption into the
    central DC (08:00), demand and sales = min(demand, stock) (18:00), counts (21:00), then the
    planners' orders to suppliers. On hand never goes below zero anywhere.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        cat: _Catalogue,
        net: _Network,
        src: _Sourcing,
        model: _DemandModel,
        dense_demand: bool,
    ) -> None:
        self.rng, self.cat, self.net, self.src, self.m = rng, cat, net, src, model
        self.dense_demand = dense_demand
        s_count, l_count = cat.count, net.count
        self.S, self.L, self.D = s_count, l_count, model.days
        self.cat_idx = cat.category
        self.cal_cum = np.concatenate(
            [np.zeros((len(CATEGORIES), l_count, 1)), np.cumsum(model.planner_calendar, axis=2)],
            axis=2,
        )
        self.known_cum = np.concatenate(
            [np.zeros((s_count, 1)), np.cumsum(model.known_factor, axis=1)], axis=1
        )
        self.weekday0 = (
            int((model.dates[0] - np.datetime64("1970-01-05", "D")).astype(np.int64)) % 7
        )
        # horizons of the planners (days)
        self.h_regional = net.transit + net.review_period + REGIONAL_BUFFER_DAYS  # (L,)
        lead = np.ceil(src.lead_time_mean).astype(np.int64) + src.review_period
        self.h_echelon = (lead + CENTRAL_BUFFER_DAYS)[:, None] + self.h_regional[None, :]  # (S, L)
        self.max_transit = (
            int(max(net.transit.max(), max((t for *_, t, _ in net.lateral), default=1))) + 4
        )
        # end game
        self.push_day = self.D - 42
        self.surge_start = self.D - 30
        self.drop_start = self.D - 45
        self.imb_mask = np.zeros(s_count, dtype=bool)
        self.imb_mask[model.imbalance_sku] = True
        self.disrupted = [s.code for s in SUPPLIERS].index("SUP-HQE")
        self.extra_lead_time = _supplier_troubles(self.rng, self.D)
        # the push: 90 days of the long DC's normal demand, bought forward for the promotion
        imb = model.imbalance_sku
        pack = src.pack_size[imb]
        self.push_qty = (np.ceil(90 * model.base[imb, model.imbalance_long] / pack) * pack).astype(
            np.int64
        )
        order_day = np.maximum(0, self.push_day - 1 - src.quoted[imb])
        self.promo_buys = {
            int(day): (imb[order_day == day], self.push_qty[order_day == day], self.push_day - 1)
            for day in np.unique(order_day)
        }

    # -- planner's view --------------------------------------------------------------------
    def _window(self, d: int, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sum of known calendar and known SKU factor over [d, d + h) per (s, l)."""
        h2 = np.broadcast_to(h, (self.S, self.L))
        end = np.minimum(d + h2, self.m.horizon)
        l_idx = np.arange(self.L)[None, :]
        cal = self.cal_cum[self.cat_idx[:, None], l_idx, end] - self.cal_cum[self.cat_idx, :, d]
        known = self.known_cum[np.arange(self.S)[:, None], end] - self.known_cum[:, d][:, None]
        return cal, known

    def _need(self, d: int, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Planned demand over [d, d+h) and its safety margin's spread, per (s, l)."""
        cal, known = self._window(d, h)
        h2 = np.broadcast_to(h, (self.S, self.L)).astype(float)
        need = self.level * cal * known / h2
        spread = 1.25 * self.mad * np.sqrt(h2) * np.maximum(cal * known / (h2 * h2), 0.05)
        return need, spread

    # -- the run ---------------------------------------------------------------------------
    def run(self, progress: bool) -> _History:
        m, S, L, D, rng = self.m, self.S, self.L, self.D, self.rng
        net, src = self.net, self.src
        vmi = src.is_vmi
        self.level = m.base * m.sku_factor[:, :1] / np.maximum(m.known_factor[:, :1], 1e-9)
        self.level = np.where(m.launch_day[:, None] > 0, m.base, self.level)
        self.level = np.where(np.isfinite(self.level), self.level, m.base)
        self.mad = 0.8 * np.sqrt(self.level + self.level**2 / m.dispersion[:, None]) + 0.05

        start_rate = m.base * m.calendar[self.cat_idx, :, :14].mean(axis=2) * m.sku_factor[:, :1]
        net_rate = start_rate.sum(axis=1)
        ending = m.eol_day < D
        reg_cover = np.where(
            ending[:, None], rng.uniform(40, 90, (S, L)), rng.uniform(8, 20, (S, L))
        )
        on_hand = np.rint(start_rate * reg_cover).astype(np.int64)
        central_cover = np.where(
            ending,
            rng.uniform(60, 120, S),
            np.where(vmi, rng.uniform(3, 6, S), rng.uniform(15, 35, S)),
        )
        central = np.rint(net_rate * central_cover).astype(np.int64)
        vmi_stock = np.where(vmi, np.rint(net_rate * rng.uniform(10, 20, S)), 0).astype(np.int64)
        late = m.launch_day > 0
        on_hand[late] = 0
        central[late] = 0
        vmi_stock[late] = 0
        opening = self._opening(on_hand, central, vmi_stock)

        pipe = np.zeros((self.max_transit + 1, S, L), dtype=np.int64)
        in_transit = np.zeros((S, L), dtype=np.int64)
        self.on_order = on_order = np.zeros(S, dtype=np.int64)
        self.due: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        self.po_rec = _Records(
            "po", "day", "sku", "qty", "expected", "arrive1", "qty1", "arrive2", "qty2"
        )
        self.po_headers: list[tuple[int, int, str]] = []

        demand_rec = _Records("day", "sku", "l", "qty")
        sales_rec = _Records("day", "sku", "l", "qty")
        transfer_rec = _Records("day", "sku", "src", "dst", "qty", "expected", "arrival")
        vmi_rec = _Records("day", "sku", "qty")
        count_rec = _Records("day", "sku", "loc", "qty", "issue")
        n_loc = 1 + L + 1 + len(SUPPLIERS)
        peak = np.zeros(n_loc, dtype=np.int64)

        for d in tqdm(range(D), desc="demo: simulating days", unit="day", disable=not progress):
            weekday = (self.weekday0 + d) % 7
            active = m.lifecycle_active(d)
            closing = on_hand.copy()  # yesterday's closing stock bounds today's dispatches

            # 00:00 transfers arrive
            slot = d % pipe.shape[0]
            arriving = pipe[slot]
            on_hand += arriving
            in_transit -= arriving
            pipe[slot] = 0

            # 00:00 central -> regional replenishment (periodic order-up-to)
            if d >= 1:
                need, spread = self._need(d, self.h_regional)
                target = need + Z_REGIONAL * spread
                position = on_hand + in_transit
                # planners ship on each DC's delivery days, and after the festival rush all DCs
                # get a truck on the last two days (those are on the road at the end)
                review = (net.review_days[:, weekday] | (d >= D - 2))[None, :] & (d < m.eol_day)[
                    :, None
                ]
                gap = np.where(review, target - position, 0.0)
                case = self.src.pack_size[:, None]
                # whole cases once the gap is half a case or more; broken cases below that
                request = np.where(
                    gap >= case / 2, np.ceil(gap / case) * case, np.maximum(0, np.ceil(gap - 0.5))
                )
                if d == self.push_day:  # a pre-built regional promotion, cancelled later
                    request[m.imbalance_sku, m.imbalance_long] += self.push_qty
                request = request.astype(np.int64)
                total = request.sum(axis=1)
                share = np.where(total > central, central / np.maximum(total, 1), 1.0)
                ship = np.floor(request * share[:, None]).astype(np.int64)
                central -= ship.sum(axis=1)
                self._dispatch(d, ship, net.transit, pipe, in_transit, transfer_rec)

            # 00:00 lateral transfers between neighbours (weekly review)
            if d >= 1 and weekday == LATERAL_WEEKDAY:
                self._laterals(d, closing, on_hand, in_transit, pipe, transfer_rec, active)

            # 07:00 purchase receipts
            for sku, qty in self.due.pop(d, []):
                to_vmi = vmi[sku]
                np.add.at(vmi_stock, sku[to_vmi], qty[to_vmi])
                np.add.at(central, sku[~to_vmi], qty[~to_vmi])
                np.add.at(on_order, sku, -qty)

            # 08:00 VMI consumption: the central DC takes what it needs for the week
            if vmi.any():
                need7, _ = self._need(d, np.full(L, 7))
                want = np.where(vmi, np.ceil(need7.sum(axis=1) * 1.2) - central, 0)
                if d == self.push_day - 1:  # the promotion's stock is called off in one go
                    np.add.at(
                        want, m.imbalance_sku, np.where(vmi[m.imbalance_sku], self.push_qty, 0)
                    )
                pull = np.clip(want, 0, vmi_stock).astype(np.int64)
                if pull.any():
                    nz = np.flatnonzero(pull)
                    vmi_rec.add(day=d, sku=nz, qty=pull[nz])
                    vmi_stock -= pull
                    central += pull

            # 18:00 demand and sales
            lam = m.base * m.calendar[self.cat_idx, :, d] * m.sku_factor[:, d][:, None]
            if d >= self.surge_start:
                ramp = min(1.0, (d - self.surge_start + 1) / 14.0)
                lam[m.imbalance_sku, m.imbalance_short] *= 1 + 1.6 * ramp
            if d >= self.drop_start:
                lam[m.imbalance_sku, m.imbalance_long] *= 0.35
            demand = rng.poisson(rng.gamma(m.dispersion[:, None], lam / m.dispersion[:, None]))
            lumpy = rng.uniform(size=(S, L)) < m.lumpy_probability[:, None] * (lam > 0)
            if lumpy.any():
                demand[lumpy] += np.rint(
                    m.lumpy_size[np.nonzero(lumpy)[0]]
                    * rng.lognormal(0, 0.6, lumpy.sum())
                    * m.base[lumpy]
                    / np.maximum(m.base[lumpy], 0.3)
                ).astype(np.int64)
            sales = np.minimum(demand, on_hand)
            on_hand -= sales
            keep = demand > 0
            if self.dense_demand:
                keep |= active[:, None] & (m.base > 0)
            rows, cols = np.nonzero(keep)
            demand_rec.add(
                day=d, sku=rows.astype(np.int32), l=cols.astype(np.int16), qty=demand[rows, cols]
            )
            rows, cols = np.nonzero(sales)
            sales_rec.add(
                day=d, sku=rows.astype(np.int32), l=cols.astype(np.int16), qty=sales[rows, cols]
            )
            self._learn(d, demand)

            # 21:00 counts (corrections) and damage write-offs, never on dead items
            self._counts(d, on_hand, central, active, count_rec)

            # after hours: the buyers' orders (echelon order-up-to on each supplier's order days).
            # Safety stock z * sqrt(LT * sd_d^2 + d^2 * sd_LT^2), the textbook form with lead-time
            # spread (Silver, Pyke & Thomas, Inventory and Production Management in Supply
            # Chains, 4th ed., ch. 6); echelon position = everything in the network + on order.
            orders = src.order_days[:, weekday] & (d < m.eol_day)  # delisted: no more buying
            if orders.any():
                need, spread = self._need(d, self.h_echelon)
                target = need.sum(axis=1) + Z_ECHELON * np.sqrt(
                    (spread**2).sum(axis=1)
                    + (need.sum(axis=1) / self.h_echelon.mean(axis=1) * src.lead_time_std) ** 2
                )
                position = central + vmi_stock + on_order + (on_hand + in_transit).sum(axis=1)
                gap = np.where(orders, target - position, 0)
                buy = gap > 0.5
                if buy.any():
                    sku = np.flatnonzero(buy)
                    qty = np.maximum(np.ceil(gap[sku]), src.moq[sku])
                    qty = (np.ceil(qty / src.pack_size[sku]) * src.pack_size[sku]).astype(np.int64)
                    self._order(d, sku, qty)
            if d in self.promo_buys:
                self._promo_buy(d, *self.promo_buys[d])

            peak[0] = max(peak[0], int(central.sum()))
            peak[1 : L + 1] = np.maximum(peak[1 : L + 1], on_hand.sum(axis=0))
            peak[L + 1] = max(peak[L + 1], int(vmi_stock.sum()))
            assert on_hand.min() >= 0 and central.min() >= 0 and vmi_stock.min() >= 0

        self.final = {
            "on_hand": on_hand,
            "central": central,
            "vmi": vmi_stock,
            "in_transit": in_transit,
            "on_order": on_order,
        }
        return _History(
            opening,
            demand_rec.done(),
            sales_rec.done(),
            transfer_rec.done(),
            self.po_rec.done(),
            self.po_headers,
            vmi_rec.done(),
            count_rec.done(),
            peak,
        )

    def _opening(
        self, on_hand: np.ndarray, central: np.ndarray, vmi_stock: np.ndarray
    ) -> dict[str, np.ndarray]:
        rows, cols = np.nonzero(on_hand)
        c = np.flatnonzero(central)
        v = np.flatnonzero(vmi_stock)
        vmi_loc = 1 + self.L
        return {
            "loc": np.concatenate([np.zeros(len(c), np.int64), 1 + cols, np.full(len(v), vmi_loc)]),
            "sku": np.concatenate([c, rows, v]),
            "qty": np.concatenate([central[c], on_hand[rows, cols], vmi_stock[v]]),
            "owner_vmi": np.concatenate(
                [np.zeros(len(c) + len(rows), bool), np.ones(len(v), bool)]
            ),
        }

    def _dispatch(
        self,
        d: int,
        ship: np.ndarray,
        transit: np.ndarray,
        pipe: np.ndarray,
        in_transit: np.ndarray,
        rec: _Records,
    ) -> None:
        """Put the central DC's shipments (S, L) on the road; one in ten arrives a day late,
        one in fifty two days late."""
        rows, cols = np.nonzero(ship)
        if len(rows) == 0:
            return
        qty = ship[rows, cols]
        expected = d + transit[cols]
        delay = np.searchsorted([0.9, 0.98], self.rng.uniform(size=len(rows)))
        arrival = expected + delay
        pipe[arrival % pipe.shape[0], rows, cols] += qty
        in_transit[rows, cols] += qty
        rec.add(day=d, sku=rows, src=0, dst=1 + cols, qty=qty, expected=expected, arrival=arrival)

    def _laterals(
        self,
        d: int,
        closing: np.ndarray,
        on_hand: np.ndarray,
        in_transit: np.ndarray,
        pipe: np.ndarray,
        rec: _Records,
        active: np.ndarray,
    ) -> None:
        """A DC short of an item pulls from a neighbour with plenty (调拨), lane by lane; the
        donor gives only from yesterday's closing stock, keeping a month of cover."""
        m = self.m
        daily = np.maximum(
            self.level * m.planner_calendar[self.cat_idx, :, d] * m.known_factor[:, d][:, None],
            1e-6,
        )
        movable = active & (d < m.eol_day - 20)
        if d >= self.drop_start:
            movable &= ~self.imb_mask  # nobody spots the end-game imbalance in time
        available = closing.copy()
        for i, j, transit, _ in self.net.lateral:
            short = movable & (
                (on_hand[:, j] + in_transit[:, j]) < LATERAL_SHORT_DAYS * daily[:, j]
            )
            donor = available[:, i] > LATERAL_DONOR_DAYS * daily[:, i]
            qty = np.minimum(
                available[:, i] - LATERAL_KEEP_DAYS * daily[:, i],
                LATERAL_FILL_DAYS * daily[:, j] - on_hand[:, j] - in_transit[:, j],
            )
            qty = np.where(short & donor & (m.base[:, j] > 0), np.floor(qty), 0).astype(np.int64)
            qty = np.maximum(qty, 0)
            sku = np.flatnonzero(qty)
            if len(sku) == 0:
                continue
            q = qty[sku]
            available[sku, i] -= q
            on_hand[sku, i] -= q
            expected = np.full(len(sku), d + transit)
            delay = np.searchsorted([0.9, 0.98], self.rng.uniform(size=len(sku)))
            arrival = expected + delay
            pipe[arrival % pipe.shape[0], sku, j] += q
            in_transit[sku, j] += q
            rec.add(day=d, sku=sku, src=1 + i, dst=1 + j, qty=q, expected=expected, arrival=arrival)

    def _learn(self, d: int, demand: np.ndarray) -> None:
        """Exponential smoothing of the deseasonalised level and of its absolute error."""
        m = self.m
        known = m.planner_calendar[self.cat_idx, :, d] * m.known_factor[:, d][:, None]
        seen = (known > 0.05) & (m.base > 0)
        x = np.where(seen, demand / np.maximum(known, 0.05), self.level)
        x = np.minimum(x, 6 * self.level + 5)
        err = np.abs(x - self.level)
        self.level += SMOOTHING * (x - self.level) * seen
        self.mad += SMOOTHING * (err - self.mad) * seen

    def _counts(
        self, d: int, on_hand: np.ndarray, central: np.ndarray, active: np.ndarray, rec: _Records
    ) -> None:
        """Cycle-count corrections (mostly shrinkage) and damaged goods written off."""
        rng, L = self.rng, self.L
        stock = np.concatenate([central[:, None], on_hand], axis=1)  # (S, 1 + L)
        hit = rng.uniform(size=stock.shape) < np.array([0.002] + [0.0012] * L)[None, :]
        hit &= active[:, None] & (stock > 0)
        rows, cols = np.nonzero(hit)
        if len(rows) == 0:
            return
        size = 1 + rng.poisson(0.003 * stock[rows, cols])
        negative = rng.uniform(size=len(rows)) < 0.65
        qty = np.where(negative, -np.minimum(size, stock[rows, cols]), size)
        issue = negative & (rng.uniform(size=len(rows)) < 0.2)
        keep = qty != 0
        rows, cols, qty, issue = rows[keep], cols[keep], qty[keep], issue[keep]
        at_central = cols == 0
        np.add.at(central, rows[at_central], qty[at_central])
        on_hand[rows[~at_central], cols[~at_central] - 1] += qty[~at_central]
        rec.add(day=d, sku=rows, loc=cols, qty=qty, issue=issue)

    def _order(self, d: int, sku: np.ndarray, qty: np.ndarray) -> None:
        """Raise one PO per supplier with today's lines; draw when each line arrives: lead time
        = mean + spread * z, z shared by the lines of one PO (one truck) plus each line's own."""
        rng, src, D = self.rng, self.src, self.D
        supplier = src.supplier[sku]
        po_ids = np.empty(len(sku), np.int64)
        z_po = np.empty(len(sku))
        for s in np.unique(supplier):
            po_ids[supplier == s] = len(self.po_headers)
            z_po[supplier == s] = rng.normal()
            self.po_headers.append((int(s), d, ""))
        z = 0.8 * z_po + 0.6 * rng.normal(size=len(sku))
        mean, std = src.lead_time_mean[sku], src.lead_time_std[sku]
        lead = np.maximum(np.rint(mean + std * z), np.maximum(1, np.floor(mean * 0.5)))
        arrival = (d + lead + self.extra_lead_time[supplier, d]).astype(np.int64)
        expected = d + src.quoted[sku]
        for sf in self.m.spring_festivals:  # factories close; the buyers know and plan for it
            lo, hi = sf + SPRING_FESTIVAL_CLOSURE[0], sf + SPRING_FESTIVAL_CLOSURE[1]
            arrival = np.where((d <= hi) & (arrival >= lo), arrival + hi - lo + 1, arrival)
            expected = np.where((d <= hi) & (expected >= lo), expected + hi - lo + 1, expected)
        # the end game: after Double 11 the carriers are swamped (爆仓) and a quarter of the
        # deliveries due around the end date run late; a typhoon holds up the electronics
        # supplier; the imbalanced SKUs' deliveries slip past the end date
        backlog = (arrival >= D - 10) & (arrival < D + 7) & (rng.uniform(size=len(sku)) < 0.25)
        arrival[backlog] += rng.integers(5, 13, size=backlog.sum())
        storm = (supplier == self.disrupted) & (arrival >= D - 21) & (arrival < D + 10)
        arrival[storm] += rng.integers(8, 17, size=storm.sum())
        slip = self.imb_mask[sku] & (arrival >= D - 35) & (arrival < D + 3)
        arrival[slip] = D + rng.integers(3, 13, size=slip.sum())
        # some deliveries come in two parts
        split = rng.uniform(size=len(sku)) < 0.06
        qty1 = np.where(split, np.maximum(1, np.rint(qty * rng.uniform(0.5, 0.9, len(sku)))), qty)
        qty1 = np.minimum(qty1, qty).astype(np.int64)
        qty2 = qty - qty1
        arrival2 = np.where(qty2 > 0, arrival + rng.integers(2, 8, size=len(sku)), -1)
        self._book(po_ids, d, sku, qty, expected, arrival, qty1, arrival2, qty2)

    def _promo_buy(self, d: int, sku: np.ndarray, qty: np.ndarray, arrival: int) -> None:
        """The forward buy for the regional promotion of the end game: a PO of its own
        (suffix -P) that lands the day before the push, exactly as quoted."""
        supplier = self.src.supplier[sku]
        po_ids = np.empty(len(sku), np.int64)
        for s in np.unique(supplier):
            po_ids[supplier == s] = len(self.po_headers)
            self.po_headers.append((int(s), d, "-P"))
        arrive = np.full(len(sku), arrival, dtype=np.int64)
        none = np.full(len(sku), -1, dtype=np.int64)
        self._book(po_ids, d, sku, qty, arrive, arrive, qty, none, np.zeros_like(qty))

    def _book(
        self,
        po_ids: np.ndarray,
        d: int,
        sku: np.ndarray,
        qty: np.ndarray,
        expected: np.ndarray,
        arrival: np.ndarray,
        qty1: np.ndarray,
        arrival2: np.ndarray,
        qty2: np.ndarray,
    ) -> None:
        self.po_rec.add(
            po=po_ids,
            day=d,
            sku=sku,
            qty=qty,
            expected=expected,
            arrive1=arrival,
            qty1=qty1,
            arrive2=arrival2,
            qty2=qty2,
        )
        np.add.at(self.on_order, sku, qty)
        for when, part in ((arrival, qty1), (arrival2, qty2)):
            for day in np.unique(when[(part > 0) & (when < self.D)]):
                pick = (when == day) & (part > 0)
                self.due.setdefault(int(day), []).append((sku[pick], part[pick]))


# ==============================================================================================
# the frames
# ==============================================================================================

SUPPLIER_REGIONS = {
    "Jiaxing": "east",
    "Jinjiang": "east",
    "Guangzhou": "south",
    "Shenzhen": "south",
    "Ningbo": "east",
}
TRUCK_M3 = 80.0  # a 17.5 m trailer, loaded
VAN_M3 = 40.0


class _Calendar:
    """Day index -> date, timestamp at a minute of the day, or YYYYMMDD text."""

    def __init__(self, start: date, n: int) -> None:
        self.dates = pl.Series([start + timedelta(days=i) for i in range(n)], dtype=pl.Date)
        self.ymd = self.dates.dt.strftime("%Y%m%d")

    def date(self, idx: np.ndarray) -> pl.Series:
        return self.dates.gather(np.asarray(idx, dtype=np.int64))

    def ts(self, idx: np.ndarray, minute: int) -> pl.Series:
        return self.date(idx).cast(pl.Datetime("us")) + timedelta(minutes=minute)

    def text(self, idx: np.ndarray) -> pl.Series:
        return self.ymd.gather(np.asarray(idx, dtype=np.int64))


def _gather(values: list[str], idx: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(np.asarray(idx, dtype=np.int64))


def _frames(
    cat: _Catalogue, net: _Network, src: _Sourcing, model: _DemandModel, hist: _History, start: date
) -> dict[str, pl.DataFrame]:
    cal = _Calendar(start, model.horizon + 60)
    end = model.days  # the first day after the history
    loc_codes = net.all_codes
    po_numbers = [
        f"PO-{cal.ymd[day]}-{SUPPLIERS[s].code[4:]}{suffix}" for s, day, suffix in hist.po_headers
    ]
    return {
        "locations": _locations_frame(net, hist.peak_stock),
        "products": _products_frame(cat),
        "suppliers": _suppliers_frame(hist, src, end),
        "supplier_products": _supplier_products_frame(cat, src),
        "lanes": _lanes_frame(net, cat, model),
        "transfers": _transfers_frame(hist, cat, loc_codes, cal, end),
        "purchase_orders": _purchase_orders_frame(hist, cat, src, net, po_numbers, cal, end),
        "ledger": _ledger_frame(hist, cat, src, net, po_numbers, cal, start, end),
        "demand": pl.DataFrame(
            {
                "sku": _gather(cat.sku, hist.demand["sku"]),
                "location": _gather(net.codes, hist.demand["l"]),
                "date": cal.date(hist.demand["day"]),
                "quantity": hist.demand["qty"].astype(np.int64),
            }
        ),
    }


def _capacity(peak: np.ndarray) -> np.ndarray:
    """Room for the busiest day's stock plus 30%, in thousands of units."""
    return (np.ceil(peak * 1.3 / 1000.0) * 1000).astype(np.int64)


def _locations_frame(net: _Network, peak: np.ndarray) -> pl.DataFrame:
    cap = _capacity(peak)
    vmi_supplier = next(s for s in SUPPLIERS if s.vmi)
    rows = [
        (
            CENTRAL_CODE,
            f"{CENTRAL.name} Central DC {CENTRAL.name_zh}中心仓",
            "central_dc",
            REGIONS[CENTRAL.region],
            CENTRAL.lat,
            CENTRAL.lon,
            int(cap[0]),
        )
    ]
    rows += [
        (
            code,
            f"{c.name} RDC {c.name_zh}区域仓",
            "regional_dc",
            REGIONS[c.region],
            c.lat,
            c.lon,
            int(cap[1 + i]),
        )
        for i, (code, c) in enumerate(zip(net.codes, net.cities, strict=True))
    ]
    rows.append(
        (
            VMI_CODE,
            f"Kunshan VMI store ({vmi_supplier.name.split(' Co.')[0]}) 昆山VMI仓",
            "vmi",
            REGIONS["east"],
            CENTRAL.lat + 0.004,
            CENTRAL.lon + 0.006,
            int(cap[1 + net.count]),
        )
    )
    rows += [
        (s.site, s.site_name, "supplier", REGIONS[SUPPLIER_REGIONS[s.city]], s.lat, s.lon, None)
        for s in SUPPLIERS
    ]
    frame = pl.DataFrame(
        rows,
        schema={
            "code": pl.String,
            "name": pl.String,
            "kind": pl.String,
            "region": pl.String,
            "lat": pl.Float64,
            "lon": pl.Float64,
            "capacity": pl.Int64,
        },
        orient="row",
    )
    return frame.select(
        "code",
        "name",
        "kind",
        "region",
        pl.lit(COUNTRY).alias("country"),
        "lat",
        "lon",
        "capacity",
        pl.lit(False).alias("allow_negative"),
    )


def _products_frame(cat: _Catalogue) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sku": cat.sku,
            "name": cat.name,
            "category": [CATEGORIES[c].label for c in cat.category],
            "unit_cost": cat.unit_cost,
            "price": cat.price,
            "unit_volume": cat.unit_volume,
            "shelf_life_days": pl.Series(cat.shelf_life, dtype=pl.Int64),
        }
    ).with_columns(
        pl.when(pl.col("shelf_life_days") > 0)
        .then(pl.col("shelf_life_days"))
        .alias("shelf_life_days")
    )


def _suppliers_frame(hist: _History, src: _Sourcing, end: int) -> pl.DataFrame:
    """on_time_rate is measured on the history: first deliveries on or before the quoted date."""
    p = hist.po_lines
    arrived = p["arrive1"] < end
    supplier = src.supplier[p["sku"]][arrived]
    on_time = (p["arrive1"] <= p["expected"])[arrived]
    rates = []
    for i in range(len(SUPPLIERS)):
        mine = supplier == i
        rates.append(round(float(on_time[mine].mean()), 3) if mine.any() else None)
    return pl.DataFrame(
        {
            "code": [s.code for s in SUPPLIERS],
            "name": [s.name for s in SUPPLIERS],
            "country": [COUNTRY] * len(SUPPLIERS),
            "location": [s.site for s in SUPPLIERS],
            "vmi": [s.vmi for s in SUPPLIERS],
            "on_time_rate": pl.Series(rates, dtype=pl.Float64),
        }
    )


def _supplier_products_frame(cat: _Catalogue, src: _Sourcing) -> pl.DataFrame:
    primary = pl.DataFrame(
        {
            "supplier": [SUPPLIERS[s].code for s in src.supplier],
            "sku": cat.sku,
            "lead_time_mean_days": src.lead_time_mean,
            "lead_time_std_days": src.lead_time_std,
            "moq": src.moq.astype(np.int64),
            "pack_size": src.pack_size.astype(np.int64),
            "price": cat.unit_cost,  # the purchase price is what a unit costs us
        }
    )
    alt = src.alternates.with_columns(
        _gather(cat.sku, src.alternates["sku_index"].to_numpy()).alias("sku")
    ).select(primary.columns)
    return pl.concat([primary, alt]).sort("sku", "supplier")


def _lanes_frame(net: _Network, cat: _Catalogue, model: _DemandModel) -> pl.DataFrame:
    """Transit from road distance (800 km a day); cost per unit from distance and the average
    unit's volume (30 CNY/m3 handling + 0.35 CNY/m3/km); a truck's fixed cost per shipment;
    capacity is one truck (80 m3, laterals 40 m3) of average units."""
    weights = model.base.sum(axis=1)
    avg_volume = float((weights * cat.unit_volume).sum() / max(weights.sum(), 1e-9))
    rows = []

    def lane(a: str, b: str, km: float, transit: int, truck: float | None) -> None:
        per_unit = round(avg_volume * (30.0 + 0.35 * km), 3)
        fixed = round(400.0 + 1.2 * km, -1)
        capacity = None if truck is None else int(round(truck / avg_volume, -2))
        rows.append((a, b, transit, per_unit, fixed, capacity))

    for code, km, transit in zip(net.codes, net.central_km, net.transit, strict=True):
        lane(CENTRAL_CODE, code, float(km), int(transit), TRUCK_M3)
    for i, j, transit, km in net.lateral:
        lane(net.codes[i], net.codes[j], km, transit, VAN_M3)
    for s in SUPPLIERS:
        km = float(
            _road_km(np.array(s.lat), np.array(s.lon), np.array(CENTRAL.lat), np.array(CENTRAL.lon))
        )
        lane(
            s.site, VMI_CODE if s.vmi else CENTRAL_CODE, km, int(_transit_days(np.array(km))), None
        )
    rows.append((VMI_CODE, CENTRAL_CODE, 0, 0.05, 0.0, None))  # across the yard
    return pl.DataFrame(
        rows,
        schema={
            "from_location": pl.String,
            "to_location": pl.String,
            "transit_days": pl.Int64,
            "cost_per_unit": pl.Float64,
            "fixed_cost": pl.Float64,
            "capacity": pl.Int64,
        },
        orient="row",
    )


def _transfers_frame(
    hist: _History, cat: _Catalogue, loc_codes: list[str], cal: _Calendar, end: int
) -> pl.DataFrame:
    """Ids TR-YYYYMMDD-nnnnn, numbered per ship day; status received when it arrived by the end
    date, else in_transit (no received_date)."""
    t = hist.transfers
    frame = pl.DataFrame(
        {
            "day": t["day"].astype(np.int64),
            "src": t["src"].astype(np.int64),
            "dst": t["dst"].astype(np.int64),
            "s": t["sku"].astype(np.int64),
            "quantity": t["qty"].astype(np.int64),
            "expected": t["expected"].astype(np.int64),
            "arrival": t["arrival"].astype(np.int64),
        }
    ).sort("day", "src", "dst", "s")
    day = frame["day"].to_numpy()
    arrival = frame["arrival"].to_numpy()
    seq = frame.select(pl.int_range(1, pl.len() + 1).over("day"))[:, 0]
    received = arrival < end
    return pl.DataFrame(
        {
            "transfer_id": pl.select(
                pl.concat_str(
                    [
                        pl.lit("TR-"),
                        pl.lit(cal.text(day)),
                        pl.lit("-"),
                        pl.lit(seq.cast(pl.String).str.zfill(5)),
                    ]
                )
            ).to_series(),
            "sku": _gather(cat.sku, frame["s"].to_numpy()),
            "from_location": _gather(loc_codes, frame["src"].to_numpy()),
            "to_location": _gather(loc_codes, frame["dst"].to_numpy()),
            "quantity": frame["quantity"],
            "ship_date": cal.date(day),
            "expected_date": cal.date(frame["expected"].to_numpy()),
            "received_date": cal.date(np.where(received, arrival, 0)).zip_with(
                pl.Series(received), pl.Series([None] * len(day), dtype=pl.Date)
            ),
            "status": pl.Series(np.where(received, "received", "in_transit"), dtype=pl.String),
        }
    )


def _po_location(src: _Sourcing, net: _Network, sku: np.ndarray) -> np.ndarray:
    """Global location index a PO line delivers to: the VMI store, or the central DC."""
    return np.where(src.is_vmi[sku], 1 + net.count, 0)


def _purchase_orders_frame(
    hist: _History,
    cat: _Catalogue,
    src: _Sourcing,
    net: _Network,
    po_numbers: list[str],
    cal: _Calendar,
    end: int,
) -> pl.DataFrame:
    """Closed when every delivery arrived by the end date, else open (late when its expected
    date has passed)."""
    p = hist.po_lines
    done = (p["arrive1"] < end) & ((p["qty2"] == 0) | (p["arrive2"] < end))
    return pl.DataFrame(
        {
            "po_number": _gather(po_numbers, p["po"]),
            "sku": _gather(cat.sku, p["sku"]),
            "supplier": _gather([s.code for s in SUPPLIERS], src.supplier[p["sku"]]),
            "location": _gather(net.all_codes, _po_location(src, net, p["sku"])),
            "quantity": p["qty"].astype(np.int64),
            "order_date": cal.date(p["day"]),
            "expected_date": cal.date(p["expected"]),
            "status": pl.Series(np.where(done, "closed", "open"), dtype=pl.String),
        }
    )


LEDGER_SCHEMA = {
    "event_id": pl.String,
    "ts": pl.Datetime("us"),
    "sku": pl.String,
    "location": pl.String,
    "movement_type": pl.String,
    "quantity": pl.Int64,
    "owner": pl.String,
    "reference": pl.String,
    "note": pl.String,
}


def _ledger_piece(event_id: list[Any], order: np.ndarray, **cols: Any) -> pl.DataFrame:
    """One kind of ledger row. ``event_id`` is a list of parts (text or columns) joined;
    scalar values are broadcast; ``order`` is the integer sort key (see :func:`_order_key`)."""
    series = {k: v for k, v in cols.items() if isinstance(v, (pl.Series, np.ndarray))}
    frame = pl.DataFrame({"_order": order, **{k: pl.Series(k, v) for k, v in series.items()}})
    exprs = [pl.col("_order"), pl.concat_str([pl.lit(p) for p in event_id]).alias("event_id")]
    for name, dtype in LEDGER_SCHEMA.items():
        if name == "event_id":
            continue
        exprs.append(
            pl.col(name).cast(dtype)
            if name in series
            else pl.lit(cols.get(name), dtype=dtype).alias(name)
        )
    return frame.select(exprs)


def _order_key(
    day: np.ndarray | int,
    minute: int,
    loc: np.ndarray | int,
    sku: np.ndarray,
    n_loc: int,
    n_sku: int,
) -> np.ndarray:
    """(time, sku, location) packed into one int64. The simulation records each kind of row in
    this order already, so a stable sort only merges a few sorted runs."""
    minutes = np.asarray(day, dtype=np.int64) * 1440 + minute
    return (minutes * n_sku + np.asarray(sku, dtype=np.int64)) * n_loc + np.asarray(loc, np.int64)


def _ledger_frame(
    hist: _History,
    cat: _Catalogue,
    src: _Sourcing,
    net: _Network,
    po_numbers: list[str],
    cal: _Calendar,
    start: date,
    end: int,
) -> pl.DataFrame:
    """Every movement except transfer legs (the ingest posts those from the transfers), sorted
    by time, SKU and location. Event ids: OB (opening), RC (receipt of a PO delivery),
    VC/VR (VMI consumption and its receipt at the central DC), SL (sale), AD (count), IS (issue)."""
    loc_codes = net.all_codes
    n_loc, n_sku = len(loc_codes), cat.count
    vmi_owner = next(s.code for s in SUPPLIERS if s.vmi)
    pieces = []

    o = hist.opening
    sku, loc = _gather(cat.sku, o["sku"]), _gather(loc_codes, o["loc"])
    pieces.append(
        _ledger_piece(
            ["OB:", loc, ":", sku],
            _order_key(0, 0, o["loc"], o["sku"], n_loc, n_sku),
            ts=pl.Series([datetime.combine(start, datetime.min.time())] * len(sku)),
            sku=sku,
            location=loc,
            movement_type="receipt",
            quantity=o["qty"],
            owner=pl.Series(np.where(o["owner_vmi"], vmi_owner, COMPANY)),
            reference="OPENING",
            note="opening balance 期初库存",
        )
    )

    p = hist.po_lines
    for k, (arrive, part) in enumerate(
        ((p["arrive1"], p["qty1"]), (p["arrive2"], p["qty2"])), start=1
    ):
        got = (part > 0) & (arrive >= 0) & (arrive < end)
        if not got.any():
            continue
        line_sku = p["sku"][got]
        sku = _gather(cat.sku, line_sku)
        po = _gather(po_numbers, p["po"][got])
        is_vmi = src.is_vmi[line_sku]
        where = _po_location(src, net, line_sku)
        pieces.append(
            _ledger_piece(
                ["RC:", po, ":", sku, f":{k}"],
                _order_key(arrive[got], MINUTE_RECEIPT, where, line_sku, n_loc, n_sku),
                ts=cal.ts(arrive[got], MINUTE_RECEIPT),
                sku=sku,
                location=_gather(loc_codes, where),
                movement_type="receipt",
                quantity=part[got],
                owner=pl.Series(np.where(is_vmi, vmi_owner, COMPANY)),
                reference=po,
                note="delivery 2 of 2 分批到货" if k == 2 else None,
            )
        )

    v = hist.vmi
    if len(v["day"]):
        sku, ymd = _gather(cat.sku, v["sku"]), cal.text(v["day"])
        ref = pl.select(pl.concat_str([pl.lit("VMI-"), pl.lit(ymd)])).to_series()
        ts = cal.ts(v["day"], MINUTE_VMI)
        for prefix, where, kind, owner in (
            ("VC:", 1 + net.count, "consignment_consume", vmi_owner),
            ("VR:", 0, "receipt", COMPANY),
        ):
            pieces.append(
                _ledger_piece(
                    [prefix, ymd, ":", sku],
                    _order_key(v["day"], MINUTE_VMI, where, v["sku"], n_loc, n_sku),
                    ts=ts,
                    sku=sku,
                    location=loc_codes[where],
                    movement_type=kind,
                    quantity=v["qty"],
                    owner=owner,
                    reference=ref,
                    note="VMI consumption, ownership passes to us 寄售消耗",
                )
            )

    s = hist.sales
    sku, loc, ymd = _gather(cat.sku, s["sku"]), _gather(net.codes, s["l"]), cal.text(s["day"])
    pieces.append(
        _ledger_piece(
            ["SL:", ymd, ":", loc, ":", sku],
            _order_key(s["day"], MINUTE_SALE, 1 + s["l"].astype(np.int64), s["sku"], n_loc, n_sku),
            ts=cal.ts(s["day"], MINUTE_SALE),
            sku=sku,
            location=loc,
            movement_type="sale",
            quantity=s["qty"],
            owner=COMPANY,
        )
    )

    c = hist.counts
    if len(c["day"]):
        for prefix, pick, kind, note in (
            ("AD:", ~c["issue"], "adjustment", "cycle count correction 盘点差异"),
            ("IS:", c["issue"], "issue", "damaged, written off 破损报废"),
        ):
            if not pick.any():
                continue
            sku, ymd = _gather(cat.sku, c["sku"][pick]), cal.text(c["day"][pick])
            loc = _gather(loc_codes, c["loc"][pick])
            qty = c["qty"][pick] if kind == "adjustment" else -c["qty"][pick]
            pieces.append(
                _ledger_piece(
                    [prefix, ymd, ":", loc, ":", sku],
                    _order_key(
                        c["day"][pick], MINUTE_COUNT, c["loc"][pick], c["sku"][pick], n_loc, n_sku
                    ),
                    ts=cal.ts(c["day"][pick], MINUTE_COUNT),
                    sku=sku,
                    location=loc,
                    movement_type=kind,
                    quantity=qty,
                    owner=COMPANY,
                    note=note,
                )
            )
    ledger = pl.concat(pieces, rechunk=False)
    del pieces
    order = np.argsort(ledger["_order"].to_numpy(), kind="stable")
    columns: list[pl.Series | None] = list(ledger.drop("_order").get_columns())
    del ledger
    out = []
    for i, column in enumerate(columns):  # one column at a time: the peak is one extra column
        assert column is not None
        out.append(column.gather(order))
        columns[i] = column = None
    return pl.DataFrame(out)
