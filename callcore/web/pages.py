"""Serves the desktop (``/desktop``), the wallboard (``/wallboard``) and their assets (``/ui/...``) from the
package, and puts the security headers on every response of the HTTP server."""

from __future__ import annotations

import importlib.resources
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

STATIC = Path(str(importlib.resources.files("callcore.web"))) / "static"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
HEADERS = {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Cross-Origin-Opener-Policy": "same-origin",
           "Permissions-Policy": "camera=(), microphone=(), geolocation=()"}


async def security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    for key, value in HEADERS.items():
        response.headers.setdefault(key, value)


def _page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-store",
                                                         "Content-Type": "text/html; charset=utf-8"})
    return handler


async def _root(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/desktop")


TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
ASSETS = tuple(sorted(p.name for p in STATIC.iterdir() if p.suffix in TYPES))
PAGES = {"/": "Redirects to the operator desktop", "/desktop": "The operator desktop (HTML)",
         "/wallboard": "The supervisor wallboard (HTML)"} | {
         f"/ui/{name}": f"Asset of the desktop and wallboard ({name})" for name in ASSETS}


def _asset(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-cache",
                                                         "Content-Type": TYPES[Path(name).suffix]})
    return handler


def add_pages(app: web.Application) -> None:
    """Each page and asset is its own route (listed in the OpenAPI document); nothing else is served."""
    app.on_response_prepare.append(security_headers)
    app.router.add_get("/", _root)
    app.router.add_get("/desktop", _page("desktop.html"))
    app.router.add_get("/wallboard", _page("wallboard.html"))
    for name in ASSETS:
        app.router.add_get(f"/ui/{name}", _asset(name))
