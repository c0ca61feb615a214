"""What the authorisation matrix aims background-job pages at: jobs that have ended, put in the running service's
job lists (they live in the process, not the database) for one probe and taken out after it.

* ``payment_job`` (资金发放 › 任务, issue 5): per label, an ended bank-result import of its county's (a payment job
  belongs to the county: h1, h2 and h3 share 封丘县's, h4 has 延津县's);
* ``agreement_job`` (批量生成协议书, issue 3): per label, an ended bulk generation in its village, with its ZIP file
  to download.

Roster import jobs are not here: only the user who started one may see it, whatever their areas; tests/roster
covers that.
"""

from __future__ import annotations

import secrets
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from app.agreements import jobs as agreement_jobs
from app.core.clock import utcnow
from app.payments import jobs as payment_jobs
from tests.seed import HOUSEHOLDS, SEED

if TYPE_CHECKING:
    from tests.authz.test_matrix import World

JOB_KINDS = frozenset({"payment_job", "agreement_job"})


def _payment_job(county: str) -> payment_jobs.PaymentJob:
    job = payment_jobs.PaymentJob(
        id=secrets.token_hex(16),
        kind="import",
        user_id=None,
        county_code=county,
        area_path=SEED.paths[county],
        title="矩阵任务 · 回盘.txt",
        created_at=utcnow() - timedelta(hours=2),  # ended long ago: not on the batch list
        status="finished",
        message="已导入 回盘.txt：发放成功 0 笔 0.00 元，发放失败 0 笔 0.00 元。",
    )
    job.ended.set()
    return job


def _agreement_job(village: str, zip_path: Path) -> agreement_jobs.BulkJob:
    job = agreement_jobs.BulkJob(
        id=secrets.token_hex(16),
        user_id=None,
        area_path=SEED.paths[village],
        county_code=village[:6],
        project_id=2**31 - 1,
        village_id=SEED.areas[village],
        title="矩阵项目 · 矩阵村",
        household_ids=[],
        created_at=utcnow() - timedelta(hours=2),
        status="finished",
        path=zip_path,
    )
    job.ended.set()
    return job


@contextmanager
def jobs_in_service(world: World) -> Iterator[None]:
    """Per label, an ended payment job of its county and an ended agreement job of its village, known to the
    service while the block runs (``world.extra``), gone from it afterwards."""
    with tempfile.TemporaryDirectory(prefix="anzhi-matrix-") as tmp:
        zip_path = Path(tmp) / "agreements.zip"
        with zipfile.ZipFile(zip_path, "w") as archive:
            archive.writestr("说明.txt", "矩阵测试")
        per_county = {village[:6]: _payment_job(village[:6]) for _l, village, _g, _n, _p in HOUSEHOLDS}
        per_village = {village: _agreement_job(village, zip_path) for _l, village, _g, _n, _p in HOUSEHOLDS}
        for job in per_county.values():
            payment_jobs._jobs[job.id] = job
        for bulk in per_village.values():
            agreement_jobs._jobs[bulk.id] = bulk
        world.extra["payment_job"] = {label: per_county[v[:6]].id for label, v, _g, _n, _p in HOUSEHOLDS}
        world.extra["agreement_job"] = {label: per_village[v].id for label, v, _g, _n, _p in HOUSEHOLDS}
        try:
            yield
        finally:
            for job in per_county.values():
                payment_jobs._jobs.pop(job.id, None)
            for bulk in per_village.values():
                agreement_jobs._jobs.pop(bulk.id, None)
