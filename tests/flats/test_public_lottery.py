"""The published lottery page: anyone can open it without logging in and recheck the order from the seed."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.flats import rules, service
from tests.flats.factories import principal
from tests.flats.test_service import three_households


async def test_published_lottery_is_public_and_rechecks(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    world, _ids = await three_households(db)
    cw = await principal(db, "cw_a")
    view = await service.order_for(db, cw, world.project.id, world.village_id)
    pairs = [(e.household.household_id, e.household.register_no) for e in view.entries]
    lottery = await service.draw_lottery(db, cw, world.project.id, world.village_id, "seed-42")
    await db.flush()

    page = await client.get(f"/public/lotteries/{lottery.id}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "seed-42" in page.text and "摇号算法" in page.text
    register_nos = dict(pairs)
    expected = [register_nos[h] for h in rules.lottery_order("seed-42", pairs)]
    positions = [page.text.index(f"<td>{no}</td>") for no in expected]
    assert positions == sorted(positions)  # listed in the drawn order
    for no in expected:
        assert rules.lottery_key("seed-42", no)[:16] in page.text
    assert "王建军" not in page.text  # names are masked
    assert "王*军" in page.text

    missing = await client.get("/public/lotteries/999999", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and "没有这次摇号的记录" in missing.text
