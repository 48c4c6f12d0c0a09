from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from callcore.config import Settings
from callcore.http.app import create_app
from callcore.http.routes import PUBLIC_PATHS, ROUTES, openapi

METHODS = {"get", "post", "put", "patch", "delete"}


def registered_routes() -> set[tuple[str, str]]:
    app = create_app(acd=None, pool=None, settings=Settings(), health=dict, metrics=lambda: b"")
    out = set()
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS"):
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        assert path is not None, route
        out.add((route.method.lower(), path))
    return out


def documented_routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m, p) for p, ops in doc["paths"].items() for m in ops if m in METHODS}


def test_every_registered_route_is_documented_and_vice_versa() -> None:
    registered = registered_routes()
    documented = documented_routes(openapi())
    assert registered == documented
    assert len(registered) == len(ROUTES) + len(PUBLIC_PATHS)


def test_operations_are_complete() -> None:
    doc = openapi()
    ids = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            ids.append(op["operationId"])
            assert op["summary"] and op["responses"], (method, path)
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), (method, path)
            if method in ("post", "put", "patch") and "requestBody" in op:
                assert op["requestBody"]["content"]["application/json"]["schema"]
    assert len(ids) == len(set(ids))
    refs = re.findall(r"#/components/schemas/(\w+)", repr(doc))
    assert set(refs) <= set(doc["components"]["schemas"])


async def test_document_is_served() -> None:
    app = create_app(acd=None, pool=None, settings=Settings(), health=dict, metrics=lambda: b"")
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/api/v1/openapi.json")
        assert resp.status == 200
        assert documented_routes(await resp.json()) == registered_routes()
