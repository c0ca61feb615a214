"""Pages answer errors with pages, whatever the client's Accept header; the API answers with JSON."""

from __future__ import annotations

from typing import Any

import httpx


async def test_page_errors_are_pages_even_for_curl(client: httpx.AsyncClient, seed: Any) -> None:
    r = await client.get("/no-such-page", headers={"Accept": "*/*"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "找不到该页面" in r.text


async def test_api_errors_are_json(client: httpx.AsyncClient, seed: Any) -> None:
    r = await client.get("/api/v1/no-such-thing", headers={"Accept": "text/html"})
    assert r.status_code == 404
    assert r.json() == {"detail": "找不到该页面"}
    assert r.headers["X-Request-ID"] and r.headers["X-Content-Type-Options"] == "nosniff"


async def test_every_response_has_its_own_request_id(client: httpx.AsyncClient) -> None:
    ids = [(await client.get("/healthz")).headers["X-Request-ID"] for _ in range(3)]
    assert len(set(ids)) == 3
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
