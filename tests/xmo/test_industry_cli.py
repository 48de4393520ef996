"""``xmo benchmarks industry``: pooled cells as JSON or a table, no client ids, raise-only thresholds, noise
with a stated epsilon, one-line errors, and an audit entry per publication."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console

from core import audit
from core.settings import Settings
from core.tenants import Tenants
from tracking.compactor import compact_all
from xmo.cli import main
from xmo.commands.industry import cells_table
from xmo.output import print_table
from xmo.simulator.cli import run_simulation

POOLED = ("alpha7q", "bravo3k", "charl9z")
OUTSIDER = "delta5x"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def home(xmo_home: Path, capsys: pytest.CaptureFixture[str]) -> Settings:
    settings = Settings(home=xmo_home, compact_interval_s=0)
    for seed, client_id in enumerate((*POOLED, OUTSIDER), start=1):
        flags = ["--benchmarks-opt-in"] if client_id in POOLED else []
        code, _, err = run(
            capsys, "client", "create", client_id, "-d", f"{client_id}.example", "--id", client_id, *flags
        )
        assert code == 0, err
        run_simulation(settings, client_id, days=2, visitors_per_day=120, seed=seed, start=date(2026, 4, 6))
    compact_all(settings)
    return settings


def test_json_and_table(home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "benchmarks", "industry", "--by", "channel", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["by"] == "channel" and data["cells"] and data["epsilon"] is None
    assert {"channel", "visitors", "conversion_rate", "conversion_rate_interval", "cpa"} <= set(data["cells"][0])
    assert not [cid for cid in (*POOLED, OUTSIDER) if cid in out]
    code, out, err = run(capsys, "benchmarks", "industry", "--by", "device")
    assert code == 0, err
    assert "visitors" in out and "desktop" in out and "CPA" not in out
    assert "range)" in out and "interval" not in out and "CR " not in out  # plain words
    assert "suppressed" in err and "no noise" in err
    code, out, err = run(capsys, "benchmarks", "industry", "--by", "channel", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["channel"] for r in rows] == [c["channel"] for c in data["cells"]]
    assert list(rows[0]) == [
        "channel",
        *("visitors", "converted_visitors", "sessions", "conversions"),
        *("conversion_rate", "conversion_rate_low", "conversion_rate_high", "cpa", "cpa_low", "cpa_high"),
    ]
    assert [int(r["visitors"]) for r in rows] == [c["visitors"] for c in data["cells"]]
    entries = [e for e in audit.entries(Tenants.from_settings(home).engine) if e.action == "benchmarks.industry"]
    assert [(e.actor, e.client_id, e.details["by"]) for e in entries] == [
        ("cli", None, "channel"),
        ("cli", None, "device"),
        ("cli", None, "channel"),
    ]


@pytest.mark.parametrize("width", [80, 200])
def test_table_never_cuts_a_long_cell_name(width: int) -> None:
    names = [f"paid-social-partner-network-spring-{n}" for n in ("north", "south", "east", "west")]
    cell = {"visitors": 1200, "converted_visitors": 80, "sessions": 1500, "conversions": 90}
    ranges = {"conversion_rate": 0.06, "conversion_rate_interval": [0.05, 0.07], "cpa": 12.5, "cpa_interval": [9, 17]}
    data = {"by": "channel", "confidence": 0.95, "cells": [{"channel": n, **cell, **ranges} for n in names]}
    buffer = io.StringIO()
    print_table(cells_table(data), Console(file=buffer, width=width, soft_wrap=True))
    assert set(names) <= set(buffer.getvalue().split()) and "…" not in buffer.getvalue()


def test_noise_and_raised_thresholds(home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, exact, _ = run(capsys, "benchmarks", "industry", "--json")
    code, noisy, err = run(capsys, "benchmarks", "industry", "--epsilon", "0.5", "--json")
    assert code == 0, err
    noisy_data, exact_data = json.loads(noisy), json.loads(exact)
    assert noisy_data["epsilon"] == 0.5 and noisy_data["noise_scales"]["visitors"] == 10.0
    assert [c["channel"] for c in noisy_data["cells"]] == [c["channel"] for c in exact_data["cells"]]
    assert run(capsys, "benchmarks", "industry", "--epsilon", "0.5", "--json")[1] == noisy
    code, out, _ = run(capsys, "benchmarks", "industry", "--min-clients", "4")
    assert code == 0 and "nothing to publish" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "campaign"], "unknown grouping 'campaign'"),
        (["--min-visitors", "3"], "never lowered"),
        (["--min-clients", "2"], "never lowered"),
        (["--epsilon", "0"], "epsilon must be"),
        (["--epsilon", "-1"], "epsilon must be"),
    ],
)
def test_bad_input_is_one_line_and_publishes_nothing(
    xmo_home: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, "benchmarks", "industry", *args)
    assert code == 1 and out == "" and err.count("\n") == 1 and message in err, err
    entries = audit.entries(Tenants.from_settings(Settings(home=xmo_home)).engine)
    assert not [e for e in entries if e.action == "benchmarks.industry"]
