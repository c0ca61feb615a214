from __future__ import annotations

import httpx
import pytest

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture(autouse=True)
def _browser_headers(client: httpx.AsyncClient) -> None:
    """Ask for pages as a browser does (errors come back as HTML pages, not JSON)."""
    client.headers["Accept"] = BROWSER_ACCEPT
    client.headers["Accept-Language"] = "zh-CN,zh;q=0.9"
