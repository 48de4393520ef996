"""The dashboard's HTML pages: files shipped with the package, with escaped values put in their slots."""

from __future__ import annotations

from functools import cache
from html import escape
from importlib import resources

# Sent with every page: scripts, styles, images and requests only from here; forms post only here; no framing.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}
STATIC_TYPES = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
# Inline, since package data ships no .svg files: a blue rounded square with an "x"
FAVICON_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" '
    b'fill="#2f6fb0"/><path d="M4 4l8 8M12 4l-8 8" stroke="#fff" stroke-width="2"/></svg>'
)


@cache
def _template(name: str) -> str:
    return (resources.files("serving.dashboard") / "templates" / name).read_text(encoding="utf-8")


@cache
def static_file(name: str) -> bytes:
    """A file of ``static/`` (only the names in ``STATIC_TYPES``)."""
    if name not in STATIC_TYPES:
        raise KeyError(name)
    if name == "favicon.svg":
        return FAVICON_SVG
    return (resources.files("serving.dashboard") / "static" / name).read_bytes()


def _fill(template: str, **values: str) -> str:
    page = template
    for key, value in values.items():
        page = page.replace("{{" + key + "}}", escape(value))
    return page


def sign_in_page(message: str = "", *, error: bool = False) -> str:
    """The sign-in form, with a notice (an error, or e.g. "You are signed out")."""
    notice = ""
    if message:
        role, css = ("alert", "notice error") if error else ("status", "notice")
        notice = f'<p id="notice" class="{css}" role="{role}">{escape(message)}</p>'
    return _template("sign_in.html").replace("{{notice}}", notice)


def dashboard_page(client_id: str, client_name: str) -> str:
    """The dashboard shell; the script fills it from the API."""
    return _fill(_template("dashboard.html"), client_id=client_id, client_name=client_name)
