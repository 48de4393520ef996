"""Data-subject rights: erase one person's data (right to erasure) or hand it to them (right of access).

A person is named by cookie ids (visitor ids) and, where the client collects them, e-mail addresses or member
ids. Raw e-mail addresses and member ids are turned into the client's keyed pseudonyms here, exactly as the
edge does (``tracking.edge``), and never stored or logged. Every store that registered a ``SubjectStore``
(``privacy.stores``) takes part, in its ``order``; the action is audited with counts only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from core import audit
from core.database import get_engine
from core.errors import InvalidInput, NotFound
from core.layout import check_client_id
from core.settings import Settings
from core.tenants import Tenants
from privacy.keyvault import KeyVault
from privacy.pseudonyms import VISITOR_ID_PATTERN, IdentifierKind, pseudonymize
from privacy.stores import Subject, SubjectStore, subject_stores

PSEUDONYM_KEY_PURPOSE = "pseudonym"  # the sub-key the edge pseudonymizes with (tracking.policies.build_edge)
ERASE_ACTION = "subject.erase"
EXPORT_ACTION = "subject.export"
MAX_IDENTIFIERS = 100  # of each kind, per request
MAX_EMAIL_CHARS = 320
MAX_MEMBER_ID_CHARS = 200
_VISITOR_ID = re.compile(VISITOR_ID_PATTERN)


@dataclass(frozen=True)
class ErasureReport:
    """What an erasure removed, per store (counts only: no identifier)."""

    client_id: str
    counts: dict[str, int]
    identifiers: dict[str, int]  # how many visitor ids, e-mail addresses, member ids were given

    @property
    def total(self) -> int:
        """The sum of the stores' counts."""
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {"client_id": self.client_id, "counts": dict(self.counts), "identifiers": dict(self.identifiers)}


@dataclass(frozen=True)
class SubjectExport:
    """The records each store holds of one person (stores with none are left out)."""

    client_id: str
    records: dict[str, pa.Table] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        """Records per store."""
        return {name: table.num_rows for name, table in self.records.items()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document: per store, its records as objects (times as ISO 8601 text, UTC)."""
        return {
            "client_id": self.client_id,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "counts": self.counts,
            "records": {name: [_json_row(row) for row in table.to_pylist()] for name, table in self.records.items()},
        }


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value.isoformat() if isinstance(value, datetime) else value for name, value in row.items()}


def _cleaned(values: Iterable[str], what: str, max_chars: int, pattern: re.Pattern[str] | None = None) -> list[str]:
    """The values, checked; ``InvalidInput`` (naming no value) for a blank, overlong or malformed one."""
    cleaned = []
    for value in [values] if isinstance(values, str) else values:
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            raise InvalidInput(f"empty {what}: give a non-blank value")
        if len(text) > max_chars:
            raise InvalidInput(f"{what} longer than {max_chars} characters")
        if pattern is not None and not pattern.fullmatch(text):
            raise InvalidInput(f"malformed {what}: cookie ids have 16-64 letters, digits, '-' or '_'")
        cleaned.append(text)
    if len(cleaned) > MAX_IDENTIFIERS:
        raise InvalidInput(f"at most {MAX_IDENTIFIERS} of each kind of identifier per request")
    return list(dict.fromkeys(cleaned))


def subject_for(
    settings: Settings,
    client_id: str,
    *,
    visitor_ids: Iterable[str] = (),
    emails: Iterable[str] = (),
    member_ids: Iterable[str] = (),
    vault: KeyVault | None = None,
    tenants: Tenants | None = None,
) -> Subject:
    """The person of ``client_id`` these identifiers name, with e-mails and member ids as keyed pseudonyms.

    ``NotFound`` for an unknown client; ``InvalidInput`` when no identifier is given or one is blank,
    overlong or (for cookie ids) malformed. Nothing is written: a client without a key yet has made no
    pseudonyms, so its e-mails and member ids match nothing.
    """
    client_id = check_client_id(client_id)
    (tenants or Tenants.from_settings(settings)).get_client(client_id)
    visitors = _cleaned(visitor_ids, "visitor id", 64, _VISITOR_ID)
    mails = _cleaned(emails, "e-mail address", MAX_EMAIL_CHARS)
    members = _cleaned(member_ids, "member id", MAX_MEMBER_ID_CHARS)
    if not (visitors or mails or members):
        raise InvalidInput("name the person: give at least one visitor id, e-mail address or member id")
    vault = vault or KeyVault.from_settings(settings)
    email_pseudonyms: frozenset[str] = frozenset()
    member_pseudonyms: frozenset[str] = frozenset()
    if (mails or members) and vault.has_key(client_id):
        key = vault.derived_key(client_id, PSEUDONYM_KEY_PURPOSE)
        email_pseudonyms = frozenset(pseudonymize(key, IdentifierKind.EMAIL, m) for m in mails)
        member_pseudonyms = frozenset(pseudonymize(key, IdentifierKind.MEMBER, m) for m in members)
    return Subject(
        client_id=client_id,
        visitor_ids=frozenset(visitors),
        email_pseudonyms=email_pseudonyms,
        member_pseudonyms=member_pseudonyms,
    )


def identifier_counts(subject: Subject) -> dict[str, int]:
    """How many identifiers of each kind name the subject (for reports and the audit log)."""
    return {
        "visitor_ids": len(subject.visitor_ids),
        "email_pseudonyms": len(subject.email_pseudonyms),
        "member_pseudonyms": len(subject.member_pseudonyms),
    }


def _nothing_held(subject: Subject) -> NotFound:
    return NotFound(
        f"client {subject.client_id!r} holds no data of this person (never collected, or already erased); "
        "nothing was changed"
    )


def erase_subject(
    settings: Settings, subject: Subject, actor: str, stores: list[SubjectStore] | None = None
) -> ErasureReport:
    """Delete the person's data from every subject store, in order, and audit it (``subject.erase``, counts).

    ``NotFound`` when no store held anything of the person (then nothing changed and nothing is recorded).
    Every store's part is idempotent: an erasure interrupted midway is recorded with what it deleted
    (``complete: false``) and, run again, finishes the job.
    """
    if subject.is_empty():
        raise _nothing_held(subject)
    counts: dict[str, int] = {}
    try:
        for store in stores if stores is not None else subject_stores(settings):
            counts[store.name] = counts.get(store.name, 0) + int(store.forget_subject(subject))
    except BaseException:
        if sum(counts.values()):  # what was deleted before the failure is on record too
            _audit_erasure(settings, subject, actor, counts, complete=False)
        raise
    report = ErasureReport(subject.client_id, counts, identifier_counts(subject))
    if report.total == 0:
        raise _nothing_held(subject)
    _audit_erasure(settings, subject, actor, counts, complete=True)
    return report


def _audit_erasure(settings: Settings, subject: Subject, actor: str, counts: dict[str, int], *, complete: bool) -> None:
    details: dict[str, Any] = {"counts": counts, "identifiers": identifier_counts(subject)}
    if not complete:
        details["complete"] = False  # a store failed midway; running the erasure again finishes it
    with get_engine(settings).begin() as connection:
        audit.record(connection, actor=actor, action=ERASE_ACTION, client_id=subject.client_id, details=details)


def export_subject(
    settings: Settings, subject: Subject, actor: str, stores: list[SubjectStore] | None = None
) -> SubjectExport:
    """The person's records from every subject store, audited (``subject.export``, counts only).

    ``NotFound`` when no store holds anything of the person (nothing is recorded then).
    """
    if subject.is_empty():
        raise _nothing_held(subject)
    records: dict[str, pa.Table] = {}
    for store in stores if stores is not None else subject_stores(settings):
        table = store.subject_records(subject)
        if table is not None and table.num_rows:
            records[store.name] = pa.concat_tables([records[store.name], table]) if store.name in records else table
    export = SubjectExport(subject.client_id, records)
    if not records:
        raise _nothing_held(subject)
    with get_engine(settings).begin() as connection:
        audit.record(
            connection,
            actor=actor,
            action=EXPORT_ACTION,
            client_id=subject.client_id,
            details={"counts": export.counts, "identifiers": identifier_counts(subject)},
        )
    return export
