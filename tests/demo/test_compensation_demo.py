"""The demo county's compensation story (project FQ-2023, app/compensation/demo.py), loaded as at start-up: each
village stands where its ladder says, as the dashboard counts it; the handed-over cash and purchase cases are paid
by one closed compensation batch whose lines match their tranches; agreements are numbered in order; the ledger
balances; the review queue holds the assessments left for review."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements.models import Agreement
from app.areas.models import Area
from app.auth import service as auth_service
from app.auth.models import User
from app.auth.policy import Principal
from app.compensation import service as compensation
from app.compensation.demo import BATCH_PERIOD, LADDERS, PAID_ON, PROJECT_CODE
from app.compensation.models import Assessment
from app.dashboard import service as dashboard
from app.demo.generate import generate
from app.demo.load import load_demo
from app.households import progress
from app.households.models import Member
from app.ledger import service as ledger
from app.payments import compensation as payables
from app.payments.models import PaymentBatch
from app.plans.models import Project

LIZHUANG = "410727102204"  # 李庄村: not started


async def _principal(db: AsyncSession, username: str) -> Principal:
    user = await db.scalar(select(User).where(User.username == username))
    assert user is not None
    return await auth_service.principal_for(db, user)


async def test_the_new_district_stands_where_its_ladder_says(db: AsyncSession, pinned_clock: Any) -> None:
    pinned_clock(datetime(2026, 11, 22, 2, 0, tzinfo=UTC))
    result = await load_demo(db, data=generate())
    story = result.compensation
    assert story is not None
    project = await db.scalar(select(Project).where(Project.code == PROJECT_CODE))
    assert project is not None
    ids = {
        a.code: a.id
        for a in (await db.scalars(select(Area).where(Area.code.in_([*LADDERS, LIZHUANG])))).all()
    }
    finance = await _principal(db, "finance")
    stages = await dashboard.village_stages(db, finance, list(ids.values()))

    settled_expected = 0
    for code, ladder in LADDERS.items():
        reached = {row.code: row.reached.households for row in stages[ids[code]]}
        assert reached["surveyed"] == ladder.surveyed, code
        assert reached["assessed"] == ladder.approved, code
        assert reached["noticed"] == (ladder.approved if ladder.noticed else 0), code
        assert reached["signed"] == ladder.signed, code
        assert reached["vacated"] == ladder.vacated, code
        # settled: handed over, every tranche paid (the demo's batch paid them all) and, for the flat option, its
        # flats chosen — in 东关村 only
        handed_over = (
            await db.execute(
                text(
                    """
                    SELECT count(DISTINCT g.household_id) FILTER (WHERE a.option_kind <> 'resettlement_flat'),
                           count(DISTINCT g.household_id) FILTER (WHERE a.option_kind = 'resettlement_flat')
                    FROM agreements g
                    JOIN assessments a ON a.id = g.assessment_id
                    JOIN compensation_tranches t ON t.agreement_id = g.id AND t.kind = 'vacate' AND t.status = 'due'
                    WHERE g.village_id = :v AND g.status = 'signed'
                    """
                ),
                {"v": ids[code]},
            )
        ).one()
        flats_chosen = int(handed_over[1]) if ladder.flats_chosen else 0
        assert reached["settled"] == handed_over[0] + flats_chosen, code
        settled_expected += int(handed_over[0])
        allocated = await db.scalar(
            text(
                "SELECT count(DISTINCT l.household_id) FROM allocations l JOIN households h ON h.id = l.household_id "
                "WHERE h.village_id = :v AND l.project_id = :p AND l.released_at IS NULL"
            ),
            {"v": ids[code], "p": project.id},
        )
        assert allocated == flats_chosen, code
    assert settled_expected > 0
    assert {row.code: row.reached.households for row in stages[ids[LIZHUANG]]}["surveyed"] == 0
    assert story.surveyed == sum(ladder.surveyed for ladder in LADDERS.values())
    assert story.signed == sum(ladder.signed for ladder in LADDERS.values())
    assert story.vacated == sum(ladder.vacated for ladder in LADDERS.values())
    # the flats chosen on the story's 选房日, one unit per chosen area, each unit once
    flats = (
        await db.execute(
            text(
                "SELECT count(*), count(DISTINCT unit_id), max(allocated_at) FROM allocations "
                "WHERE project_id = :p AND released_at IS NULL"
            ),
            {"p": project.id},
        )
    ).one()
    assert flats[0] == flats[1] == story.flats_allocated > 0
    assert flats[2] < datetime(2024, 1, 1, tzinfo=UTC)

    # agreements: numbered 0001… in each village in signing order, every one with its PDF, issued before signing
    for code, ladder in LADDERS.items():
        rows = (
            await db.execute(
                select(Agreement.number, Agreement.signed_on, Agreement.snapshot, Agreement.pdf_sha256)
                .where(Agreement.village_id == ids[code], Agreement.project_id == project.id)
                .order_by(Agreement.number)
            )
        ).all()
        assert len(rows) == ladder.signed
        assert [r.number[-4:] for r in rows] == [f"{i:04d}" for i in range(1, ladder.signed + 1)]
        assert [r.signed_on for r in rows] == sorted(r.signed_on for r in rows)
        assert all(r.pdf_sha256 is not None and r.snapshot["issued_on"] for r in rows)

    # the story's dates: every approval before its notice, every notice before its signings
    out_of_order = await db.scalar(
        text(
            """
            SELECT count(*) FROM assessments a
            JOIN notice_entries e ON e.assessment_id = a.id JOIN public_notices n ON n.id = e.notice_id
            LEFT JOIN agreements g ON g.assessment_id = a.id
            WHERE a.project_id = :p AND ((a.reviewed_at AT TIME ZONE 'Asia/Shanghai')::date >= n.started_on
                                         OR g.signed_on < n.started_on + n.days)
            """
        ),
        {"p": project.id},
    )
    assert out_of_order == 0

    # the compensation batch: closed, one line per due tranche, every line paid, its total theirs
    batch = await db.scalar(select(PaymentBatch).where(PaymentBatch.kind == "compensation"))
    assert batch is not None
    assert (batch.status, batch.period) == ("closed", BATCH_PERIOD)
    due = (
        await db.execute(
            text(
                """
                SELECT count(*), coalesce(sum(t.amount), 0) FROM compensation_tranches t
                WHERE t.project_id = :p AND t.status = 'due'
                """
            ),
            {"p": project.id},
        )
    ).one()
    assert (
        (batch.line_count, batch.total) == (int(due[0]), int(due[1])) == (story.paid_lines, story.paid_total)
    )
    paid = await db.scalar(
        text(
            "SELECT count(*) FROM payment_lines l JOIN line_outcomes o ON o.line_id = l.id "
            "WHERE l.batch_id = :b AND o.paid AND o.resolved_on = :on"
        ),
        {"b": batch.id, "on": PAID_ON},
    )
    assert paid == batch.line_count > 0

    # the ledger balances to the fen
    trial = await ledger.trial_balance(db, finance)
    assert trial.debit == trial.credit > 0

    # reviewer2's queue: the assessments submitted but not yet approved
    waiting = sum(ladder.submitted - ladder.approved for ladder in LADDERS.values())
    assert waiting > 0
    reviewer = await _principal(db, "reviewer2")
    assert await compensation.count_pending_reviews(db, reviewer) == waiting
    submitted = await db.scalar(
        select(func.count()).select_from(Assessment).where(Assessment.project_id == project.id)
    )
    assert submitted == sum(ladder.submitted for ladder in LADDERS.values())


async def _household(db: AsyncSession, option: str, vacate_status: str) -> int:
    found = await db.scalar(
        text(
            """
            SELECT g.household_id FROM agreements g
            JOIN assessments a ON a.id = g.assessment_id
            JOIN compensation_tranches t ON t.agreement_id = g.id AND t.kind = 'vacate'
            WHERE g.status = 'signed' AND a.option_kind = :option AND t.status = :status
            ORDER BY g.number LIMIT 1
            """
        ),
        {"option": option, "status": vacate_status},
    )
    assert found is not None, (option, vacate_status)
    return int(found)


async def test_the_household_hint_follows_the_case_after_signing(db: AsyncSession, pinned_clock: Any) -> None:
    """The 下一步 hint on the household pages, after signing: the handover, the payment, the flat, or done."""
    pinned_clock(datetime(2026, 11, 22, 2, 0, tzinfo=UTC))
    await load_demo(db, data=generate())
    caseworker = await _principal(db, "caseworker2")

    async def hint(household_id: int) -> str:
        members = (await db.scalars(select(Member).where(Member.household_id == household_id))).all()
        return await progress.next_step(db, caseworker, household_id, members)

    waiting = await _household(db, "resettlement_flat", "awaiting")
    assert (await hint(waiting)).endswith("签订。下一步：腾房交付验收，在“协议”页登记验收日期和收款账户。")

    # handed over, paid by the demo's batch, its flats chosen
    handed_over_flat = await _household(db, "resettlement_flat", "due")
    assert (await hint(handed_over_flat)).endswith(
        "腾房交付；补偿款已全部到账，安置房已分配：本户安置已完成。"
    )

    paid_cash = await _household(db, "cash", "due")
    assert (await hint(paid_cash)).endswith("腾房交付；补偿款已全部到账：本户安置已完成。")
    paid_purchase = await _household(db, "existing_housing", "due")
    assert (await hint(paid_purchase)).endswith("腾房交付；补偿款已全部到账：本户安置已完成。")

    # the handover recorded for the waiting household: now the money is due, and the flat still to come
    agreement = await db.scalar(select(Agreement).where(Agreement.household_id == waiting))
    assert agreement is not None
    await payables.record_condition(
        db,
        caseworker,
        agreement.id,
        kind="vacate",
        on=date(2026, 11, 20),
        note="腾房交付验收合格",
        bank_name="中国邮政储蓄银行封丘县支行",
        account_number="6217000011112222333",
    )
    assert (await hint(waiting)).endswith(
        "2026年11月20日腾房交付。下一步：财政局在补偿款发放批次中支付；按公布的选房顺序分配安置房。"
    )
