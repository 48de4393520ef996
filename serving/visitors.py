"""What every collection endpoint reads from a browser request: privacy signals, the visitor cookie, the hit."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from core.settings import Settings
from tracking.edge import VISITOR_ID_PATTERN, EdgePolicy

_VISITOR_ID = re.compile(VISITOR_ID_PATTERN)

NO_STORE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}  # pixel and redirect answers


@dataclass(frozen=True)
class Signals:
    """The user's privacy signals on this request."""

    optout: bool
    gpc: bool
    dnt: bool

    def opted_out(self, policy: EdgePolicy | None) -> bool:
        """Whether the hit will be dropped for a privacy signal (DNT only where the client honours it)."""
        return self.optout or self.gpc or (self.dnt and policy is not None and policy.honour_dnt)


@dataclass(frozen=True)
class Visitor:
    """The visitor id of a request: from its cookie, or new (128 random bits) when absent or malformed."""

    id: str
    is_new: bool


def read_signals(request: Request, settings: Settings) -> Signals:
    """Opt-out cookie, ``Sec-GPC: 1``, ``DNT: 1``."""
    headers = request.headers
    return Signals(
        optout=request.cookies.get(settings.optout_cookie_name) == "1",
        gpc=headers.get("sec-gpc", "").strip() == "1",
        dnt=headers.get("dnt", "").strip() == "1",
    )


def read_visitor(request: Request, settings: Settings) -> Visitor:
    """The visitor cookie's id, or a fresh random one."""
    value = request.cookies.get(settings.cookie_name)
    if value is not None and _VISITOR_ID.fullmatch(value):
        return Visitor(value, is_new=False)
    return Visitor(secrets.token_hex(16), is_new=True)


def browser_hit(
    request: Request, client_id: str | None, visitor: Visitor, signals: Signals, **fields: Any
) -> dict[str, Any]:
    """A raw hit with what the request itself carries (address, user agent, signals) plus ``fields``."""
    return {
        "client_id": client_id,
        "visitor_id": visitor.id,
        "ip": request.client.host if request.client else None,
        "user_agent": request.headers.get("user-agent"),
        "optout": signals.optout,
        "gpc": signals.gpc,
        "dnt": signals.dnt,
        **fields,
    }


def remember_visitor(
    response: Response,
    request: Request,
    settings: Settings,
    visitor: Visitor,
    policy: EdgePolicy | None,
    signals: Signals,
) -> None:
    """Set the first-party visitor cookie when it was absent, never for opted-out users or unknown clients."""
    if not visitor.is_new or policy is None or signals.opted_out(policy):
        return
    response.set_cookie(
        settings.cookie_name,
        visitor.id,
        max_age=settings.cookie_max_age_days * 86400,
        domain=settings.cookie_domain,
        path="/",
        samesite="lax",
        httponly=True,
        secure=request.url.scheme == "https",
    )
