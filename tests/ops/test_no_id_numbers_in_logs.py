"""ID numbers never reach the logs, nor a URL: searches and reveals carry them in bodies only."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import httpx
import pytest

from app.core.idcard import make_id_number
from tests.seed import PASSWORD


async def test_a_registry_session_logs_no_id_number(
    client: httpx.AsyncClient, seed: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = (await client.post("/api/v1/auth/token", data={"username": "cw_a", "password": PASSWORD})).json()
    h = {"Authorization": f"Bearer {token['access_token']}"}
    new = make_id_number("410727", date(1991, 6, 1), 357)
    urls: list[str] = []

    async def call(method: str, url: str, **kw: Any) -> httpx.Response:
        response = await client.request(method, url, headers=h, **kw)
        urls.append(str(response.request.url))
        urls.append(response.headers.get("location", ""))
        return response

    household = seed.households["h1"]
    await call(
        "POST",
        f"/api/v1/households/{household}/members",
        json={"name": "王小华", "id_number": new, "relation": "child"},
    )
    await call("POST", "/api/v1/households/search", json={"id_number": seed.id_numbers["h1_head"]})
    await call(
        "POST",
        f"/api/v1/households/{household}/members",  # a refused duplicate logs nothing either
        json={"name": "王小华", "id_number": new, "relation": "child"},
    )
    await call("POST", f"/api/v1/members/{seed.members['h1_head']}/id-number")
    await call(
        "POST",
        f"/api/v1/households/{household}/members",
        json={
            "name": "坏号码",
            "id_number": new[:-1] + ("0" if new[-1] != "0" else "1"),
            "relation": "child",
        },
    )
    numbers = [new, seed.id_numbers["h1_head"], new[:-1]]
    for number in numbers:
        assert number not in caplog.text
        assert not any(number in u for u in urls)
