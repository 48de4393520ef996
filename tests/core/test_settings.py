from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Settings, get_settings
from privacy.masterkey import MASTER_KEY_BYTES, encode_key, load_master_key


def test_defaults_live_under_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h")
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'h' / 'xmo.db'}"
    assert settings.effective_mlflow_tracking_uri == f"sqlite:///{tmp_path / 'h' / 'mlflow.db'}"
    assert settings.effective_optuna_storage.endswith("/h/optuna.db")


def test_environment_is_read_with_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XMO_HOME", str(tmp_path / "env-home"))
    monkeypatch.setenv("XMO_DATABASE_URL", "postgresql://db.example/xmo")
    monkeypatch.setenv("XMO_IPV4_PREFIX", "16")
    settings = Settings()
    assert settings.home == (tmp_path / "env-home").resolve()
    assert settings.effective_database_url == "postgresql://db.example/xmo"
    assert settings.ipv4_prefix == 16


def test_factory_is_cached_and_reads_nothing_at_import(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    get_settings.cache_clear()
    monkeypatch.setenv("XMO_HOME", str(tmp_path / "a"))
    first = get_settings()
    monkeypatch.setenv("XMO_HOME", str(tmp_path / "b"))
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().home == (tmp_path / "b").resolve()
    get_settings.cache_clear()
    assert not (tmp_path / "a").exists(), "building settings must not create folders"


def test_placeholder_master_key_refused_outside_development(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(home=tmp_path, environment="production", master_key="changeme")
    assert Settings(home=tmp_path, environment="development", master_key="changeme").master_key is not None


def test_invalid_values_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        Settings(home=tmp_path, ipv4_prefix=33)


def test_master_key_generated_once_with_owner_only_permissions(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h")
    key = load_master_key(settings)
    path = tmp_path / "h" / "master.key"
    assert len(key) == MASTER_KEY_BYTES
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_master_key(settings) == key


def test_master_key_from_environment_is_used_and_not_written(tmp_path: Path) -> None:
    given = bytes(range(32))
    settings = Settings(home=tmp_path / "h", master_key=encode_key(given))
    assert load_master_key(settings) == given
    assert not (tmp_path / "h" / "master.key").exists()


def test_malformed_master_key_gives_clear_error(tmp_path: Path) -> None:
    from core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="32 bytes"):
        load_master_key(Settings(home=tmp_path, master_key=encode_key(b"short")))
