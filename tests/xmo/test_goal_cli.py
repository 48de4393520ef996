"""``xmo goal``: add, list and remove a client's conversion goals; errors are one line on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import audit
from core.database import get_engine
from core.settings import Settings
from features.goals import GoalStore
from xmo.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def client(xmo_home: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code, _, err = run(capsys, "client", "create", "Acme", "--domain", "acme.example.com")
    assert code == 0, err
    return "acme"


def test_add_list_remove(client: str, xmo_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "goal", "list", client)
    assert code == 0 and out.strip() == "no goals defined: every `goal` event counts as a conversion"
    code, out, err = run(capsys, "goal", "add", client, "purchase")
    assert code == 0, err
    assert out.strip() == "goal purchase (purchase) added to acme: goal events named 'purchase'"
    code, out, err = run(
        capsys,
        "goal",
        "add",
        client,
        "Thanks",
        "--kind",
        "enquiry",
        "--event",
        "pageview",
        "--path",
        "/contact/[thanks]*",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out) == {
        "name": "thanks",
        "kind": "enquiry",
        "event_type": "pageview",
        "match": None,
        "path": "/contact/[thanks]*",
        "min_value": None,
    }
    code, out, _ = run(capsys, "goal", "add", client, "big", "--match", "order*", "--min-value", "99.5", "--json")
    assert code == 0 and json.loads(out)["min_value"] == 99.5
    code, out, _ = run(capsys, "goal", "list", client)
    assert code == 0
    assert "/contact/[thanks]*" in out, "patterns are shown as given (no rich markup)"
    assert out.index("purchase") < out.index("thanks") < out.index("order*")
    code, out, _ = run(capsys, "goal", "remove", client, "thanks")
    assert code == 0 and "removed" in out
    code, out, _ = run(capsys, "goal", "list", client, "--json")
    assert code == 0 and [g["name"] for g in json.loads(out)] == ["purchase", "big"]
    engine = get_engine(Settings(home=xmo_home))
    assert [e.action for e in audit.entries(engine, client) if e.action.startswith("goal.")] == [
        "goal.add",
        "goal.add",
        "goal.add",
        "goal.remove",
    ]
    assert len(GoalStore(engine).list_goals(client)) == 2


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["goal", "add", "nobody", "purchase"], 1, "unknown client 'nobody'"),
        (["goal", "list", "nobody"], 1, "unknown client 'nobody'"),
        (["goal", "add", "acme", "bad name"], 1, "invalid goal name"),
        (["goal", "add", "acme", "x", "--event", "pageview"], 1, "needs a path or match pattern"),
        (["goal", "add", "acme", "x", "--min-value", "-5"], 1, "finite number >= 0"),
        (["goal", "add", "acme", "x", "--kind", "sale"], 2, "--kind"),
        (["goal", "add", "acme", "x", "--event", "view"], 2, "--event"),
        (["goal", "add", "acme", "x", "--min-value", "lots"], 2, "--min-value"),
        (["goal", "remove", "acme", "missing"], 1, "no goal named 'missing'"),
        (["goal", "add", "acme"], 2, "Missing argument 'name'"),
    ],
)
def test_errors_are_one_line_on_stderr(
    client: str, capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str
) -> None:
    got, out, err = run(capsys, *args)
    assert got == code, err
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("xmo: ") and message in err, err
    assert "Traceback" not in err


def test_duplicate_goal_is_refused(client: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "goal", "add", client, "purchase")[0] == 0
    code, _, err = run(capsys, "goal", "add", client, "PURCHASE", "--match", "buy*")
    assert code == 1 and "already has a goal named 'purchase'" in err
