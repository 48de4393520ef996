"""The front door: results on stdout, errors as one line on stderr with a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core import audit
from core.apikeys import KeyKind
from core.settings import Settings
from core.tenants import Tenants
from xmo.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_client_create_json_and_list(xmo_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "client", "create", "Acme Shop", "--domain", "shop.example.com", "--json")
    assert code == 0, err
    created = json.loads(out)
    assert set(created) == {"client_id", "site_key", "api_key"} and created["client_id"] == "acme-shop"
    tenants = Tenants.from_settings(Settings(home=xmo_home))
    assert tenants.authenticate(created["api_key"], KeyKind.API).client_id == "acme-shop"
    assert (xmo_home / "keys" / "acme-shop.key").exists(), "the client's key is created with the client"
    code, out, _ = run(capsys, "client", "list", "--json")
    assert code == 0 and [c["client_id"] for c in json.loads(out)] == ["acme-shop"]
    assert created["api_key"] not in out


def test_plain_output_and_admin_key(xmo_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "client", "create", "Beta", "-d", "beta.example.com", "--collect-pii")
    assert code == 0 and "client_id: beta" in out and "api_key:   xmo_api_" in out
    code, out, _ = run(capsys, "admin-key", "--json")
    assert code == 0 and json.loads(out)["admin_key"].startswith("xmo_admin_")


def test_client_create_prints_a_pixel_that_works(
    settings: Settings, serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "client", "create", "Gamma", "-d", "gamma.example.com", "--base-url", "http://x.test")
    assert code == 0 and "xmo link sign gamma https://gamma.example.com/landing" in out
    (tag,) = re.findall(r'<img src="([^"]+)" width="1" height="1" alt=""[^>]*>', out)
    assert tag.startswith("http://x.test/t.gif?k=xmo_site_")
    with serve(settings) as http:
        answer = http.get(
            tag.removeprefix("http://x.test") + "&debug=1", headers={"Referer": "https://gamma.example.com/"}
        )
    assert answer.status_code == 200 and answer.headers["x-xmo-hit"] == "accepted"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["client", "create", "Acme", "--domain", "not a domain"], 1, "invalid domain"),
        (["client", "create", "Acme", "--domain", "*.com"], 1, "com is a public suffix"),
        (["client", "create", "Acme"], 2, "--domain"),
        (["client", "create", "Acme", "-d", "a.example.com", "--retention-days", "x"], 2, "retention-days"),
        (["train", "nobody"], 1, "unknown client 'nobody'"),
        (["no-such-command"], 2, "no-such-command"),
    ],
)
def test_bad_input_is_one_line_on_stderr(
    xmo_home: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str
) -> None:
    got, out, err = run(capsys, *args)
    assert got == code
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("xmo: ") and message in err
    assert "Traceback" not in err


def test_duplicate_client_is_refused(xmo_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "client", "create", "Acme", "-d", "a.example.com")[0] == 0
    code, _, err = run(capsys, "client", "create", "Acme", "-d", "a.example.com")
    assert code == 1 and "already exists" in err


def test_console_script_reports_bad_environment_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "XMO_HOME": str(tmp_path), "XMO_IPV4_PREFIX": "99"}
    result = subprocess.run(  # noqa: PLW1510 - the exit code is what is asserted
        [sys.executable, "-m", "xmo", "client", "list"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert result.stderr.startswith("xmo: XMO_IPV4_PREFIX") and result.stderr.count("\n") == 1


def test_client_benchmarks_opt_in_and_update(xmo_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "client", "create", "In", "-d", "in.example.com", "--benchmarks-opt-in")[0] == 0
    assert run(capsys, "client", "create", "Out", "-d", "out.example.com")[0] == 0
    code, out, _ = run(capsys, "client", "list", "--json")
    assert code == 0 and {c["client_id"]: c["benchmarks_opt_in"] for c in json.loads(out)} == {"in": True, "out": False}
    code, out, err = run(capsys, "client", "update", "out", "--benchmarks-opt-in", "--retention-days", "90", "--json")
    assert code == 0, err
    assert json.loads(out)["benchmarks_opt_in"] is True and json.loads(out)["retention_days"] == 90
    code, out, _ = run(capsys, "client", "update", "in", "--no-benchmarks-opt-in")
    assert code == 0 and "benchmarks_opt_in=no" in out
    tenants = Tenants.from_settings(Settings(home=xmo_home))
    assert tenants.get_client("in").benchmarks_opt_in is False
    updates = [e for e in audit.entries(tenants.engine) if e.action == "client.update"]
    assert [(e.client_id, e.actor) for e in updates] == [("out", "cli"), ("in", "cli")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["client", "update", "nobody", "--benchmarks-opt-in"], "unknown client 'nobody'"),
        (["client", "update", "keep"], "nothing to change"),
        (["client", "update", "keep", "--retention-days", "0"], "retention days"),
    ],
)
def test_bad_client_updates_change_nothing(
    xmo_home: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert run(capsys, "client", "create", "Keep", "-d", "keep.example.com")[0] == 0
    tenants = Tenants.from_settings(Settings(home=xmo_home))
    before = tenants.get_client("keep")
    code, out, err = run(capsys, *args)
    assert code == 1 and out == "" and err.count("\n") == 1 and message in err
    assert tenants.get_client("keep") == before


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    code, out, err = run(capsys, "--version")
    assert code == 0 and err == "" and out == f"xmo {version('xmo')}\n"


def test_show_completion_prints_a_script_for_the_named_shell(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--show-completion", "bash"])
    script = capsys.readouterr().out
    assert exited.value.code == 0
    assert "_xmo_completion()" in script and "complete_bash" in script and "complete -o default -F" in script


@pytest.mark.parametrize("command", [[], ["report"], ["client", "create"], ["spend", "import"]])
def test_help_names_no_bool_type_beside_flags(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0 and "--help" in out
    assert "<bool>" not in out, "typer 0.29 shows <bool> beside every flag: see the typer pin in pyproject.toml"


def test_help_groups_every_command_into_a_panel(capsys: pytest.CaptureFixture[str]) -> None:
    from xmo.cli import OTHER_PANEL, PANELS, app

    code, out, _ = run(capsys, "--help")
    assert code == 0
    positions = [out.index(f"─ {panel} ─") for panel in PANELS]
    assert positions == sorted(positions), "panels appear in the order of PANELS"
    assert "demo" in out[positions[0] : positions[1]] and "erase" in out[positions[-1] :]
    registered = [info.name for info in [*app.registered_commands, *app.registered_groups]]
    unplaced = [
        info.name for info in [*app.registered_commands, *app.registered_groups] if info.rich_help_panel == OTHER_PANEL
    ]
    assert not unplaced, f"add these commands to xmo.cli.PANELS: {unplaced}"
    assert sorted(registered) == sorted(name for names in PANELS.values() for name in names)


def test_client_currency_create_update_and_list(xmo_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "client", "create", "Euro", "-d", "euro.example.com", "--currency", "eur")[0] == 0
    assert run(capsys, "client", "create", "None", "-d", "none.example.com")[0] == 0
    code, out, _ = run(capsys, "client", "list", "--json")
    assert code == 0 and {c["client_id"]: c["currency"] for c in json.loads(out)} == {"euro": "EUR", "none": None}
    code, out, err = run(capsys, "client", "update", "none", "--currency", "USD")
    assert code == 0 and "currency=USD" in out, err
    code, out, _ = run(capsys, "client", "list")
    assert code == 0 and "USD" in out and "EUR" in out
    code, out, err = run(capsys, "client", "update", "euro", "--currency", "EURO")
    assert (
        code == 1
        and out == ""
        and err == "xmo: unknown currency 'EURO': give an ISO 4217 code such as EUR, USD or GBP\n"
    )
