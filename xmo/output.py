"""How report and recommendation commands print results: ``--format table|csv|json``.

- **table** (the default): rich tables for people; id columns never cut (:func:`id_column`).
- **csv**: one header row, then one row per item of the command's main table, for spreadsheets and scripts;
  text cells that a spreadsheet would run as formulas are neutralised (:mod:`core.csv_cells`).
- **json**: the full result document (what ``--json`` printed before; ``--json`` stays as its shorthand).
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from core.csv_cells import safe_text
from xmo.console import emit_json


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
        return safe_text(" – ".join("" if v is None else str(v) for v in value))
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


def id_column(table: Table, header: str) -> None:
    """Add a column of ids that rich never cuts or folds: ids are what people copy into the next command."""
    table.add_column(header, no_wrap=True, overflow="ignore", min_width=len(header))
