"""The flats pages as a browser uses them: admin registers a building and its units, a caseworker draws the
lottery and allocates in turn, the household tab shows the flat."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests.flats.factories import make_household, make_project
from tests.web.pages import field_error, post_form, text_of


async def test_web_flow(browser: Any, db: AsyncSession, seed: Any) -> None:
    world = await make_project(db)
    first = await make_household(db, world, head="李四海", flats=("90.00",))
    second = await make_household(db, world, head="王建军", flats=("75.00",))
    pid, vid = world.project.id, world.village_id
    adm = await browser("adm")

    page = f"/projects/{pid}/buildings"
    r = await post_form(adm, page, page, {"name": ""})
    assert r.status_code == 422 and "请填写楼号" in (field_error(r.text, "name") or "")
    r = await post_form(adm, page, page, {"name": "1号楼"})
    assert r.status_code == 303, r.text
    building_url = r.headers["location"]
    bid = int(building_url.rsplit("/", 1)[1])
    r = await post_form(
        adm,
        building_url,
        f"/buildings/{bid}/units/bulk",
        {"floor_from": "3", "floor_to": "1", "areas": "75 90"},
    )
    assert r.status_code == 422 and "楼层范围有误" in text_of(r.text)
    assert 'value="75 90"' in r.text  # what was typed stays
    r = await post_form(
        adm,
        building_url,
        f"/buildings/{bid}/units/bulk",
        {"floor_from": "1", "floor_to": "2", "areas": "75，90"},
    )
    assert r.status_code == 303, r.text
    r = await adm.get(building_url)
    assert "已保存：批量登记房源 4 套（101—202）" in text_of(r.text)
    r = await post_form(
        adm, building_url, f"/buildings/{bid}/units", {"number": "301", "floor": "3", "area": "110"}
    )
    assert r.status_code == 303
    r = await adm.get(page)
    assert re.search(r"1号楼.*?5.*?5", text_of(r.text))

    cw = await browser("cw_a")
    order_url = f"/villages/{vid}/flats"
    r = await cw.get(order_url)
    assert r.status_code == 200
    text = text_of(r.text)
    assert "按签约顺序" in text and "李*海" in text and "王*军" in text and "李四海" not in text
    r = await post_form(cw, order_url, f"/villages/{vid}/lottery", {"project_id": str(pid), "seed": "demo-1"})
    assert r.status_code == 422 and field_error(r.text, "confirm")
    r = await post_form(
        cw,
        order_url,
        f"/villages/{vid}/lottery",
        {"project_id": str(pid), "seed": "demo-1", "confirm": "yes"},
    )
    assert r.status_code == 303, r.text
    r = await cw.get(order_url)
    text = text_of(r.text)
    assert "按摇号顺序" in text and "demo-1" in text and "sha256sum" in text
    current = int(re.search(r'name="household_id" value="(\d+)"', r.text).group(1))  # type: ignore[union-attr]
    assert current in (first, second)
    other = second if current == first else first
    options = dict(
        (text_of(label).strip(), value)
        for value, label in re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', r.text)
    )
    assert options and all(("90.00㎡" in k) == (current == first) for k in options)
    unit_id = next(iter(options.values()))
    # Out of turn, via a crafted post: refused with whose turn it is.
    r = await post_form(
        cw,
        order_url,
        f"/villages/{vid}/allocate",
        {"project_id": str(pid), "household_id": str(other), "unit_id": unit_id},
    )
    assert r.status_code == 409 and "还没轮到该户选房" in text_of(r.text)
    r = await post_form(
        cw,
        order_url,
        f"/villages/{vid}/allocate",
        {"project_id": str(pid), "household_id": str(current), "unit_id": unit_id},
    )
    assert r.status_code == 303, r.text
    r = await cw.get(f"/households/{current}/flats")
    assert r.status_code == 200
    text = text_of(r.text)
    assert "1号楼" in text and "已分配" in text and "按摇号顺序" in text
    # The agreement tab lists the flats allocated under the agreement.
    text = text_of((await cw.get(f"/households/{current}/agreements")).text)
    assert "协议项下的安置房" in text and "1号楼" in text
    allocation_id = re.search(r'action="/allocations/(\d+)/release"', (await cw.get(order_url)).text)
    assert allocation_id is not None
    release = f"/allocations/{allocation_id.group(1)}/release"
    r = await post_form(cw, order_url, release, {"reason": ""})
    assert r.status_code == 422 and "退回原因" in text_of(r.text)
    r = await post_form(cw, order_url, release, {"reason": "户主要求换房"})
    assert r.status_code == 303
    text = text_of((await cw.get(f"/households/{current}/flats")).text)
    assert "退回" in text and "户主要求换房" in text

    # A reviewer reads the order but gets no forms, and may not allocate.
    rv = await browser("rv_a")
    r = await rv.get(order_url)
    assert r.status_code == 200 and "确认分配" not in r.text
    r = await post_form(
        rv,
        order_url,
        f"/villages/{vid}/allocate",
        {"project_id": str(pid), "household_id": str(current), "unit_id": unit_id},
    )
    assert r.status_code == 403
