"""The settings factory reads a .env file (./.env, or the one XMO_ENV_FILE names); the environment wins."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import InvalidInput
from core.settings import get_settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A working directory of its own, with none of the variables these tests set."""
    for name in ("XMO_ENV_FILE", "XMO_LOG_LEVEL", "XMO_IPV4_PREFIX", "XMO_COOKIE_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_dot_env_in_the_working_directory_is_read(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text("# operator settings\nXMO_LOG_LEVEL=debug\nXMO_IPV4_PREFIX=16\nOTHER=1\n")
    monkeypatch.setenv("XMO_IPV4_PREFIX", "20")
    settings = get_settings()
    assert settings.log_level == "DEBUG", "read from .env"
    assert settings.ipv4_prefix == 20, "a real environment variable wins over .env"


def test_xmo_env_file_names_the_file(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text("XMO_COOKIE_NAME=from_dot_env\n")
    named = clean_env / "conf" / "xmo.env"
    named.parent.mkdir()
    named.write_text('XMO_COOKIE_NAME="from_named_file"\n')
    monkeypatch.setenv("XMO_ENV_FILE", str(named))
    assert get_settings().cookie_name == "from_named_file"


def test_without_a_file_the_defaults_hold(clean_env: Path) -> None:
    assert get_settings().cookie_name == "xmo_id"


def test_a_missing_named_file_is_a_clear_error(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XMO_ENV_FILE", str(clean_env / "nope.env"))
    with pytest.raises(InvalidInput, match=r"XMO_ENV_FILE: .*nope\.env is not a file"):
        get_settings()


def test_the_cli_reports_a_bad_value_from_dot_env_in_one_line(clean_env: Path) -> None:
    (clean_env / ".env").write_text(f"XMO_HOME={clean_env / 'home'}\nXMO_IPV4_PREFIX=99\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XMO_")}
    result = subprocess.run(  # noqa: PLW1510 - the exit code is what is asserted
        [sys.executable, "-m", "xmo", "client", "list"],
        env=env,
        cwd=clean_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("xmo: XMO_IPV4_PREFIX") and result.stderr.count("\n") == 1
