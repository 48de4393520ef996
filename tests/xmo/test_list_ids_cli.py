"""Lists whose ids people copy into the next command (client list, goal list) print every id whole at 80 columns."""

from __future__ import annotations

import pytest

from core.settings import Settings
from core.tenants import Tenants
from xmo import console
from xmo.cli import main

PREFIX = "northwind-traders-europe-spring-campaign-"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_client_and_goal_lists_never_cut_ids(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console.out, "_width", 80)  # what rich uses when stdout is not a terminal
    tenants = Tenants.from_settings(settings)
    clients = [f"{PREFIX}{n}" for n in ("de", "fr", "it")]
    for client_id in clients:
        tenants.create_client(
            f"Northwind {client_id[-2:]}", [f"{client_id[-2:]}.northwind.example"], client_id=client_id
        )
    code, out, err = run(capsys, "client", "list")
    assert code == 0, err
    assert set(clients) <= set(out.split()) and "…" not in out
    goals = [f"newsletter-signup-footer-form-variant-{n}" for n in ("a", "b", "c")]
    for goal in goals:
        assert run(capsys, "goal", "add", clients[0], goal)[0] == 0
    code, out, err = run(capsys, "goal", "list", clients[0])
    assert code == 0, err
    assert set(goals) <= set(out.split()) and "…" not in out
