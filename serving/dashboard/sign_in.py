"""Dashboard sign-ins: a signed cookie naming the client, checked against the registry on every request.

The cookie holds ``v1.<payload>.<signature>``: the client id, a random session id, the expiry and a
*fingerprint* of the API key that signed in (an HMAC under the session secret, never the key or its stored
hash). The secret is derived from the master key, so every worker and replica accepts the same cookies and
they survive a restart. A session dies when it expires, when it is signed out (its id is remembered by
this process until it would have expired) and when the API key it came from is rotated or revoked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from sqlalchemy import select

from core.apikeys import KeyKind, hash_key
from core.errors import Forbidden, Unauthorized
from core.schema import api_keys
from core.settings import Settings
from core.tenants import Tenants
from privacy.masterkey import load_master_key

SIGN_IN_TTL_S = 8 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_VERSION = "v1"
_PURPOSE = b"xmo:dashboard-session"


@dataclass(frozen=True)
class SignIn:
    """What a valid cookie says."""

    client_id: str
    session_id: str
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SignInSigner:
    """Issues, checks and revokes dashboard session tokens."""

    def __init__(self, secret: bytes, ttl_s: int = SIGN_IN_TTL_S) -> None:
        self._secret = secret
        self.ttl_s = ttl_s
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInSigner:
        """A signer whose secret is derived from the master key (shared by every worker)."""
        return cls(hmac.new(load_master_key(settings), _PURPOSE, hashlib.sha256).digest())

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())

    def fingerprint(self, key_hash: str) -> str:
        """A short keyed digest of an API key's stored hash: ties a session to one key, reveals nothing."""
        return _b64(hmac.new(self._secret, f"key:{key_hash}".encode(), hashlib.sha256).digest()[:16])

    def issue(self, client_id: str, api_key: str, now: float | None = None) -> tuple[str, SignIn]:
        """A fresh token for ``client_id``, signed in with ``api_key`` (already authenticated)."""
        expires = (time.time() if now is None else now) + self.ttl_s
        session = SignIn(client_id, secrets.token_urlsafe(18), expires)
        body = {"c": client_id, "s": session.session_id, "e": int(expires), "k": self.fingerprint(hash_key(api_key))}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{_VERSION}.{payload}.{self._sign(payload)}", session

    def decode(self, token: str, now: float | None = None) -> tuple[SignIn, str] | None:
        """The session and key fingerprint of a well-signed, unexpired, not signed-out token, else None."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _VERSION or not hmac.compare_digest(self._sign(parts[1]), parts[2]):
            return None
        try:
            body: Any = json.loads(_unb64(parts[1]))
            session = SignIn(str(body["c"]), str(body["s"]), float(body["e"]))
            fingerprint = str(body["k"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        moment = time.time() if now is None else now
        if session.expires_at <= moment:
            return None
        with self._lock:
            if session.session_id in self._revoked:
                return None
        return session, fingerprint

    def revoke(self, token: str) -> None:
        """Sign a token out: this process refuses it until it would have expired anyway."""
        decoded = self.decode(token)
        if decoded is None:
            return
        now = time.time()
        with self._lock:
            self._revoked = {sid: exp for sid, exp in self._revoked.items() if exp > now}
            self._revoked[decoded[0].session_id] = decoded[0].expires_at

    def verify(self, tenants: Tenants, token: str) -> SignIn | None:
        """The session of ``token`` if it is valid and the API key it came from is still live."""
        decoded = self.decode(token)
        if decoded is None:
            return None
        session, fingerprint = decoded
        with tenants.engine.connect() as connection:
            hashes = connection.execute(
                select(api_keys.c.key_hash).where(
                    api_keys.c.client_id == session.client_id,
                    api_keys.c.kind == KeyKind.API.value,
                    api_keys.c.revoked_at.is_(None),
                )
            ).scalars()
            live = any(hmac.compare_digest(self.fingerprint(h), fingerprint) for h in hashes)
        return session if live else None


_signer_lock = threading.Lock()


def signer_of(request: Request, settings: Settings) -> SignInSigner:
    """The app's signer, made on first use (the master key is read once per process)."""
    state = request.app.state
    with _signer_lock:
        signer: SignInSigner | None = getattr(state, "dashboard_signer", None)
        if signer is None:
            signer = SignInSigner.from_settings(settings)
            state.dashboard_signer = signer
    return signer


def same_origin(request: Request, *, required: bool) -> bool:
    """Whether a browser request comes from this service's own pages.

    ``Origin`` must name this host; without it ``Sec-Fetch-Site`` must say same-origin (or a typed URL).
    A request with neither header passes only when not ``required`` (a form post from an old browser).
    """
    origin = request.headers.get("origin")
    if origin is not None:
        return origin != "null" and urlsplit(origin).netloc == request.headers.get("host")
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    return not required


def signed_in_client(request: Request, settings: Settings, tenants: Tenants) -> str | None:
    """The client id of the request's dashboard cookie; None without a cookie.

    Raises ``Unauthorized`` for a cookie that is expired, signed out or from a rotated key, and ``Forbidden``
    for a state-changing request that does not come from this service's own pages (CSRF).
    """
    token = request.cookies.get(settings.dashboard_cookie_name)
    if not token:
        return None
    session = signer_of(request, settings).verify(tenants, token)
    if session is None:
        raise Unauthorized("the dashboard session has expired or was signed out; sign in again")
    if request.method not in SAFE_METHODS and not same_origin(request, required=True):
        raise Forbidden("a dashboard session may change data only from the dashboard's own pages")
    return session.client_id
