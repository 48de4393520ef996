"""uvicorn's HTTP/1.1 protocol with xmo's JSON error body for requests that never reach the app.

uvicorn answers a request its parser refuses with a plain-text 400 before any ASGI middleware runs: raw
non-ASCII bytes in the request line (both httptools and h11 allow only visible ASCII there) and, with
httptools, a URL over 65,535 bytes (its URL parser counts offsets in 16 bits; the limit cannot be raised).
``JsonErrorProtocol`` is the protocol uvicorn would pick (httptools when installed, else h11) with only that
answer replaced by ``{"error": {"code": …, "message": …}}``. ``xmo serve`` runs with it.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.auto import AutoHTTPProtocol

MAX_URL_BYTES = 65_535
H11_MAX_HEAD_BYTES = 96 * 1024  # h11's default is 16 KiB: give a URL as much room as httptools does, and headers
PROTOCOL = "serving.http_protocol:JsonErrorProtocol"  # uvicorn's ``http`` option


def error_response(code: str, message: str) -> bytes:
    """A complete ``400 Bad Request`` that closes the connection, with the JSON error body."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (
        "HTTP/1.1 400 Bad Request\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class JsonErrorProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's own protocol; only the 400 for a request it cannot parse is JSON."""

    def send_400_response(self, msg: str) -> None:
        """Answer a malformed request in xmo's error shape (uvicorn's ``msg`` is always the same sentence)."""
        url = getattr(self, "url", b"")  # httptools keeps the URL it has read so far
        if isinstance(url, bytes) and len(url) > MAX_URL_BYTES:
            code, message = "url_too_long", f"the URL is longer than {MAX_URL_BYTES:,} bytes"
        else:
            code, message = (
                "invalid_http_request",
                "the request is not valid HTTP/1.1 (bytes outside visible ASCII in the URL must be percent-encoded)",
            )
        self.transport.write(error_response(code, message))
        self.transport.close()
