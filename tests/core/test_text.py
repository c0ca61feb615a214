"""LIKE patterns built from what people type: their %, _ and \\ match themselves, in PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.text import like_fragment, like_prefix


@pytest.mark.parametrize(
    ("value", "pattern", "matches"),
    [
        ("/1/2/", like_prefix("/1/2/"), True),
        ("/1/2/3/", like_prefix("/1/2/"), True),
        ("/1/20/", like_prefix("/1/2/"), False),
        ("50%折扣", like_fragment("%"), True),
        ("50折扣", like_fragment("%"), False),
        ("a_b", like_fragment("_"), True),
        ("ab", like_fragment("_"), False),
        ("C:\\户", like_fragment("\\户"), True),
        ("C:户", like_fragment("\\户"), False),
        ("王建国", like_fragment("建"), True),
        ("王建国", like_prefix("建"), False),
    ],
)
async def test_like_patterns_match_what_was_typed(
    db: AsyncSession, value: str, pattern: str, matches: bool
) -> None:
    assert (await db.scalar(text("SELECT CAST(:v AS text) LIKE :p"), {"v": value, "p": pattern})) is matches
