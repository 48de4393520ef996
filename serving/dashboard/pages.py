"""The dashboard's HTML pages: files shipped with the package, with escaped values put in their slots."""

from __future__ import annotations

import re
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
_JS = "text/javascript; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"
# Every file of static/ the dashboard serves, by its path there (nothing else is served); the page's modules
# import one another by these names, and Chart.js is vendored with its licence (static/vendor/chartjs/README.md)
STATIC_TYPES = {
    "dashboard.js": _JS,
    "dom.js": _JS,
    "format.js": _JS,
    "charts.js": _JS,
    "overview.js": _JS,
    "creatives.js": _JS,
    "budget.js": _JS,
    "attribution.js": _JS,
    "model.js": _JS,
    "mediamix.js": _JS,
    "experiments.js": _JS,
    "firstrun.js": _JS,
    "dashboard.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
    "vendor/chartjs/chart.umd.min.js": _JS,
    "vendor/chartjs/LICENSE.md": _TEXT,
    "vendor/chartjs/README.md": _TEXT,
}
CURRENCY_CODE = re.compile(r"[A-Z]{3}")  # ISO 4217, as Intl.NumberFormat takes it
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
    """A file of ``static/`` by its path there (only the paths in ``STATIC_TYPES``)."""
    if name not in STATIC_TYPES:
        raise KeyError(name)
    if name == "favicon.svg":
        return FAVICON_SVG
    return resources.files("serving.dashboard").joinpath("static", *name.split("/")).read_bytes()


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


def dashboard_page(client_id: str, client_name: str, currency: str | None = None) -> str:
    """The dashboard shell; the script fills it from the API and formats amounts in ``currency`` (ISO 4217)
    when the client has one."""
    code = currency.strip().upper() if currency else ""
    code = code if CURRENCY_CODE.fullmatch(code) else ""
    return _fill(_template("dashboard.html"), client_id=client_id, client_name=client_name, currency=code)
