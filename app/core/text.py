"""Text hygiene at the edges: PostgreSQL refuses NUL characters and unpaired surrogates cannot be encoded, so such
input is turned away with a message instead of failing deep inside a query."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

from app.core.validation import field_error

_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def is_clean(value: str) -> bool:
    return _BAD.search(value) is None


def _clean(value: object) -> object:
    if isinstance(value, str):
        if not is_clean(value):
            raise field_error("control_characters", "含有无法识别的字符，请重新输入")
        return value.strip()
    return value


def _clean_optional(value: object) -> object:
    value = _clean(value)
    return (value or None) if isinstance(value, str) else value


def _clean_after(value: str) -> str:
    result = _clean(value)
    assert isinstance(result, str)
    return result


CleanText = Annotated[str, BeforeValidator(_clean)]
OptionalCleanText = Annotated[str | None, BeforeValidator(_clean_optional)]
# For query parameters, where FastAPI validates after parsing.
QueryText = Annotated[str, AfterValidator(_clean_after)]


def like_prefix(text: str) -> str:
    """A ``LIKE`` pattern for what starts with ``text`` (``%``, ``_`` and ``\\`` in it match themselves)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def like_fragment(text: str) -> str:
    """A ``LIKE`` pattern for what contains ``text`` (as :func:`like_prefix`)."""
    return "%" + like_prefix(text)
