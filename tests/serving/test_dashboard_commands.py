"""Every ``xmo …`` command the dashboard tells a marketer to run exists (the sign-in page once named a wrong one)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from xmo.cli import main

DASHBOARD = Path(__file__).resolve().parents[2] / "serving" / "dashboard"
COMMAND = re.compile(r"(?:<code>|`)xmo ((?:[a-z][a-z-]* ?)+)")  # in HTML code tags and JS backticks


def _mentioned_commands() -> set[str]:
    found: set[str] = set()
    for path in [*DASHBOARD.glob("templates/*.html"), *DASHBOARD.glob("static/*.js"), *DASHBOARD.glob("*.py")]:
        found |= {match.strip() for match in COMMAND.findall(path.read_text(encoding="utf-8"))}
    return found


def test_the_pages_name_commands() -> None:
    assert {"client create", "spend import", "train"} <= _mentioned_commands()


@pytest.mark.parametrize("command", sorted(_mentioned_commands()))
def test_each_named_command_exists(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*command.split(), "--help"])
    captured = capsys.readouterr()
    assert code == 0, f"`xmo {command}` is not a command: {captured.err}"
