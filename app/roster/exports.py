"""Lists as XLSX downloads, "with the same columns as on screen": each list page builds its rows once for the table
and the download alike; this module turns them into a workbook, records the download in the audit trail (a read of
personal data in bulk: what was exported and how many rows, never their content) and sends the file."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.auth.policy import Principal
from app.core.xlsx import XLSX_MEDIA_TYPE, xlsx_table
from app.socialsecurity.service import record_export

# Above this many rows the workbook is built in a worker thread, so other requests are not held up.
THREAD_ROWS = 2_000


def xlsx_response(data: bytes, filename: str) -> Response:
    """A download whose name may be Chinese (RFC 5987), never cached."""
    fallback = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
    headers = {"Content-Disposition": disposition, "Cache-Control": "no-store"}
    return Response(content=data, media_type=XLSX_MEDIA_TYPE, headers=headers)


async def build(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[object]], *, text_columns: Sequence[int] = ()
) -> bytes:
    if len(rows) > THREAD_ROWS:
        return await asyncio.to_thread(xlsx_table, title, headers, rows, text_columns=text_columns)
    return xlsx_table(title, headers, rows, text_columns=text_columns)


async def audited_xlsx(
    session: AsyncSession,
    principal: Principal,
    *,
    what: str,
    detail: dict[str, Any],
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    text_columns: Sequence[int] = (),
    filename: str,
) -> Response:
    """The list as an XLSX download, audited as ``export.download`` of ``what`` (the same record the 资格认证到期
    名单 download makes)."""
    data = await build(title, headers, rows, text_columns=text_columns)
    await record_export(session, principal, what, {**detail, "format": "xlsx"}, rows=len(rows))
    return xlsx_response(data, filename)
