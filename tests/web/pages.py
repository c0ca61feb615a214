"""Helpers for driving the HTML pages the way a browser does: fetch a form, post it back with its CSRF token."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable

import httpx

from tests.seed import PASSWORD

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(page: str) -> str:
    match = _TOKEN.search(page)
    assert match, "page has no CSRF token"
    return match.group(1)


async def csrf(client: httpx.AsyncClient, path: str = "/login") -> str:
    r = await client.get(path)
    assert r.status_code == 200, (path, r.status_code)
    return csrf_from(r.text)


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    token = await csrf(client, "/login")
    r = await client.post("/login", data={"csrf_token": token, "username": username, "password": password})
    assert r.status_code == 303, r.text
    return r


def input_value(page: str, name: str) -> str | None:
    """The ``value`` of the input called ``name`` (None when there is no such input)."""
    match = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*\bvalue="([^"]*)"', page)
    return html.unescape(match.group(1)) if match else None


def selected(page: str, name: str) -> str | None:
    """The selected option's value of the select called ``name``."""
    match = re.search(rf'<select[^>]*\bname="{re.escape(name)}"[^>]*>(.*?)</select>', page, re.S)
    if not match:
        return None
    option = re.search(r'<option value="([^"]*)" selected>', match.group(1))
    return html.unescape(option.group(1)) if option else None


def field_error(page: str, name: str) -> str | None:
    match = re.search(rf'<p class="field-error" id="f-{re.escape(name)}-error">(.*?)</p>', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip() if match else None


def section(page: str, element_id: str) -> str:
    match = re.search(rf'<section id="{re.escape(element_id)}".*?</section>', page, re.S)
    assert match, f"no section #{element_id}"
    return match.group(0)


def text_of(page: str) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

# The ``browser`` fixture (tests/conftest.py): a signed-in page client per username.
Browser = Callable[[str], Awaitable[httpx.AsyncClient]]


async def post_form(
    c: httpx.AsyncClient,
    page: str,
    action: str,
    data: dict[str, str],
    files: dict[str, tuple[str, bytes, str]] | None = None,
) -> httpx.Response:
    """GET ``page`` for its CSRF token, then POST ``data`` (and ``files``) to ``action``, as a browser would."""
    r = await c.get(page)
    assert r.status_code == 200, r.text
    return await c.post(action, data={**data, "csrf_token": csrf_from(r.text)}, files=files)
