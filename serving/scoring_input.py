"""Scoring request bodies read column by column: ``SessionRecord``'s rules without a Python object per session.

Three forms of one request, each read into the same validated columns (``SessionColumns``):

* rows, ``{"sessions": [record, …]}`` (``ScoreRequest``): parsed once (pydantic-core), the envelope and field
  names checked, then each field validated as one list by the very type and constraints ``SessionRecord``
  declares for it. Accepted exactly when ``ScoreRequest`` accepts it, with the same values and pydantic's
  messages, located as FastAPI locates body errors (``body.sessions.<i>.<field>``);
* columns, ``{"columns": {field: [value, …]}}`` (``ScoreColumnsRequest``): the same field lists without the
  rows, so there is no object per session to parse; errors at ``body.columns.<field>.<i>``;
* Arrow IPC (``application/vnd.apache.arrow.stream``; the stream format, or the file format that
  ``pyarrow.ipc.new_file`` and ``.arrow`` files use): one record batch or more with session fields as columns,
  checked with pyarrow compute instead of value by value; a value out of bounds is judged (and worded) by the
  field's pydantic type, so the three forms accept the same values.

Each form may also carry ``row_id`` (a key of a session, a column): the caller's own id per session, a string of
1 to 200 characters or a 64-bit integer. It is kept apart from the session fields (``SessionColumns.row_ids``),
so it is never a model feature, and only echoed back beside each score.
"""

from __future__ import annotations

import difflib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import repeat
from operator import itemgetter
from typing import Annotated, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pydantic_core
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from features.definitions import INPUT_COLUMNS, EncodedColumn
from serving.schemas import MAX_SCORE_BATCH, ROW_ID, SessionRecord, SessionToScore

ARROW_STREAM = "application/vnd.apache.arrow.stream"
ARROW_FILE_MAGIC = b"ARROW1"  # an Arrow IPC file starts with it (then 2 padding bytes) and ends with it
ARROW_FILE_HEADER_BYTES = 8
MAX_REPORTED_ERRORS = 50
SESSION_FIELDS: tuple[str, ...] = tuple(SessionRecord.model_fields)
_FIELD_SET = frozenset(SESSION_FIELDS)
ACCEPTED_FIELDS: tuple[str, ...] = (*SESSION_FIELDS, ROW_ID)  # the session fields, and the caller's row id
_ACCEPTED_SET = frozenset(ACCEPTED_FIELDS)
_BODY = "body"
_MIN_START = np.datetime64("0001-01-01T00:00:00", "us")
_MAX_START = np.datetime64("9999-12-31T23:59:59.999999", "us")


class _Envelope(BaseModel):
    """``ScoreRequest`` with its sessions left unvalidated."""

    model_config = ConfigDict(extra="forbid")

    sessions: list[Any] = Field(min_length=1, max_length=MAX_SCORE_BATCH)


@dataclass(frozen=True)
class SessionColumns:
    """Validated sessions as columns: field → one value per session, for the fields any session sent.

    Values are lists of Python values (None for missing) or, read from Arrow, ``EncodedColumn`` for text,
    float64 arrays with NaN for missing numbers and ``datetime64`` UTC instants with NaT for missing starts.
    ``row_ids`` holds the caller's ``row_id`` per session (None where one was not sent), or is None when no
    session sent one: it is never a column, so never a feature.
    """

    columns: dict[str, Any]
    n_rows: int
    row_ids: list[str | int | None] | None = None


def _split_row_ids(columns: dict[str, Any], n_rows: int) -> SessionColumns:
    """The validated columns, with the caller's row ids taken out of them."""
    row_ids = columns.pop(ROW_ID, None)
    return SessionColumns(columns, n_rows, None if row_ids is None else list(row_ids))


@cache
def _column_adapters() -> dict[str, TypeAdapter[list[Any]]]:
    """One adapter per field (and ``row_id``): a list of the field's type with the field's constraints."""
    adapters: dict[str, TypeAdapter[list[Any]]] = {}
    for name, info in SessionToScore.model_fields.items():
        item: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        adapters[name] = TypeAdapter(list[item])
    return adapters


def _errors(errors: list[ErrorDetails], prefix: tuple[str | int, ...]) -> list[dict[str, Any]]:
    return [
        {
            "loc": (*prefix, *e["loc"]),
            "msg": _with_suggestion(e["msg"], e["type"], (*prefix, *e["loc"])),
            "type": e["type"],
        }
        for e in errors
    ]


def _with_suggestion(message: str, kind: str, loc: tuple[str | int, ...]) -> str:
    """pydantic's "Extra inputs are not permitted" for a field of a session (``body.sessions.<i>.<name>``), with
    the likely field and the list."""
    if kind != "extra_forbidden" or len(loc) != 4 or loc[1] != "sessions" or not isinstance(loc[-1], str):
        return message
    return unknown_field_message(loc[-1])


def unknown_field_message(name: str) -> str:
    """Why ``name`` is refused as a session field: the closest field names, and where the list is."""
    close = difflib.get_close_matches(name.lower(), ACCEPTED_FIELDS, n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return (
        f"Extra inputs are not permitted: {name!r} is not a session field{hint} "
        f"(the fields: {', '.join(SESSION_FIELDS)}; and {ROW_ID}, your own id per session)"
    )


def _invalid(errors: list[dict[str, Any]]) -> RequestValidationError:
    return RequestValidationError(errors[:MAX_REPORTED_ERRORS])


def _refusal(loc: tuple[str | int, ...], msg: str, kind: str) -> RequestValidationError:
    return _invalid([{"loc": loc, "msg": msg, "type": kind}])


def is_arrow(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` names an Arrow IPC stream."""
    return (content_type or "").split(";", 1)[0].strip().lower() == ARROW_STREAM


def read_score_body(body: bytes, content_type: str | None = None) -> SessionColumns:
    """The sessions of a ``POST /v1/score`` body; ``RequestValidationError`` (a 422) for a bad one."""
    if is_arrow(content_type):
        return arrow_columns(body)
    try:
        payload = pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        reason = str(exc)
        if b"NaN" in body or b"Infinity" in body:
            reason += "; NaN and Infinity are not numbers in JSON: send null for a missing value"
        error = {
            "loc": (_BODY,),
            "msg": f"JSON decode error: {reason}",
            "type": "json_invalid",
            "ctx": {"error": reason},
        }
        raise _invalid([error]) from exc
    return session_columns(payload)


def session_columns(payload: Any) -> SessionColumns:
    """Validated columns of a parsed body: ``{"sessions": [record, …]}`` or ``{"columns": {field: […]}}``."""
    if not isinstance(payload, dict):
        shape = 'Input should be an object: {"sessions": [session, …]} or {"columns": {field: [value, …]}}'
        raise _refusal((_BODY,), shape, "dict_type")
    if "columns" in payload:
        return _json_columns(payload)
    if "sessions" not in payload:
        _refuse_unwrapped(payload)
    try:
        rows = _Envelope.model_validate(payload).sessions
    except ValidationError as exc:
        raise _invalid(_errors(exc.errors(), (_BODY,))) from exc
    if set(map(type, rows)) != {dict}:
        raise _invalid(_row_errors(rows))  # the sessions in question, validated one by one, say what is wrong
    present = set().union(*rows)
    if not present <= _ACCEPTED_SET:
        raise _invalid(_row_errors(rows))
    names = [name for name in ACCEPTED_FIELDS if name in present]
    columns: dict[str, Any] = dict(zip(names, _transpose(rows, names), strict=True))
    errors: list[tuple[int, int, dict[str, Any]]] = []
    adapters = _column_adapters()
    for position, name in enumerate(names):
        try:
            columns[name] = adapters[name].validate_python(columns[name])
        except ValidationError as exc:
            for error in exc.errors():
                row = int(error["loc"][0])
                located = {"loc": (_BODY, "sessions", row, name), "msg": error["msg"], "type": error["type"]}
                errors.append((row, position, located))
    if errors:
        raise _invalid([error for _, _, error in sorted(errors, key=lambda e: (e[0], e[1]))])
    return _split_row_ids(columns, len(rows))


def _refuse_unwrapped(payload: dict[str, Any]) -> None:
    """A body without "sessions" or "columns": one session sent bare, or the envelope's key misspelled."""
    if set(payload) & _ACCEPTED_SET:  # at least one session field: a session sent without its envelope
        message = 'Input should wrap the session in a list under "sessions": {"sessions": [{…}]} (up to 10000)'
        raise _refusal((_BODY,), message, "missing_envelope")
    for key in payload:
        close = difflib.get_close_matches(key.lower(), ("sessions", "columns"), n=1, cutoff=0.6)
        if close:
            message = f'Extra inputs are not permitted: did you mean "{close[0]}"? Send {{"sessions": [...]}}'
            raise _refusal((_BODY, key), message, "extra_forbidden")


def _transpose(rows: list[dict[str, Any]], names: list[str]) -> list[Sequence[Any]]:
    """The values of each field in ``names``, one per row (None where a row lacks the field)."""
    if set(map(len, rows)) == {len(names)}:  # every row has every field
        return [list(map(itemgetter(name), rows)) for name in names]
    return [list(map(dict.get, rows, repeat(name))) for name in names]


def _row_errors(rows: list[Any]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for row, record in enumerate(rows):
        if type(record) is dict and _ACCEPTED_SET.issuperset(record):
            continue
        try:
            SessionToScore.model_validate(record)
        except ValidationError as exc:
            errors.extend(_errors(exc.errors(), (_BODY, "sessions", row)))
        if len(errors) >= MAX_REPORTED_ERRORS:
            break
    return errors


# the column forms: JSON columns and Arrow --------------------------------------------------------------------
def _check_names_and_length(names: list[str], lengths: list[int]) -> int:
    """The common length of the columns ``names`` (a 422 for an unknown field, ragged or bad lengths)."""
    where = (_BODY, "columns")
    if not names:
        raise _refusal(where, "Input should name at least one session field", "too_short")
    unknown = [name for name in names if name not in _ACCEPTED_SET]
    if unknown:
        raise _invalid(
            [{"loc": (*where, n), "msg": unknown_field_message(n), "type": "extra_forbidden"} for n in unknown]
        )
    n_rows = lengths[0]
    for name, length in zip(names, lengths, strict=True):
        if length != n_rows:
            message = f"Columns should be equally long: {names[0]} has {n_rows} values, {name} has {length}"
            raise _refusal((*where, name), message, "ragged_columns")
    if n_rows < 1:
        raise _refusal((*where, names[0]), "Columns should have at least 1 value (one per session)", "too_short")
    if n_rows > MAX_SCORE_BATCH:
        message = f"Columns should have at most {MAX_SCORE_BATCH} values (one per session), not {n_rows}"
        raise _refusal((*where, names[0]), message, "too_long")
    return n_rows


def _json_columns(payload: dict[str, Any]) -> SessionColumns:
    """Validated columns of ``{"columns": {field: [value, …]}}``."""
    if len(payload) > 1:
        extra = sorted(key for key in payload if key != "columns")
        message = 'Extra inputs are not permitted: send either "sessions" or "columns"'
        raise _invalid([{"loc": (_BODY, key), "msg": message, "type": "extra_forbidden"} for key in extra])
    given = payload["columns"]
    if not isinstance(given, dict):
        raise _refusal((_BODY, "columns"), "Input should be an object: {field: [value, …]}", "dict_type")
    not_lists = [name for name, values in given.items() if not isinstance(values, list)]
    if not_lists:
        message = "Input should be a valid list (one value per session)"
        raise _invalid([{"loc": (_BODY, "columns", n), "msg": message, "type": "list_type"} for n in not_lists])
    names = list(given)
    n_rows = _check_names_and_length(names, [len(given[name]) for name in names])
    columns: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    adapters = _column_adapters()
    for name in ACCEPTED_FIELDS:
        if name not in given:
            continue
        try:
            columns[name] = adapters[name].validate_python(given[name])
        except ValidationError as exc:
            errors.extend(_errors(exc.errors(), (_BODY, "columns", name)))
    if errors:
        raise _invalid(errors)
    return _split_row_ids(columns, n_rows)


def arrow_columns(body: bytes) -> SessionColumns:
    """Validated columns of Arrow IPC (``ARROW_STREAM``) of session fields: a stream, or a file (``.arrow``, the
    random-access format: its messages are checked like a stream's, then its footer reads them)."""
    buffer = pa.py_buffer(body)
    try:
        if body.startswith(ARROW_FILE_MAGIC):
            _check_arrow_messages(buffer.slice(ARROW_FILE_HEADER_BYTES))
            table = pa.ipc.open_file(buffer).read_all()
        else:
            _check_arrow_messages(buffer)
            table = pa.ipc.open_stream(buffer).read_all()
        table.validate(full=True)
    except (pa.ArrowException, OSError, ValueError, struct.error, IndexError, OverflowError) as exc:
        raise _refusal((_BODY,), f"Input should be an Arrow IPC stream: {exc}", "arrow_invalid") from exc
    names = list(table.column_names)
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise _refusal((_BODY, "columns", twice[0]), "Columns should have distinct names", "duplicate_column")
    n_rows = _check_names_and_length(names, [table.num_rows] * len(names))
    columns: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for name in ACCEPTED_FIELDS:
        if name not in names:
            continue
        try:
            values = _arrow_field(name, table.column(name).combine_chunks())
        except _FieldErrors as exc:
            errors.extend(exc.errors)
            continue
        except pa.ArrowException as exc:  # a type or layout the checks above let through and pyarrow cannot read
            message = f"Input should be a column of a session field's type: {exc}"
            errors.append({"loc": (_BODY, "columns", name), "msg": message, "type": "arrow_invalid"})
            continue
        if values is not None:
            columns[name] = values
    if errors:
        raise _invalid(errors)
    return _split_row_ids(columns, n_rows)


class _FieldErrors(Exception):
    """The located errors of one Arrow column."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _located(name: str, rows: np.ndarray, exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors for the values of ``rows`` (validated as one list), located at their rows."""
    return [
        {
            "loc": (_BODY, "columns", name, int(rows[int(e["loc"][0])]), *e["loc"][1:]),
            "msg": e["msg"],
            "type": e["type"],
        }
        for e in exc.errors()
    ]


def _judge(name: str, column: pa.Array, suspect: np.ndarray) -> None:
    """Let the field's pydantic type judge the ``suspect`` rows (a boolean mask); raise its errors."""
    rows = np.flatnonzero(suspect)[:MAX_REPORTED_ERRORS]
    if not len(rows):
        return
    try:
        _column_adapters()[name].validate_python(column.take(pa.array(rows)).to_pylist())
    except ValidationError as exc:
        raise _FieldErrors(_located(name, rows, exc)) from exc


def _type_error(name: str, expected: str, column: pa.Array) -> _FieldErrors:
    message = f"Input should be {expected}, not Arrow {column.type}"
    return _FieldErrors([{"loc": (_BODY, "columns", name), "msg": message, "type": "arrow_type"}])


def _arrow_field(name: str, column: pa.Array) -> Any:
    """A checked Arrow column as ``SessionColumns`` holds it (None when it is all null by type)."""
    if name == ROW_ID:
        return _arrow_row_ids(column)
    if pa.types.is_null(column.type):
        return None
    annotation = SessionRecord.model_fields[name].annotation
    if name == "started_at":
        return _arrow_starts(name, column)
    if annotation in (int | None, float | None):
        return _arrow_numbers(name, column, integral=annotation == int | None)
    return _arrow_text(name, column)


def _constraint(name: str, attribute: str, default: float) -> float:
    """A bound ``SessionRecord`` declares for a field (``ge``, ``le``, ``max_length``), or ``default``."""
    for constraint in SessionRecord.model_fields[name].metadata:
        value = getattr(constraint, attribute, None)
        if value is not None:
            return float(value)
    return default


def _arrow_numbers(name: str, column: pa.Array, *, integral: bool) -> np.ndarray:
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        raise _type_error(name, "integers" if integral else "numbers", column)
    values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)  # nulls become NaN
    low, high = _constraint(name, "ge", -np.inf), _constraint(name, "le", np.inf)
    with np.errstate(invalid="ignore"):
        good = (values >= low) & (values <= high)
        if integral:
            good &= np.floor(values) == values
    present = np.ones(len(column), dtype=bool) if column.null_count == 0 else column.is_valid().to_numpy(False)
    _judge(name, column, present & ~good)
    return values


def _arrow_text(name: str, column: pa.Array) -> EncodedColumn | None:
    """Strings or dictionaries of strings, as an ``EncodedColumn`` (None for a field the model never reads)."""
    if pa.types.is_string_view(column.type):
        column = column.cast(pa.string())
    text = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if not (pa.types.is_string(text) or pa.types.is_large_string(text)):
        raise _type_error(name, "strings", column)
    longest = _constraint(name, "max_length", np.inf)
    if name not in INPUT_COLUMNS and not pa.types.is_dictionary(column.type):  # only its lengths matter
        lengths = pc.utf8_length(column)
        if (pc.max(lengths).as_py() or 0) > longest:
            _judge(name, column, pc.greater(lengths, longest).fill_null(False).to_numpy(zero_copy_only=False))
        return None
    encoded = column if pa.types.is_dictionary(column.type) else column.dictionary_encode()
    codes = encoded.indices.cast(pa.int64()).fill_null(-1).to_numpy(zero_copy_only=False)
    too_long = np.nan_to_num(pc.utf8_length(encoded.dictionary).to_numpy(zero_copy_only=False), nan=0) > longest
    if too_long.any():
        _judge(name, column, np.isin(codes, np.flatnonzero(too_long)))
    return EncodedColumn(encoded.dictionary.to_pylist(), codes) if name in INPUT_COLUMNS else None


def _arrow_row_ids(column: pa.Array) -> list[Any]:
    """The caller's row ids: strings (or dictionaries of strings) or integers, judged as in JSON."""
    text = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if not (
        pa.types.is_null(text)
        or pa.types.is_string(text)
        or pa.types.is_large_string(text)
        or pa.types.is_string_view(text)
        or pa.types.is_integer(text)
    ):
        raise _type_error(ROW_ID, "strings or integers", column)
    values = column.to_pylist()
    try:
        return _column_adapters()[ROW_ID].validate_python(values)
    except ValidationError as exc:
        raise _FieldErrors(_errors(exc.errors()[:MAX_REPORTED_ERRORS], (_BODY, "columns", ROW_ID))) from exc


def _arrow_starts(name: str, column: pa.Array) -> Any:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
        try:  # ISO 8601 text: exactly as JSON has it
            return _column_adapters()[name].validate_python(column.to_pylist())
        except ValidationError as exc:
            raise _FieldErrors(_errors(exc.errors(), (_BODY, "columns", name))) from exc
    if not pa.types.is_timestamp(column.type):
        raise _type_error(name, "timestamps (zone-less read as UTC) or ISO 8601 strings", column)
    instants = column.to_numpy(zero_copy_only=False)  # UTC datetime64, NaT for nulls
    if np.datetime_data(instants.dtype)[0] == "ns":
        return instants  # nanoseconds since 1970 reach the years 1677 to 2262 only
    low, high = _MIN_START.astype(instants.dtype), _MAX_START.astype(instants.dtype)  # bounds in the same unit
    outside = ~np.isnat(instants) & ((instants < low) | (instants > high))
    if outside.any():
        rows = np.flatnonzero(outside)[:MAX_REPORTED_ERRORS]
        message = "Input should be a valid datetime, years 1 to 9999"
        raise _FieldErrors(
            [{"loc": (_BODY, "columns", name, int(r)), "msg": message, "type": "datetime_range"} for r in rows]
        )
    return instants


# Arrow IPC messages, read before anything is decoded ---------------------------------------------------------
class _FlatTable:
    """A flatbuffers table (the IPC message metadata format): just enough to read a few fields."""

    def __init__(self, data: bytes, position: int) -> None:
        self.data, self.position = data, position
        self.vtable = position - struct.unpack_from("<i", data, position)[0]
        if not 0 <= self.vtable < len(data):
            raise ValueError("message metadata points outside itself")
        self.vtable_size = struct.unpack_from("<H", data, self.vtable)[0]

    def _field(self, index: int) -> int:
        slot = 4 + 2 * index
        if slot + 2 > self.vtable_size:
            return 0
        offset: int = struct.unpack_from("<H", self.data, self.vtable + slot)[0]
        return self.position + offset if offset else 0

    def has(self, index: int) -> bool:
        return self._field(index) != 0

    def int64(self, index: int) -> int:
        at = self._field(index)
        return int(struct.unpack_from("<q", self.data, at)[0]) if at else 0

    def table(self, index: int) -> _FlatTable | None:
        at = self._field(index)
        return _FlatTable(self.data, at + struct.unpack_from("<I", self.data, at)[0]) if at else None


def _check_arrow_messages(buffer: pa.Buffer) -> None:
    """Refuse compressed buffers and more than ``MAX_SCORE_BATCH`` rows before any batch is decoded.

    A compressed buffer states the size it unpacks to, and a small body could unpack to gigabytes; the
    session fields compress poorly anyway. A malformed stream raises what reading it raises.
    """
    rows = 0
    for message in pa.ipc.MessageReader.open_stream(buffer):
        if message.type not in ("record batch", "dictionary batch"):
            continue
        metadata = message.metadata.to_pybytes()
        header = _FlatTable(metadata, struct.unpack_from("<I", metadata, 0)[0]).table(2)
        batch = header.table(1) if header is not None and message.type == "dictionary batch" else header
        if batch is None:
            raise ValueError(f"a {message.type} message without its header")
        if batch.has(3):
            message_text = "Input should be an uncompressed Arrow IPC stream (compressed buffers are not accepted)"
            raise _refusal((_BODY,), message_text, "arrow_compressed")
        if message.type == "record batch":
            length = batch.int64(0)
            if length < 0:
                raise ValueError(f"a record batch of {length} rows")
            rows += length
            if rows > MAX_SCORE_BATCH:
                too_many = f"Input should have at most {MAX_SCORE_BATCH} rows (one per session), not {rows} or more"
                raise _refusal((_BODY,), too_many, "too_long")
