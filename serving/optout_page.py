"""The opt-out page: inline HTML and CSS, no script, no external assets; one form posting to ``/optout``."""

from __future__ import annotations

from html import escape

# Sent with the page: nothing may load from elsewhere, the form posts only here, no site may frame it.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1f2328}
h1{font-size:1.5rem}.state{padding:.75rem 1rem;border-radius:.5rem;background:#f6f8fa}
.out{background:#dafbe1}button{font:inherit;padding:.5rem 1rem;margin-top:1rem;cursor:pointer}
"""

EXPLANATION = (
    "For each page view or link click on the sites that use it, xmo records a truncated IP address "
    "(its last part removed), your browser and operating system, and a random id kept in a cookie; "
    "never your name or email. "
    "Opting out keeps only a cookie that says so in this browser, and xmo honours Global Privacy Control: "
    "if your browser sends it, you are not counted either."
)


def _state(opted_out: bool, gpc: bool) -> tuple[str, str]:
    if opted_out:
        return "out", "You are opted out: xmo does not count your visits in this browser."
    if gpc:
        return "out", "You are not counted: your browser sends Global Privacy Control."
    return "in", "You are counted."


def render_optout_page(*, opted_out: bool, gpc: bool, return_url: str | None = None) -> str:
    """The page for a visitor in this state; ``return_url`` must already be checked (it becomes a link)."""
    css_class, state = _state(opted_out, gpc)
    choice, label = ("in", "Count me again") if opted_out else ("out", "Opt out")
    hidden_return = ""
    back = ""
    if return_url:
        hidden_return = f'<input type="hidden" name="return" value="{escape(return_url)}">'
        back = f'<p><a id="return" href="{escape(return_url)}">Back to the site</a></p>'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Opt out of xmo measurement</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>Campaign measurement by xmo</h1>
<p id="state" class="state {css_class}">{escape(state)}</p>
<p>{escape(EXPLANATION)}</p>
<form method="post" action="/optout">
<input type="hidden" name="choice" value="{choice}">{hidden_return}
<button id="toggle" type="submit">{label}</button>
</form>
{back}
</body>
</html>
"""
