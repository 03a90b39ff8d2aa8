"""The plan page as one HTML document, drawn in the browser by uPlot from the plan's view model.

Two forms: a file (the CLI's ``--html``) with uPlot and the data inside it, that opens offline
from disk; and the app's shell, which holds no data, loads uPlot from the app's static routes and
fetches the view model with the API token. Our script and styles are inline in both.

No text from the data is written into markup here: the data travels as JSON in a
``<script type="application/json">`` element and the script puts it in with ``textContent``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
from pathlib import Path

from chalicelib.workflows.plan_view import PlanView

STATIC = Path(__file__).parent / "static"
UPLOT_JS = "uPlot.iife.min.js"
UPLOT_CSS = "uPlot.min.css"
TITLE = "Service-assurance plan"
# Characters that could end the script element or start markup, written as JSON escapes.
SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


@functools.cache
def static_text(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def render_file(view: PlanView) -> str:
    """The plan as a self-contained document: uPlot, our script and the data inline."""
    title = f"{TITLE} as of {view.now_text}"
    head = (
        f"<style>{static_text(UPLOT_CSS)}</style>\n<style>{static_text('plan.css')}</style>\n"
        f"<script>{static_text(UPLOT_JS)}</script>"
    )
    data = f'<script type="application/json" id="plan-data">{embedded_json(view)}</script>'
    return _document(title, head, data)


def render_shell() -> str:
    """The served page: no data, uPlot from the app (paths relative to the page, so that the
    same shell works under API Gateway's stage prefix), the data fetched with the token."""
    head = (
        '<link rel="stylesheet" href="static/uplot.css">\n'
        f"<style>{static_text('plan.css')}</style>\n"
        '<script src="static/uplot.js"></script>'
    )
    return _document(TITLE, head, "")


def shell_policy() -> str:
    """The served page's Content-Security-Policy: only its own inline script and styles, the
    app's static files, and requests back to the app."""
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src 'self' '{_digest(static_text('plan.js'))}'",
            f"style-src 'self' '{_digest(static_text('plan.css'))}'",
            "connect-src 'self'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


def embedded_json(view: PlanView) -> str:
    return json.dumps(view.model_dump(mode="json"), ensure_ascii=False).translate(SCRIPT_SAFE)


def _digest(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _document(title: str, head: str, data: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="icon" href="data:,">
{head}
</head>
<body>
<header>
<h1>{html.escape(TITLE)}</h1>
<p id="message" class="notice" role="status" aria-live="polite" hidden></p>
<form id="token-form" class="token" hidden>
<label for="token">API token (kept for this browser tab only)</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Show the plan</button>
</form>
<noscript><p class="notice">This page draws the plan with JavaScript.
<code>burst-assurance plan</code> prints the same requests as a table.</p></noscript>
</header>
<main id="plan"></main>
{data}
<script>{static_text("plan.js")}</script>
</body>
</html>
"""
