"""Property-based run of every operation in ``/openapi.json`` against the app in process (schemathesis 4).

Every operation is run for an anonymous caller, a caseworker (so that writes are exercised for real) and an
admin (user management): no 5xx, and every response matches its declared status codes, content type, headers and
schema.

The app runs on ``ANZHI_TEST_API_DATABASE_URL``, a committed copy of the migrated database (writes stay), seeded
here at import. schemathesis runs the app's lifespan once, on its own event loop, and keeps it for the whole run;
this module's teardown stops it, so the engine is gone before the test database is dropped.

Random data alone almost never passes the ID-number check digit or names a seeded row, so the hooks below mix
valid ID numbers and the seeded ids into generated bodies and paths: writes then succeed, conflict and get
refused for scope, not only fail validation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import checks
from schemathesis.python import asgi

from app.core.idcard import make_id_number
from app.main import create_app
from tests.seed import PASSWORD, SEED, Seed

API_DATABASE_URL = os.environ["ANZHI_TEST_API_DATABASE_URL"]

# Who calls: None is anonymous, else a seeded username.
CALLERS: dict[str, str | None] = {"anonymous": None, "caseworker": "cw_a", "admin": "adm"}

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


async def _seed_api_database() -> Seed:
    """Seed the API database; return its ids and leave the shared ``SEED`` (of the main test database) as it was."""
    from app.config import get_settings
    from app.db import create_app_engine
    from tests.seed import seed_once

    saved = {f.name: dict(getattr(SEED, f.name)) for f in dataclasses.fields(SEED)}
    engine = await create_app_engine(get_settings(), API_DATABASE_URL)
    try:
        await seed_once(engine)
        return Seed(**{f.name: dict(getattr(SEED, f.name)) for f in dataclasses.fields(SEED)})
    finally:
        await engine.dispose()
        for name, value in saved.items():
            getattr(SEED, name).clear()
            getattr(SEED, name).update(value)


API_SEED = asyncio.run(_seed_api_database())
app = create_app(database_url=API_DATABASE_URL)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
ASGI_APP: Any = app  # schemathesis types an ASGI app more narrowly than Starlette does

VALID_ID_NUMBERS = st.builds(
    make_id_number,
    st.sampled_from(["410727", "410726", "110101"]),
    st.dates(date(1920, 1, 1), date(2020, 12, 31)),
    st.integers(0, 999),
)
CLEAN_TEXT = st.text(st.characters(codec="utf-8", categories=["L", "Nd"]), min_size=1, max_size=20)
PHONES = st.none() | st.from_regex(r"\A1[3-9][0-9]{9}\Z")
# Valid-looking values for the fields we know, and every seeded id, inside and outside the callers' areas.
BODY_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "name": CLEAN_TEXT,
    "head_name": CLEAN_TEXT,
    "full_name": CLEAN_TEXT,
    "address": CLEAN_TEXT,
    "register_no": st.from_regex(r"\A[A-Z]{2,3}-[0-9]{4}\Z"),
    # Never a seeded user, so generated logins cannot lock the callers out.
    "username": st.from_regex(r"\Ast_[a-z0-9_]{2,10}\Z"),
    "password": st.text(st.characters(codec="ascii", categories=["L", "Nd"]), min_size=8, max_size=20),
    "id_number": VALID_ID_NUMBERS | st.sampled_from(sorted(API_SEED.id_numbers.values())),
    "head_id_number": VALID_ID_NUMBERS,
    "village_id": st.sampled_from(sorted(API_SEED.areas.values())),
    "group_id": st.none() | st.sampled_from(sorted(API_SEED.areas.values())),
    "target_household_id": st.sampled_from(sorted(API_SEED.households.values())),
    "phone": PHONES,
    "head_phone": PHONES,
    "version": st.integers(1, 4),
    "area_codes": st.lists(st.sampled_from(sorted(API_SEED.areas)), min_size=1, max_size=2),
}
# A staff account's areas must suit its role: mostly give matching pairs, in and outside the admin's county.
ROLE_AREAS = st.sampled_from(
    [
        ("caseworker", ["410727101201"]),
        ("caseworker", ["410727101201", "410727101202"]),
        ("reviewer", ["410727102"]),
        ("finance", ["410727"]),
        ("auditor", ["410727"]),
        ("admin", ["410726"]),
        ("caseworker", ["410726100201"]),
    ]
)
PATH_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "household_id": st.sampled_from(sorted(API_SEED.households.values())),
    "member_id": st.sampled_from(sorted(API_SEED.members.values())),
    "village_id": st.sampled_from(sorted(API_SEED.areas.values())),
}


def _mixed(generated: dict[str, Any], values: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """The generated dict as it is, or with the keys we know replaced by meaningful values."""
    known = {key: values[key] for key in generated if key in values}
    if "role" in generated and "area_codes" in generated:
        known["role_areas"] = ROLE_AREAS
    if not known:
        return st.just(generated)

    def merged(new: dict[str, Any]) -> dict[str, Any]:
        if "role_areas" in new:
            new["role"], new["area_codes"] = new.pop("role_areas")
        return {**generated, **new}

    return st.just(generated) | st.fixed_dictionaries(known).map(merged)


@schema.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    return _mixed(body, BODY_VALUES) if isinstance(body, dict) else st.just(body)


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[Any]:
    return _mixed(path_parameters, PATH_VALUES) if path_parameters else st.just(path_parameters)


def _login(username: str) -> str:
    with asgi.get_client(ASGI_APP) as client:
        response = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert isinstance(token, str)
    return token


@pytest.fixture(scope="module", autouse=True)
def _stop_app() -> Iterator[None]:
    yield
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def tokens() -> dict[str, str]:
    return {username: _login(username) for username in CALLERS.values() if username is not None}


@pytest.mark.parametrize("caller", list(CALLERS))
@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_openapi(case: schemathesis.Case[Any], caller: str, tokens: dict[str, str]) -> None:
    username = CALLERS[caller]
    headers: dict[str, str] = {}
    if username is not None:
        # Logging out ends the token it is called with; that operation gets a throw-away one.
        logout = case.operation.path == "/api/v1/auth/logout"
        headers["Authorization"] = f"Bearer {_login(username) if logout else tokens[username]}"
    case.call_and_validate(headers=headers, checks=CHECKS)
