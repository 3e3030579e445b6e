"""Settings: one typed object, read once from TOML and the environment.

Precedence (highest first): environment variables, the TOML file named by
``CONTROL_TOWER_CONFIG`` (or ``control_tower.toml`` in the working directory), defaults.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

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


class DemoSettings(BaseModel):
    skus: int = 300
    locations: int = 8
    days: int = 730
    seed: int = 7


class Settings(BaseModel):
    db_path: str = DEFAULT_DB_PATH
    import_error_limit: int = Field(50, ge=1)
    position: PositionSettings = Field(default_factory=PositionSettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)


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
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(exc)) from exc
