from __future__ import annotations

import pytest

from control_tower.config import DEFAULT_DB_PATH, load_settings
from control_tower.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv("CONTROL_TOWER_DB", raising=False)
    monkeypatch.delenv("CONTROL_TOWER_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_without_a_file():
    assert load_settings().db_path == DEFAULT_DB_PATH


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    (tmp_path / "control_tower.toml").write_text('db_path = "from_file.duckdb"\n')
    assert load_settings().db_path == "from_file.duckdb"
    monkeypatch.setenv("CONTROL_TOWER_DB", "from_env.duckdb")
    assert load_settings().db_path == "from_env.duckdb"


@pytest.mark.parametrize(
    "text, message",
    [
        ("db_path = \n", "control_tower.toml"),
        ("[position]\ndead_stock_days = -3\n", "dead_stock_days"),
        ("[position]\nshort_cover_days = 'soon'\n", "short_cover_days"),
    ],
)
def test_a_bad_file_is_a_clear_config_error(tmp_path, text, message):
    (tmp_path / "control_tower.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_a_named_file_that_does_not_exist_is_refused(monkeypatch):
    monkeypatch.setenv("CONTROL_TOWER_CONFIG", "/nonexistent/ct.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()
