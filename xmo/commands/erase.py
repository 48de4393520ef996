"""``xmo erase`` and ``xmo subject-export``: a data subject's right to erasure and right of access.

E-mail addresses and member ids given here are turned into the client's keyed pseudonyms at once
(``privacy.erasure.subject_for``) and never printed, logged or stored. The export is JSON: it is meant for a
person (readable in any text editor, the usual form of an access request's answer), a person's records are
few, and it has the same shape as ``POST /v1/subject-export`` answers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from core.audit import CLI_ACTOR
from core.errors import Conflict, InvalidInput
from core.files import atomic_write
from xmo.commands.common import load_settings
from xmo.console import emit_json, err, out

if TYPE_CHECKING:
    from privacy.stores import Subject

VisitorOption = Annotated[
    list[str] | None, typer.Option("--visitor", help="A visitor (cookie) id of the person (repeatable).")
]
EmailOption = Annotated[
    list[str] | None, typer.Option("--email", help="An e-mail address of the person; only its pseudonym is used.")
]
MemberOption = Annotated[
    list[str] | None, typer.Option("--member", help="A member id of the person; only its pseudonym is used.")
]


def _subject(client_id: str, visitor: list[str] | None, email: list[str] | None, member: list[str] | None) -> Subject:
    from privacy.erasure import subject_for

    return subject_for(
        load_settings(), client_id, visitor_ids=visitor or [], emails=email or [], member_ids=member or []
    )


def erase(
    client_id: Annotated[str, typer.Argument(help="The client whose data subject asks for erasure.")],
    visitor: VisitorOption = None,
    email: EmailOption = None,
    member: MemberOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Erase one person's events from the spool and the lake (only the files holding them are rewritten) and
    mark the training sets that may hold their sessions stale; prints counts per store."""
    from privacy.erasure import erase_subject

    subject = _subject(client_id, visitor, email, member)
    report = erase_subject(load_settings(), subject, actor=CLI_ACTOR)
    if as_json:
        emit_json(report.to_dict())
        return
    out.print(f"erased the data subject of client {report.client_id}:", markup=False)
    for store, count in report.counts.items():
        out.print(f"  {store:<24} {count:>10,}", markup=False)
    if report.counts.get("stale training sets"):
        err.print(f"[dim]rebuild training sets with `xmo dataset build {escape(report.client_id)}`[/dim]")


def subject_export(
    client_id: Annotated[str, typer.Argument(help="The client whose data subject asks for their data.")],
    out_file: Annotated[Path, typer.Option("--out", help="The JSON file to write (must not exist yet).")],
    visitor: VisitorOption = None,
    email: EmailOption = None,
    member: MemberOption = None,
) -> None:
    """Write what xmo holds of one person (right of access) to a JSON file, readable only by its owner."""
    from privacy.erasure import export_subject

    if out_file.exists():
        raise Conflict(f"{out_file} exists already; give another --out path (exports are never overwritten)")
    if not out_file.parent.is_dir():
        raise InvalidInput(f"folder {out_file.parent} does not exist")
    subject = _subject(client_id, visitor, email, member)
    export = export_subject(load_settings(), subject, actor=CLI_ACTOR)
    document = export.to_dict()
    atomic_write(out_file, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode())
    counts = ", ".join(f"{count:,} {store}" for store, count in export.counts.items())
    out.print(f"wrote {counts} of the data subject of client {export.client_id} to {out_file}", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``erase`` and ``subject-export`` to the ``xmo`` app."""
    app.command("erase")(erase)
    app.command("subject-export")(subject_export)
