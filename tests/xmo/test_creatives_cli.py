"""``xmo recommend creatives`` end to end on a simulated client: JSON for machines, tables and sentences for
people, segment and campaign options, and bad input as one line on stderr."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from core.settings import Settings
from core.tenants import Tenants
from tests.xmo.long_ids import PREFIX, Planted, ids_in, lengthened
from tracking.compactor import compact_all
from xmo import console
from xmo.cli import main
from xmo.commands.recommend_creatives import CSV_COLUMNS
from xmo.simulator.cli import run_simulation
from xmo.simulator.world import build_world

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)

DAYS, VISITORS, SEED = 14, 1500, 21


@pytest.fixture(scope="module")
def client_id(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("creatives") / "xmo-home"
    with home_at(home) as settings:
        Tenants.from_settings(settings).create_client("Acme", ["acme.example.com"], client_id="acme")
        run_simulation(settings, "acme", days=DAYS, visitors_per_day=VISITORS, seed=SEED)
        compact_all(settings)
        yield "acme"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_report(client_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "recommend", "creatives", client_id, "--json")
    assert code == 0, err
    report = json.loads(out)
    world = build_world(SEED, DAYS, VISITORS)
    assert report["client_id"] == client_id and report["segment_by"] == "device"
    assert {c["campaign_id"] for c in report["campaigns"]} == {c.id for c in world.campaigns}
    assert {r["segment"] for r in report["recommendations"]} >= {"all", "desktop", "mobile"}
    truth = world.best_creatives()
    for cell in report["recommendations"]:
        assert sum(c["share"] for c in cell["creatives"]) == pytest.approx(1.0)
        assert cell["best_creative_id"] == cell["creatives"][0]["creative_id"]
        assert cell["decision"] in ("run", "equivalent", "not_enough_data", "single_creative")
        if cell["decision"] == "run" and cell["segment"] in ("desktop", "mobile"):
            assert truth[cell["campaign_id"]][cell["segment"]] == cell["best_creative_id"]
        if cell["decision"] == "not_enough_data":
            assert cell["more_sessions_needed"] > 0
            assert "keep testing" in cell["sentences"][0]
    assert "visitor" not in out


def test_table_and_sentences(client_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "recommend", "creatives", client_id, "--campaign", "cmp-search-brand")
    assert code == 0, err
    assert "cmp-search-brand" in out and "chance" in out and "device" in out
    assert "P(best)" not in out and "CrI" not in out  # plain words
    assert "cmp-search-generic" not in out
    assert any(line.startswith("cmp-search-brand: ") for line in out.splitlines()), "the campaign's verdict"
    assert "Rates are pulled toward this campaign's average" in out  # what the shrunken rates mean


def test_csv_one_row_per_creative(client_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "recommend", "creatives", client_id, "--campaign", "cmp-search-brand", "--json")
    report = json.loads(out)
    code, out, err = run(
        capsys, "recommend", "creatives", client_id, "--campaign", "cmp-search-brand", "--format", "csv"
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(CSV_COLUMNS)
    expected = [(c["segment"], k["creative_id"]) for c in report["recommendations"] for k in c["creatives"]]
    assert [(r["segment"], r["creative_id"]) for r in rows] == expected
    assert {r["campaign_id"] for r in rows} == {"cmp-search-brand"}
    assert all(0 <= float(r["ci_low"]) <= float(r["posterior_mean"]) <= float(r["ci_high"]) for r in rows)


@pytest.mark.parametrize("width", [80, 200])
def test_tables_never_cut_long_ids(
    client_id: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    import strategy.creatives

    code, out, _ = run(capsys, "recommend", "creatives", client_id, "--json")
    planted = lengthened(json.loads(out))
    monkeypatch.setattr(strategy.creatives, "creative_report", lambda *args, **kwargs: Planted(planted))
    monkeypatch.setattr(console.out, "_width", width)
    code, out, err = run(capsys, "recommend", "creatives", client_id)
    assert code == 0, err
    ids = ids_in(planted["recommendations"])
    assert len(ids) > 10 and all(PREFIX in i for i in ids)
    assert ids <= set(out.split()), ids - set(out.split())
    assert "…" not in out


def test_segment_option(client_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        "recommend",
        "creatives",
        client_id,
        "--segment",
        "returning",
        "--campaign",
        "cmp-search-brand",
        "--json",
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["segment_by"] == "returning"
    assert {r["segment"] for r in report["recommendations"]} == {"all", "new", "returning"}
    assert {r["campaign_id"] for r in report["recommendations"]} == {"cmp-search-brand"}
    code, out, err = run(capsys, "recommend", "creatives", client_id, "--segment", "channel", "--json")
    assert code == 0, err
    assert {r["segment"] for r in json.loads(out)["recommendations"]} >= {"search", "social", "email"}


def test_bad_input(client_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "recommend", "creatives", client_id, "--segment", "browser")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--segment" in err and "device, returning, region, channel" in err
    code, out, err = run(capsys, "recommend", "creatives", client_id, "--campaign", "cmp-nope")
    assert code == 1 and out == ""
    assert err.startswith("xmo: no sessions of campaign 'cmp-nope'") and err.count("\n") == 1
    code, _, err = run(capsys, "recommend", "creatives", "nobody")
    assert code == 1 and "nobody" in err and err.count("\n") == 1
