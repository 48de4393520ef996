"""How report and recommendation commands print results: ``--format table|csv|json``.

- **table** (the default): rich tables for people. Ids (campaign, creative, channel, segment values, client ids)
  are what people copy into the next command, so an id column is never cut (:func:`id_column`, :func:`id_header`):
  :func:`print_table` lets the other columns wrap at word boundaries, and only when the ids and the longest word
  of every other column cannot fit the terminal (80 columns when stdout is not one) is the table wider than it.
- **csv**: one header row, then one row per item of the command's main table, for spreadsheets and scripts;
  text cells that a spreadsheet would run as formulas are neutralised (:mod:`core.csv_cells`).
- **json**: the full result document (what ``--json`` printed before; ``--json`` stays as its shorthand).
"""

from __future__ import annotations

import csv
import math
import re
import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any, Literal

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

from core.csv_cells import safe_text
from xmo.console import emit_json, out

CSV_DECIMALS = 6
"""Decimals kept in CSV number cells: amounts to the cent, rates to a ten-thousandth of a percent."""


class OutputFormat(StrEnum):
    """What a report or recommendation command prints on stdout."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


FormatOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format",
        case_sensitive=False,
        help="table (for people), csv (one row per item) or json (the full result).",
        show_default="table",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")]


def chosen_format(fmt: OutputFormat | None, as_json: bool = False) -> OutputFormat:
    """The format asked for: ``--format`` wins, ``--json`` means json, else table; both disagreeing is an error."""
    if as_json and fmt not in (None, OutputFormat.JSON):
        raise typer.BadParameter(f"--json and --format {fmt.value} disagree: give one", param_hint="--format")
    if fmt is not None:
        return fmt
    return OutputFormat.JSON if as_json else OutputFormat.TABLE


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, (list, tuple)):
        return safe_text(" – ".join("" if v is None else str(_cell(v)) for v in value))
    if isinstance(value, float) and math.isfinite(value):
        return round(value, CSV_DECIMALS)  # 110.45999999999998 is float noise, not information
    return value


def emit_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Write ``rows`` as CSV to stdout: a header of ``columns`` (default: the first row's keys), then the rows.

    A list value (an interval) becomes ``low – high``; ``None`` an empty cell; text cells are neutralised.
    """
    names = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in names])
    sys.stdout.flush()


def emit(fmt: OutputFormat, document: Any, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None) -> bool:
    """Print ``document`` (json) or ``rows`` (csv); ``False`` when ``fmt`` is table and the caller prints it."""
    if fmt is OutputFormat.JSON:
        emit_json(document)
        return True
    if fmt is OutputFormat.CSV:
        emit_csv(rows, columns)
        return True
    return False


def spread(row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` with each ``x_interval: [low, high]`` as two columns ``x_low`` and ``x_high`` (for csv)."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if key.endswith("_interval") and isinstance(value, (list, tuple)) and len(value) == 2:
            stem = key.removesuffix("_interval")
            flat[f"{stem}_low"], flat[f"{stem}_high"] = value
        else:
            flat[key] = value
    return flat


def with_range(value: float | None, bounds: Sequence[float | None] | None, pattern: str) -> str:
    """``value (low – high)`` for a table cell; ``–`` for no value, ``∞`` for an open upper bound.

    The spaces around the dash let a narrow column wrap the range instead of cutting it.
    """
    if value is None:
        return "–"
    shown = format(value, pattern)
    if not bounds or bounds[0] is None:
        return shown
    high = "∞" if bounds[1] is None else format(bounds[1], pattern)
    return f"{shown} ({format(bounds[0], pattern)} – {high})"


_CHUNK_BREAK = re.compile(r" (?!–)")  # where a line may wrap: any space but the one before a range's dash


def _lines(cell: Any) -> list[str]:
    """The lines of a str (rich markup) or Text cell; none for other renderables."""
    if isinstance(cell, str):
        cell = Text.from_markup(cell)
    return cell.plain.split("\n") if isinstance(cell, Text) else []


def _width(cell: Any) -> int:
    """The widest line of a cell."""
    return max((cell_len(line) for line in _lines(cell)), default=0)


def _widest_chunk(cell: Any) -> int:
    """The widest run of a cell that should stay on one line: a word, with a range's dash (`` –``) kept on it."""
    return max((cell_len(chunk) for line in _lines(cell) for chunk in _CHUNK_BREAK.split(line)), default=0)


class _IdColumn(Column):
    """A column that is never narrower than its widest id: rich may shrink every other column, not this one.

    rich's last resort for a table wider than the terminal shrinks every column evenly; its minimum width
    (clamped after that step) here follows the cells, so an id is printed whole even by a plain ``print``.
    """

    @property
    def min_width(self) -> int:
        """The width of the widest cell (the header included)."""
        return max(_width(self.header), *(_width(cell) for cell in self.cells))

    @min_width.setter
    def min_width(self, value: int | None) -> None:
        """Ignored: the width follows the ids."""


def id_header(header: str, justify: Literal["left", "right"] = "left") -> Column:
    """An id column for ``Table(...)``: ``Table(id_header("client_id"), "name", ...)``."""
    return _IdColumn(header=header, no_wrap=True, overflow="ignore", justify=justify)


def id_column(table: Table, header: str) -> None:
    """Add a column of ids that rich never cuts or folds: ids are what people copy into the next command."""
    column = id_header(header)
    column._index = len(table.columns)  # what Table(...) sets on a Column it is given
    table.columns.append(column)


def _span(console: Console, column: Column) -> tuple[int, int, int]:
    """Content widths of ``column`` (without padding): its longest word, its longest cell, its longest line."""
    if column.width is not None:
        return column.width, column.width, column.width
    options = console.options.update_width(10_000)
    header = Measurement.get(console, options, column.header)
    cells = [Measurement.get(console, options, cell) for cell in column.cells]
    high = max(header.maximum, *(size.maximum for size in cells))
    if isinstance(column, _IdColumn):
        high = max(high, column.min_width)
        return high, high, high
    chunks = (_widest_chunk(cell) for cell in column.cells)
    low = max(header.minimum, *(size.minimum for size in cells), column.min_width or 0, *chunks)
    widest_cell = max(low, *(size.maximum for size in cells))
    return low, widest_cell, max(widest_cell, high)


def fit(table: Table, width: int, console: Console | None = None) -> int:
    """Size the columns of ``table`` for ``width`` terminal columns and return the width it prints at.

    Id columns keep their widest id; the other columns give up room widest first, their headers wrapping before
    their cells, down to their longest word (words wrap, they are not cut). When even that does not fit, the
    table is wider than ``width``.
    """
    console = console or out
    spans = [_span(console, column) for column in table.columns]
    widths = [high for _, _, high in spans]
    table_measure = Measurement.get(console, console.options.update_width(10_000), table)
    overhead = table_measure.maximum - sum(widths)
    excess = sum(widths) + overhead - width
    if excess <= 0:
        return sum(widths) + overhead
    for floors in ([cell for _, cell, _ in spans], [low for low, _, _ in spans]):  # headers wrap first
        while excess > 0:
            shrinkable = [i for i, floor in enumerate(floors) if widths[i] > floor]
            if not shrinkable:
                break
            widest = max(shrinkable, key=lambda i: widths[i])
            widths[widest] -= 1
            excess -= 1
    for column, size in zip(table.columns, widths, strict=True):
        column.width = size
    total = sum(widths) + overhead
    table.width = max(total, width) if total > width else None
    return total


def print_table(table: Table, console: Console | None = None) -> None:
    """Print ``table`` on stdout (or ``console``) with every id whole and no word cut (see :func:`fit`)."""
    console = console or out
    fit(table, console.width, console)
    console.print(table, crop=False)
