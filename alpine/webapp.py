"""The subscriber web app: `/` and its assets under `/web/`, under a strict CSP.

The files ship inside the package (alpine/web/) and are read once at mount time,
so a wheel without them fails at start-up rather than serving 404s. No inline
script or style, no third-party origin: everything comes from 'self'.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import PurePath

from fastapi import FastAPI, HTTPException
from fastapi.responses import Response

from alpine.me_api import MeApi
from alpine.settings_load import settings_from_env
from alpine.subscriber_store import SubscriberStore
from alpine.tiers import load_tiers

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


def _assets() -> dict[str, tuple[bytes, str]]:
    """Every shipped asset by file name, with its media type."""
    found = {}
    for entry in (files("alpine") / "web").iterdir():
        media_type = MEDIA_TYPES.get(PurePath(entry.name).suffix)
        if media_type and entry.is_file():
            found[entry.name] = (entry.read_bytes(), media_type)
    return found


def mount_webapp(app: FastAPI) -> None:
    """Serve the page at `/`, its assets at `/web/NAME`, and `GET /api/v1/me`."""
    page = (files("alpine") / "web" / "index.html").read_bytes()
    assets = _assets()

    async def index() -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    async def asset(name: str) -> Response:
        if name not in assets:
            raise HTTPException(404, "no such asset")
        body, media_type = assets[name]
        return Response(body, media_type=media_type, headers=SECURITY_HEADERS)

    app.add_api_route("/", index, methods=["GET"], include_in_schema=False)
    app.add_api_route("/web/{name}", asset, methods=["GET"], include_in_schema=False)
    # Tiers as `alpine serve` reads them (ALPINE_TIERS_FILE), the same source as create_app.
    tiers = load_tiers(settings_from_env().tiers_file)
    MeApi(SubscriberStore(app.state.store.engine), tiers).register(app)
