"""A roster import as a background job in this process, with a progress page that can be left and come back to.

The request that starts a job checks the permission and keeps the uploaded bytes; an asyncio task then reads the
file (in a worker thread: ``读取`` so many rows), checks every row (``校验``) and, when all are valid, writes the
households in one session and transaction of its own (``保存`` so many households), so a job that fails or is
refused leaves nothing behind. Only the user who started a job can see it (its report lists names and row
numbers). Jobs live in this process's memory: a restart forgets them, never what a finished job committed.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import Perm, Principal, require
from app.core.clock import utcnow
from app.core.errors import Conflict, DomainError, NotFound
from app.core.xlsx import RosterError, RowError, RowsInvalid
from app.roster import service, sheet

log = logging.getLogger(__name__)

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]

KEPT_JOBS = 30
JOB_NOT_FOUND = "找不到该导入任务（任务只保留在本次运行的服务中，且只有发起人能查看）；请到户列表核对导入结果"
NO_POOL = "后台任务不可用：服务没有可用的数据库连接池，请联系管理员"
PHASES = {"read": "读取文件", "check": "校验", "save": "保存"}
UNITS = {"read": "行", "check": "行", "save": "户"}


@dataclass
class ImportJob:
    id: str
    user_id: int | None
    filename: str
    created_at: datetime
    phase: str = "read"
    done: int = 0
    total: int = 0  # 0 while the file is being read: the number of rows is not known yet
    rows: int = 0
    state: str = "running"  # running | finished | refused | failed
    message: str = ""
    errors: list[RowError] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def finished(self) -> bool:
        return self.state != "running"

    @property
    def phase_label(self) -> str:
        return PHASES[self.phase]

    @property
    def unit(self) -> str:
        return UNITS[self.phase]


_jobs: OrderedDict[str, ImportJob] = OrderedDict()
_running: set[asyncio.Task[None]] = set()


def get_job(principal: Principal, job_id: str) -> ImportJob:
    require(principal, Perm.REGISTRY_WRITE)
    job = _jobs.get(job_id)
    if job is None or job.user_id is None or job.user_id != principal.user_id:
        raise NotFound(JOB_NOT_FOUND)
    return job


def jobs_of(principal: Principal) -> list[ImportJob]:
    """The caller's own imports in this process, newest first."""
    return [j for j in reversed(_jobs.values()) if j.user_id is not None and j.user_id == principal.user_id]


def start(actor: Principal, *, filename: str, content: bytes, sessions: SessionFactory | None) -> ImportJob:
    require(actor, Perm.REGISTRY_WRITE)
    if sessions is None:
        raise Conflict(NO_POOL)
    job = ImportJob(id=secrets.token_hex(16), user_id=actor.user_id, filename=filename, created_at=utcnow())
    _jobs[job.id] = job
    while len(_jobs) > KEPT_JOBS:
        _jobs.popitem(last=False)
    task = asyncio.create_task(_supervise(job, _work(job, actor, content, sessions)))
    _running.add(task)
    task.add_done_callback(_running.discard)
    return job


async def _work(job: ImportJob, actor: Principal, content: bytes, sessions: SessionFactory) -> None:
    def rows_read(count: int) -> None:
        job.done = job.rows = count

    parsed = await asyncio.to_thread(sheet.parse_roster, content, progress=rows_read)
    job.rows, job.phase, job.done, job.total = parsed.count, "check", 0, parsed.count

    async def saved(done: int, total: int) -> None:
        job.phase, job.done, job.total = "save", done, total

    async with sessions() as session:
        try:
            outcome = await service.import_roster(session, actor, parsed, source=job.filename, progress=saved)
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    job.message = f"{outcome.message}（{job.filename}，共 {job.rows} 行）"


async def _supervise(job: ImportJob, work: Coroutine[Any, Any, None]) -> None:
    try:
        await work
        job.state = "finished"
    except RowsInvalid as exc:
        job.state, job.errors = "refused", exc.errors
        job.message = exc.message
    except RosterError as exc:
        job.state, job.message = "failed", exc.message
    except DomainError as exc:
        job.state, job.message = "failed", exc.message
    except Exception as exc:  # a job must end in a state the page can show, whatever went wrong
        log.exception("roster import job %s failed", job.id)
        job.state = "failed"
        job.message = f"系统错误（{type(exc).__name__}），本次没有保存任何数据；请稍后重试或联系管理员"
    finally:
        job.ended.set()


async def wait(job: ImportJob) -> None:
    """Until the job has ended (wrap in ``asyncio.timeout`` to bound it)."""
    await job.ended.wait()
