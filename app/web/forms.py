"""Form handling for the HTML pages: read a CSRF-checked form, validate it into a pydantic model, and collect
Chinese messages per field while keeping exactly what was typed.

A handler reads the form with ``read_form`` (which checks the CSRF token before anything else), builds a
``FormState`` from it, calls ``validate``; on a ``ValidationError`` or a domain error with a ``field`` it renders the
same form again with ``state`` — the message sits next to its field, and the typed values (even an invalid ID
number) stay in the inputs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from math import ceil
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, DomainError, InvalidInput
from app.core.validation import chinese_message
from app.web.csrf import CSRF_FIELD, check_csrf

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

MAX_FIELD_CHARS = 1000


async def read_form(request: Request) -> dict[str, str]:
    """The submitted text fields (first value of each), after the CSRF check every form POST must pass."""
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    check_csrf(request, submitted if isinstance(submitted, str) else None)
    values: dict[str, str] = {}
    for key, value in form.multi_items():
        if key != CSRF_FIELD and isinstance(value, str):
            values.setdefault(key, value[:MAX_FIELD_CHARS])
    return values


@dataclass
class FormState:
    """What a form shows: the values in its inputs, a message per field, and messages for the whole form.

    ``fields`` are the inputs the form displays; an error about any other field (a hidden version number, a
    value taken from the address) is shown at the top of the form instead.
    """

    values: dict[str, str] = field(default_factory=dict)
    fields: frozenset[str] = frozenset()
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    status: int = 422  # the status to render the form again with

    @classmethod
    def of(cls, fields: Iterable[str], values: Mapping[str, object] | None = None) -> FormState:
        names = frozenset(fields)
        shown = {k: "" if v is None else str(v) for k, v in (values or {}).items()}
        return cls(values=shown, fields=names)

    @property
    def invalid(self) -> bool:
        return bool(self.errors or self.general)

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def error(self, name: str) -> str | None:
        return self.errors.get(name)

    def add(self, name: str | None, message: str) -> None:
        if name and name in self.fields:
            self.errors.setdefault(name, message)
        elif message not in self.general:
            self.general.append(message)

    def add_domain_error(self, exc: DomainError, rename: Mapping[str, str] | None = None) -> None:
        """A service's error, shown next to the form field it concerns (``rename`` maps service field names to
        form field names where they differ)."""
        name = exc.field
        if name and rename and name in rename:
            name = rename[name]
        self.add(name, exc.message)


async def attempt(
    session: AsyncSession,
    state: FormState,
    action: Callable[[], Awaitable[T]],
    *,
    rename: Mapping[str, str] | None = None,
) -> T | None:
    """Run the service call behind a form. On a domain error a user can fix (``Conflict``, ``InvalidInput``) the
    unit of work is rolled back — nothing half-saved —, the message goes next to its field and ``state.status``
    says how to render the form again; ``None`` is returned. Other errors (not found, forbidden) propagate to the
    error pages."""
    from app.web.errors import status_for

    try:
        return await action()
    except (Conflict, InvalidInput) as exc:
        await session.rollback()
        state.add_domain_error(exc, rename)
        state.status = status_for(exc)
        return None


def _field_message(
    error: Mapping[str, Any], name: str, title: str | None, choose: Iterable[str], model: type[BaseModel]
) -> str:
    if error.get("type") == "missing" and title:
        return f"请选择{title}" if name in choose else f"请填写{title}"
    message = chinese_message(error, model=model)
    prefix = f"{title}：" if title else ""
    # Next to its field the label is already on screen; the message alone reads better.
    return message[len(prefix) :] if prefix and message.startswith(prefix) else message


def validate(
    model: type[M],
    state: FormState,
    *,
    extra: Mapping[str, object] | None = None,
    choose: Iterable[str] = (),
    rename: Mapping[str, str] | None = None,
) -> M | None:
    """Build ``model`` from the form's values (blank inputs count as not given) plus ``extra`` (values that do
    not come from the user's inputs, such as ids from the address). On failure the messages go into ``state``
    and ``None`` comes back. ``choose`` names the fields that are selects ("请选择…" when left empty);
    ``rename`` maps model fields to the form inputs that stand for them."""
    data: dict[str, object] = {
        name: state.values[name] for name in model.model_fields if state.values.get(name, "").strip()
    }
    data.update(extra or {})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        choose = tuple(choose)
        for error in exc.errors():
            loc = error.get("loc", ())
            name = str(loc[0]) if loc else None
            info = model.model_fields.get(name) if name else None
            title = info.title if info else None
            shown = rename.get(name, name) if rename and name else name
            if shown in state.fields:
                state.add(shown, _field_message(error, name or "", title, choose, model))
            else:
                state.add(None, chinese_message(error, model=model))
        return None


@dataclass(frozen=True, slots=True)
class PageLink:
    number: int
    url: str
    current: bool


@dataclass(frozen=True, slots=True)
class Pager:
    """Links for a paginated list; every link keeps the list's other query parameters."""

    page: int
    pages: int
    total: int
    links: tuple[PageLink, ...]
    prev_url: str | None
    next_url: str | None


def read_date(state: FormState, name: str, missing: str) -> date | None:
    """The date typed into ``name`` (2023-05-20), or None with ``missing`` or the format's message next to it."""
    raw = state.value(name).strip()
    if not raw:
        state.add(name, missing)
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        state.add(name, f"日期格式应为 2023-05-20：{raw}")
        return None


def clamp_page(page: int, total: int, page_size: int) -> int:
    """The page asked for, or the last one when it is past the end (a list that shrank meanwhile)."""
    return min(page, max(1, ceil(total / page_size)))


def pager(
    path: str,
    params: Mapping[str, object],
    *,
    page: int,
    total: int,
    page_size: int,
    param: str = "page",
    anchor: str = "",
) -> Pager:
    """Links to the pages of a list: ``param`` is the page's query parameter (a page with two lists pages them
    apart), ``params`` the other parameters kept, ``anchor`` where on the page the list is."""
    pages = max(1, ceil(total / page_size))
    kept = {k: v for k, v in params.items() if v not in (None, "")}

    def url(n: int) -> str:
        return f"{path}?{urlencode({**kept, param: n})}{'#' + anchor if anchor else ''}"

    window = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    return Pager(
        page=page,
        pages=pages,
        total=total,
        links=tuple(PageLink(n, url(n), n == page) for n in window),
        prev_url=url(page - 1) if page > 1 else None,
        next_url=url(page + 1) if page < pages else None,
    )


def safe_next(value: str | None) -> str:
    """A local path to go to after login; anything else (another site, ``//host``, odd characters) gives "/"."""
    if not value or len(value) > 500 or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return "/"
    return value
