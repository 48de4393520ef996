"""Long ids that share a prefix, planted in a command's result: a table that cuts them makes them alike."""

from __future__ import annotations

import re
from typing import Any

PREFIX = "spring-sale-2026-partner-network-"
_ID = re.compile(r"\b(cmp|cr)-(?!" + re.escape(PREFIX) + ")")


def longer(text: str) -> str:
    """``cmp-x`` → ``cmp-spring-sale-2026-partner-network-x`` (and ``cr-…`` the same), wherever they occur."""
    return _ID.sub(lambda m: f"{m.group(1)}-{PREFIX}", text)


def lengthened(document: Any) -> Any:
    """``document`` (JSON-like) with every campaign and creative id made long, in values and keys alike."""
    if isinstance(document, str):
        return longer(document)
    if isinstance(document, dict):
        return {lengthened(k): lengthened(v) for k, v in document.items()}
    if isinstance(document, list):
        return [lengthened(v) for v in document]
    return document


def ids_in(document: Any) -> set[str]:
    """Every campaign and creative id of ``document`` that is a whole value (not part of a sentence)."""
    if isinstance(document, str):
        return {document} if re.fullmatch(r"(cmp|cr)-\S+", document) else set()
    if isinstance(document, dict):
        return set().union(*(ids_in(v) for v in document.values()), set())
    if isinstance(document, list):
        return set().union(*(ids_in(v) for v in document), set())
    return set()


class Planted:
    """A stand-in for a job's result (patched over the job): its ``to_dict()`` is a given document."""

    def __init__(self, document: dict[str, object]) -> None:
        self.document = document

    def to_dict(self) -> dict[str, object]:
        return self.document
