"""Bulk generation of a village's draft agreements (批量生成协议书) as a background job in this process.

The request that starts a job checks who may run it and which households qualify, then an asyncio task issues the
agreements one by one, each in its own transaction (a household that fails is listed and the others go on), and
writes the PDFs into one ZIP file. The job page shows ``已生成 N / M 份`` until the download is ready; it can be
left and come back to. Jobs live in this process's memory: a restart forgets them (the agreements themselves are
committed as they are made, and each can be downloaded from its household page).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements import service
from app.audit import service as audit
from app.auth.policy import Perm, Principal, authorize
from app.core.clock import utcnow
from app.core.errors import Conflict, DomainError, NotFound

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]

MAX_JOBS = 20
JOB_NOT_FOUND = "找不到该批量生成任务（任务只保留在本次运行的服务中，可能已被清理）"


@dataclass
class BulkJob:
    id: str
    user_id: int | None
    area_path: str
    county_code: str
    project_id: int
    village_id: int
    title: str
    household_ids: list[int]
    created_at: datetime
    done: int = 0
    numbers: list[str] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)
    status: str = "running"  # running | finished | failed
    error: str | None = None
    path: Path | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def total(self) -> int:
        return len(self.household_ids)

    @property
    def finished(self) -> bool:
        return self.status != "running"

    @property
    def filename(self) -> str:
        return f"agreements-{self.project_id}-{self.village_id}-{self.id[:8]}.zip"


_jobs: OrderedDict[str, BulkJob] = OrderedDict()
_tasks: set[asyncio.Task[None]] = set()


def _remember(job: BulkJob) -> None:
    _jobs[job.id] = job
    while len(_jobs) > MAX_JOBS:
        _old_id, old = _jobs.popitem(last=False)
        if old.path is not None:
            with contextlib.suppress(OSError):
                old.path.unlink()


def get_job(principal: Principal, job_id: str) -> BulkJob:
    job = _jobs.get(job_id)
    if job is None:
        raise NotFound(JOB_NOT_FOUND)
    authorize(principal, Perm.AGREEMENT_MANAGE, job.area_path)
    return job


async def start(
    session: AsyncSession,
    actor: Principal,
    project_id: int,
    village_id: int,
    sessions: SessionFactory | None,
) -> BulkJob:
    """Check, list the households, and start the job; it runs on after the request has answered."""
    info, household_ids = await service.bulk_candidates(session, actor, project_id, village_id)
    if not household_ids:
        raise Conflict("本村在该项目中没有可生成协议书的户（须公示期满、无未处理的异议且尚无协议）")
    if sessions is None:
        raise Conflict("后台任务不可用：服务没有可用的数据库连接池，请联系管理员")
    job = BulkJob(
        id=secrets.token_hex(16),
        user_id=actor.user_id,
        area_path=info.link.area_path,
        county_code=info.project.county_code,
        project_id=project_id,
        village_id=village_id,
        title=f"{info.project.name} · {info.village.name}",
        household_ids=household_ids,
        created_at=utcnow(),
    )
    _remember(job)
    task = asyncio.create_task(run(job, actor, sessions))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return job


async def run(job: BulkJob, actor: Principal, sessions: SessionFactory) -> None:
    try:
        handle, name = tempfile.mkstemp(prefix="anzhi-agreements-", suffix=".zip")
        os.close(handle)
        path = Path(name)
        # PDFs are compressed already; storing them keeps the archive step cheap.
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
            for household_id in job.household_ids:
                async with sessions() as session:
                    try:
                        agreement = await service.issue_agreement(
                            session, actor, household_id, job.project_id
                        )
                        number, data = agreement.number, agreement.pdf
                        await session.commit()
                    except DomainError as exc:
                        await session.rollback()
                        job.failures.append((household_id, exc.message))
                    else:
                        archive.writestr(f"{number}.pdf", data)
                        job.numbers.append(number)
                job.done += 1
        job.path = path
        async with sessions() as session:
            await audit.record(
                session,
                actor,
                "agreement.bulk",
                "village",
                job.village_id,
                after={
                    "project_id": job.project_id,
                    "issued": len(job.numbers),
                    "failed": len(job.failures),
                    "numbers": job.numbers[:5] + (["…"] if len(job.numbers) > 5 else []),
                },
                county_code=job.county_code,
            )
            await session.commit()
        job.status = "finished"
    except Exception as exc:  # a job must end in a state the page can show, whatever went wrong
        job.status = "failed"
        job.error = f"{type(exc).__name__}"
        raise
    finally:
        job.ended.set()


async def wait(job: BulkJob) -> None:
    """Until the job has finished (wrap in ``asyncio.timeout`` to bound it)."""
    await job.ended.wait()
