"""Long payment work as background jobs in this process: generating a monthly pension batch (生成发放批次) and
importing a bank result file (导入回盘文件).

The request that starts a job checks who may run it and what was typed; an asyncio task then does the work in a
session and transaction of its own, so a job that fails leaves nothing behind (the batch is generated, or the
result file imported, whole or not at all). The job page shows ``第 3/10 段`` (generation, one segment per chunk
of enrollments) or ``第 2/4 步`` (an import) and refreshes itself without JavaScript until the job is over; it can
be left and come back to. Jobs live in this process's memory: a restart forgets them, never the work they
committed (the batch page shows it).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import Perm, Principal, authorize, require
from app.core.clock import format_month_cn, utcnow
from app.core.errors import Conflict, DomainError, NotFound
from app.core.money import format_yuan
from app.payments import service

log = logging.getLogger(__name__)

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]

MAX_JOBS = 50
JOB_NOT_FOUND = "找不到该任务（任务只保留在本次运行的服务中，可能已被清理）；请到发放批次列表查看结果"
NO_POOL = "后台任务不可用：服务没有可用的数据库连接池，请联系管理员"
KINDS = {"generate": "生成养老金发放批次", "import": "导入回盘文件"}
UNITS = {"generate": "段", "import": "步"}


@dataclass
class PaymentJob:
    id: str
    kind: str  # generate | import
    user_id: int | None
    county_code: str
    area_path: str  # the county's path: who may look at the job
    title: str
    created_at: datetime
    batch_id: int | None = None
    batch_number: str | None = None
    done: int = 0
    total: int = 0
    status: str = "running"  # running | finished | failed
    existing: bool = False  # generation found the batch already there
    message: str | None = None  # what the finished job did, in Chinese
    error: str | None = None  # why it failed, in Chinese
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def finished(self) -> bool:
        return self.status != "running"

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]

    @property
    def unit(self) -> str:
        return UNITS[self.kind]


_jobs: OrderedDict[str, PaymentJob] = OrderedDict()
_tasks: set[asyncio.Task[None]] = set()


def _remember(job: PaymentJob) -> None:
    _jobs[job.id] = job
    while len(_jobs) > MAX_JOBS:
        _jobs.popitem(last=False)


def get_job(principal: Principal, job_id: str) -> PaymentJob:
    job = _jobs.get(job_id)
    if job is None:
        raise NotFound(JOB_NOT_FOUND)
    authorize(principal, Perm.PAYMENT_PREPARE, job.area_path)
    if job.county_code != principal.county_code:
        raise NotFound(JOB_NOT_FOUND)
    return job


def running_jobs(principal: Principal) -> list[PaymentJob]:
    """The county's jobs still running, or ended in the last hour, newest first (for the batch list)."""
    if not principal.can(Perm.PAYMENT_PREPARE):
        return []
    now = utcnow()
    return [
        job
        for job in reversed(_jobs.values())
        if job.county_code == principal.county_code
        and principal.covers(job.area_path)
        and (not job.finished or (now - job.created_at).total_seconds() < 3600)
    ]


def _launch(job: PaymentJob, work: Callable[[], Awaitable[None]]) -> PaymentJob:
    _remember(job)
    task = asyncio.create_task(_run(job, work))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return job


async def _run(job: PaymentJob, work: Callable[[], Awaitable[None]]) -> None:
    try:
        await work()
        job.status = "finished"
    except DomainError as exc:
        job.status, job.error = "failed", exc.message
    except Exception as exc:  # a job must end in a state the page can show, whatever went wrong
        log.exception("payment job %s (%s) failed", job.id, job.kind)
        job.status = "failed"
        job.error = f"系统错误（{type(exc).__name__}），本次没有保存任何数据；请稍后重试或联系管理员"
    finally:
        job.ended.set()


def _progress(job: PaymentJob) -> service.Progress:
    async def report(done: int, total: int) -> None:
        job.done, job.total = done, total

    return report


async def start_generate(
    actor: Principal,
    county_path: str,
    period: date,
    *,
    scope_area_id: int | None,
    scope_name: str,
    reissue_all: bool,
    sessions: SessionFactory | None,
) -> PaymentJob:
    """Start generating the pension batch of ``period`` for a scope (``None``: the county)."""
    require(actor, Perm.PAYMENT_PREPARE)
    require(actor, Perm.PENSION_CLAIM)
    if sessions is None:
        raise Conflict(NO_POOL)
    job = PaymentJob(
        id=secrets.token_hex(16),
        kind="generate",
        user_id=actor.user_id,
        county_code=actor.county_code,
        area_path=county_path,
        title=f"{format_month_cn(period)}养老金 · {scope_name}"
        + ("（重发全部失败明细）" if reissue_all else ""),
        created_at=utcnow(),
    )

    async def work() -> None:
        async with sessions() as session:
            try:
                generated = await service.generate_pension_batch(
                    session,
                    actor,
                    period,
                    scope_area_id=scope_area_id,
                    reissue_all=reissue_all,
                    progress=_progress(job),
                )
                batch_id, number = generated.batch.id, generated.batch.number
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
        job.batch_id, job.batch_number = batch_id, number
        if not generated.created:
            job.existing = True
            job.message = f"本期该范围的发放批次 {number} 已经存在，没有重复生成"
            return
        parts = [f"已生成发放批次 {number}：{generated.lines} 笔，合计 {format_yuan(generated.amount)} 元"]
        if generated.back_pay_months:
            parts.append(f"含补发 {generated.back_pay_months} 个月")
        if generated.reissued:
            parts.append(f"重发失败明细 {generated.reissued} 笔")
        if generated.suspended:
            parts.append(f"{generated.suspended} 人因资格认证逾期暂停发放")
        job.message = "，".join(parts) + "。下一步：由另一位财政人员审核。"

    return _launch(job, work)


async def start_import(
    actor: Principal,
    batch: service.BatchSummary,
    county_path: str,
    *,
    fmt: str,
    filename: str,
    content: bytes,
    sessions: SessionFactory | None,
) -> PaymentJob:
    """Start importing a bank result file for a batch (checked by the caller: exported, imported or reconciled)."""
    require(actor, Perm.PAYMENT_PREPARE)
    if sessions is None:
        raise Conflict(NO_POOL)
    number = batch.batch.number
    job = PaymentJob(
        id=secrets.token_hex(16),
        kind="import",
        user_id=actor.user_id,
        county_code=actor.county_code,
        area_path=county_path,
        title=f"{number} · {filename}",
        created_at=utcnow(),
        batch_id=batch.batch.id,
        batch_number=number,
    )

    async def work() -> None:
        async with sessions() as session:
            try:
                outcome = await service.import_results(
                    session,
                    actor,
                    batch.batch.id,
                    fmt=fmt,
                    filename=filename,
                    content=content,
                    progress=_progress(job),
                )
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
        message = (
            f"已导入 {filename}：发放成功 {outcome.paid} 笔 {format_yuan(outcome.paid_total)} 元，"
            f"发放失败 {outcome.failed} 笔 {format_yuan(outcome.failed_total)} 元"
        )
        if outcome.exceptions:
            message += f"，{outcome.exceptions} 行对不上，已列入差错，请逐条处理"
        job.message = message + "。"

    return _launch(job, work)


async def wait(job: PaymentJob) -> None:
    """Until the job has ended (wrap in ``asyncio.timeout`` to bound it)."""
    await job.ended.wait()
