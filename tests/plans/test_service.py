"""Plan versions through the service: draft from the previous version, one open draft, maker-checker approval,
supersession, send back with a comment, scope, and the database guard on approved versions."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.plans import service
from app.plans.schemas import PlanParamsIn
from tests.plans.helpers import QFZ, approved_first_version, params_json, principal, project
from tests.seed import SEED


async def test_versioning(db: AsyncSession, seed: object) -> None:
    p, v1 = await approved_first_version(db)
    adm, rv_a = await principal(db, "adm"), await principal(db, "rv_a")
    assert (v1.version, v1.status, v1.reviewer_id) == (1, "approved", rv_a.user_id)

    v2 = await service.new_draft(db, adm, p.id, SEED.areas[QFZ])
    assert (v2.version, v2.status, v2.params) == (2, "draft", v1.params)  # a copy of the previous version
    with pytest.raises(Conflict, match="尚未审批完毕"):
        await service.new_draft(db, adm, p.id, SEED.areas[QFZ])

    changed = PlanParamsIn.model_validate(params_json(signing_bonus_per_person="12000.00"))
    v2 = await service.update_draft(db, adm, v2.id, changed, v2.lock_version)
    with pytest.raises(Conflict, match="已被他人修改"):
        await service.update_draft(db, adm, v2.id, changed, v2.lock_version - 1)
    assert service.param_changes(v1.params, v2.params) == (
        {"signing_bonus_per_person": "10000.00"},
        {"signing_bonus_per_person": "12000.00"},
    )

    await service.submit(db, adm, v2.id)
    with pytest.raises(Conflict, match="只有草稿可以修改"):
        await service.update_draft(db, adm, v2.id, changed, v2.lock_version)
    assert [p.id for p in await service.pending_reviews(db, rv_a)] == [v2.id]

    await service.approve(db, rv_a, v2.id)
    await db.refresh(v1)
    assert (v1.status, v2.status) == ("superseded", "approved")
    assert v1.superseded_at is not None
    current = await service.approved_plan(db, p.id, SEED.areas[QFZ])
    assert current is not None and current.id == v2.id
    assert service.params_of(current).signing_bonus_per_person == 1_200_000


async def test_the_author_cannot_approve(db: AsyncSession, seed: object) -> None:
    """Maker-checker: a reviewer who drafted a version (possible only through the data) may not approve it."""
    p = await project(db)
    adm = await principal(db, "adm")
    plan = await service.new_draft(db, adm, p.id, SEED.areas[QFZ], PlanParamsIn.model_validate(params_json()))
    await service.submit(db, adm, plan.id)
    rv_a = await principal(db, "rv_a")
    plan.author_id = rv_a.user_id
    await db.flush()
    assert await service.pending_reviews(db, rv_a) == []
    with pytest.raises(Forbidden, match="不能审批自己编制的方案"):
        await service.approve(db, rv_a, plan.id)
    with pytest.raises(Forbidden):  # an admin drafts but never approves
        await service.approve(db, adm, plan.id)


async def test_first_version_needs_params_and_draft_cannot_be_approved(
    db: AsyncSession, seed: object
) -> None:
    p = await project(db)
    adm, rv_a = await principal(db, "adm"), await principal(db, "rv_a")
    with pytest.raises(InvalidInput, match="第一版方案需要填写全部参数"):
        await service.new_draft(db, adm, p.id, SEED.areas[QFZ])
    plan = await service.new_draft(db, adm, p.id, SEED.areas[QFZ], PlanParamsIn.model_validate(params_json()))
    with pytest.raises(Conflict, match="只有待审核的方案可以批准"):
        await service.approve(db, rv_a, plan.id)


async def test_send_back_with_comment(db: AsyncSession, seed: object) -> None:
    p = await project(db)
    adm, rv_a = await principal(db, "adm"), await principal(db, "rv_a")
    plan = await service.new_draft(db, adm, p.id, SEED.areas[QFZ], PlanParamsIn.model_validate(params_json()))
    await service.submit(db, adm, plan.id)
    with pytest.raises(InvalidInput, match="退回时请写明意见"):
        await service.send_back(db, rv_a, plan.id, "  ")
    await service.send_back(db, rv_a, plan.id, "  围墙单价偏低，请核实  ")
    assert (plan.status, plan.review_comment) == ("draft", "围墙单价偏低，请核实")
    await service.submit(db, adm, plan.id)  # the author corrects and submits again
    assert plan.status == "submitted"


async def test_scope(db: AsyncSession, seed: object) -> None:
    """Reviewers and caseworkers of 城关乡 neither see nor act on 前方庄村's plans."""
    p, v1 = await approved_first_version(db)
    for username in ("rv_b", "cw_b"):
        outsider = await principal(db, username)
        assert await service.project_villages(db, outsider) == []
        with pytest.raises(NotFound):
            await service.get_plan(db, outsider, v1.id)
        with pytest.raises(NotFound):
            await service.versions(db, outsider, p.id, SEED.areas[QFZ])
    adm = await principal(db, "adm")
    v2 = await service.new_draft(db, adm, p.id, SEED.areas[QFZ])
    await service.submit(db, adm, v2.id)
    rv_b = await principal(db, "rv_b")
    assert await service.pending_reviews(db, rv_b) == []
    with pytest.raises(NotFound):
        await service.approve(db, rv_b, v2.id)
    cw_a = await principal(db, "cw_a")
    assert [r.village_name for r in await service.project_villages(db, cw_a)] == ["前方庄村"]
    with pytest.raises(Forbidden):
        await service.new_draft(db, cw_a, p.id, SEED.areas[QFZ])


async def test_approved_versions_never_change_in_the_database(db: AsyncSession, seed: object) -> None:
    _p, v1 = await approved_first_version(db)
    await db.commit()  # release the savepoint: the trigger's error must not be swallowed by the ORM
    with pytest.raises(DBAPIError, match="cannot be changed"):
        async with db.begin_nested():
            await db.execute(
                text(
                    "UPDATE plans SET params = jsonb_set(params, '{public_notice_days}', '30') WHERE id = :id"
                ),
                {"id": v1.id},
            )
    with pytest.raises(DBAPIError):
        async with db.begin_nested():
            await db.execute(text("DELETE FROM plans WHERE id = :id"), {"id": v1.id})
    stored = await db.scalar(
        text("SELECT params->>'public_notice_days' FROM plans WHERE id = :id"), {"id": v1.id}
    )
    assert stored == "7"
