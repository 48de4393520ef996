"""``xmo.output``: the format chosen from --format/--json, csv rows, ranges, and tables that never cut an id."""

from __future__ import annotations

import csv
import io

import pytest
import typer
from rich.console import Console
from rich.table import Table

from xmo.output import (
    OutputFormat,
    chosen_format,
    emit,
    emit_csv,
    fit,
    id_column,
    id_header,
    print_table,
    spread,
    with_range,
)

# Long ids that share a prefix: a cut id ("cmp-affiliate-partners-…") cannot be told from its neighbours.
IDS = [f"cmp-affiliate-partners-spring-sale-2026-creative-{c}" for c in "abc"]
VERDICT = "not enough data yet (≈21,000 more sessions needed)"


def console(width: int) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=width, soft_wrap=True, highlight=False), buffer


def table_of_ids() -> Table:
    table = Table(id_header("campaign"), "sessions", "conversion rate (95 % range)", "verdict", title="t")
    id_column(table, "creative")
    for n, creative in enumerate(IDS):
        table.add_row(IDS[0], f"{n * 1000:,}", with_range(0.0552, [0.0398, 0.0754], ".2%"), VERDICT, creative)
    return table


def test_chosen_format() -> None:
    assert chosen_format(None) is OutputFormat.TABLE
    assert chosen_format(None, as_json=True) is OutputFormat.JSON
    assert chosen_format(OutputFormat.CSV) is OutputFormat.CSV
    assert chosen_format(OutputFormat.JSON, as_json=True) is OutputFormat.JSON
    with pytest.raises(typer.BadParameter, match="--json and --format csv disagree"):
        chosen_format(OutputFormat.CSV, as_json=True)


def test_csv_rows_neutralise_formulas(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        spread({"campaign_id": "=HYPERLINK(1)", "rate": 0.5, "rate_interval": [0.25, None], "spend": None}),
        spread({"campaign_id": IDS[0], "rate": -0.5, "rate_interval": [0.1, 0.9], "spend": 3}),
    ]
    assert list(rows[0]) == ["campaign_id", "rate", "rate_low", "rate_high", "spend"]
    assert emit(OutputFormat.CSV, {}, rows, None)
    parsed = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert parsed == [
        ["campaign_id", "rate", "rate_low", "rate_high", "spend"],
        ["'=HYPERLINK(1)", "0.5", "0.25", "", ""],
        [IDS[0], "-0.5", "0.1", "0.9", "3"],
    ]
    emit_csv([{"spend": 110.45999999999998, "rate": 0.012345678, "n": 3, "inf": float("inf")}])
    assert capsys.readouterr().out == "spend,rate,n,inf\n110.46,0.012346,3,inf\n", "float noise is rounded away"
    emit_csv([], ["a", "b"])  # no rows: the header alone
    assert capsys.readouterr().out == "a,b\n"
    assert not emit(OutputFormat.TABLE, {}, rows, None)


def test_with_range() -> None:
    assert with_range(0.0552, [0.0398, 0.0754], ".2%") == "5.52% (3.98% – 7.54%)"
    assert with_range(2.5, [1.0, None], ",.2f") == "2.50 (1.00 – ∞)"
    assert with_range(2.5, [None, None], ",.2f") == "2.50"
    assert with_range(None, [1.0, 2.0], ",.2f") == "–"


@pytest.mark.parametrize("width", [80, 200])
def test_print_table_never_cuts_an_id(width: int) -> None:
    screen, buffer = console(width)
    print_table(table_of_ids(), screen)
    text = buffer.getvalue()
    for creative in IDS:
        assert creative in text  # whole, on one line
    assert "…" not in text  # and no other cell is cut either: words wrap
    assert "(≈21,000" in text and "sessions" in text


def test_fit_wraps_other_columns_first() -> None:
    screen, _ = console(200)
    assert fit(table_of_ids(), 200, screen) <= 200  # fits a wide terminal as it is
    narrow = table_of_ids()
    width = fit(narrow, 80, screen)
    ids = 2 * len(IDS[0])
    assert ids < width < 200 and narrow.width == width  # wider than 80 only as far as ids and words need
    assert narrow.columns[3].width == len("(≈21,000")  # the verdict wraps down to its longest word


def test_plain_print_keeps_id_columns_whole() -> None:
    screen, buffer = console(80)
    screen.print(table_of_ids())  # without print_table: rich shrinks every column, but ids stay whole
    for creative in IDS:
        assert creative in buffer.getvalue()
