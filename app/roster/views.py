"""花名册: households and members imported from an XLSX roster, and lists exported to XLSX.

Pages: 户籍花名册导入 (template download, upload, the caller's recent imports) and one import's progress page,
which refreshes itself without JavaScript until the job is over and then shows what was saved, or every row that
is wrong (row, column, message; nothing saved). ID numbers never go into an address or a message in full.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import UploadFile
from starlette.responses import Response

from app.auth.deps import WebPrincipal
from app.auth.policy import Perm, Principal, require
from app.core.errors import Conflict
from app.roster import jobs, rules, sheet
from app.roster.exports import xlsx_response
from app.web.forms import read_form
from app.web.templating import render

router = APIRouter()

JobId = Annotated[str, Path(max_length=64, title="任务编号")]

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_TEXT = "20 MB"
REFRESH_SECONDS = 2
ERRORS_SHOWN = 500


def _page(
    request: Request,
    principal: Principal,
    *,
    error: str | None = None,
    filename: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "roster/index.html",
        {
            "nav": "villages",
            "headers": rules.HEADERS,
            "optional": rules.OPTIONAL_HEADERS,
            "can_import": principal.can(Perm.REGISTRY_WRITE),
            "jobs": jobs.jobs_of(principal),
            "error": error,
            "filename": filename,
            "max_upload": MAX_UPLOAD_TEXT,
            "max_rows": sheet.MAX_ROWS,
        },
        status_code=status_code,
    )


@router.get("/roster")
async def roster_page(request: Request, principal: WebPrincipal) -> HTMLResponse:
    require(principal, Perm.REGISTRY_READ)
    return _page(request, principal)


@router.get("/roster/template.xlsx")
async def template(principal: WebPrincipal) -> Response:
    require(principal, Perm.REGISTRY_READ)
    return xlsx_response(sheet.template(), "户籍花名册模板.xlsx")


@router.post("/roster/import", response_model=None)
async def start_import(request: Request, principal: WebPrincipal) -> Response:
    """Keep the file and start the import job; its page shows the progress and, at the end, the outcome."""
    require(principal, Perm.REGISTRY_WRITE)
    too_big = f"文件过大：最大 {MAX_UPLOAD_TEXT}。请把花名册拆分为几个文件分批导入"
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_UPLOAD_BYTES + 64 * 1024:
        return _page(request, principal, error=too_big, status_code=413)
    await read_form(request)  # the CSRF check
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, principal, error="请选择要导入的户籍花名册文件（.xlsx）", status_code=422)
    filename = upload.filename.replace("\\", "/").rsplit("/", 1)[-1].strip()[:150] or "花名册.xlsx"
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return _page(request, principal, error=too_big, filename=filename, status_code=413)
    if not data:
        return _page(request, principal, error="上传的文件是空的", filename=filename, status_code=422)
    try:
        job = jobs.start(
            principal,
            filename=filename,
            content=data,
            sessions=getattr(request.app.state, "sessionmaker", None),
        )
    except Conflict as exc:
        return _page(request, principal, error=exc.message, filename=filename, status_code=409)
    return RedirectResponse(f"/roster/jobs/{job.id}", status_code=303)


@router.get("/roster/jobs/{job_id}")
async def job_page(request: Request, principal: WebPrincipal, job_id: JobId) -> HTMLResponse:
    job = jobs.get_job(principal, job_id)
    refresh = None if job.finished else REFRESH_SECONDS
    response = render(
        request,
        "roster/job.html",
        {
            "nav": "villages",
            "job": job,
            "refresh": refresh,
            "errors": job.errors[:ERRORS_SHOWN],
            "more_errors": max(0, len(job.errors) - ERRORS_SHOWN),
        },
    )
    if refresh:
        response.headers["Refresh"] = str(refresh)
    return response
