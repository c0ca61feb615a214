"""The caseworker's registry pages, following the "Done when" story of issue 2 and the ways it can go wrong."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.policy import SYSTEM
from app.core.idcard import check_digit, make_id_number
from app.households import service
from app.households.models import Member
from app.households.schemas import HouseholdIn
from tests.web.pages import csrf, field_error, input_value, login, section, selected, text_of

QFZ = "410727101201"  # 前方庄村, cw_a's village


def wrong_check_digit(number: str) -> str:
    return number[:17] + ("1" if check_digit(number[:17]) != "1" else "2")


async def count(db: AsyncSession, model: Any, *where: Any) -> int:
    return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_done_when_story(client: httpx.AsyncClient, seed: Any, db: AsyncSession) -> None:
    """Log in, find 王建国's household by "建国", add a member with a bad ID number, then a good one, and see it in
    the household's history."""
    await login(client, "cw_a")
    village = seed.areas[QFZ]
    household = seed.households["h1"]

    villages = text_of((await client.get("/villages")).text)
    assert "王村乡 前方庄村" in villages
    assert "东关村" not in villages and "西街村" not in villages

    token = await csrf(client, f"/villages/{village}/households")
    r = await client.post(f"/villages/{village}/households/search", data={"csrf_token": token, "q": "建国"})
    assert r.status_code == 303
    assert r.headers["location"] == f"/villages/{village}/households?q=%E5%BB%BA%E5%9B%BD&page=1"
    listing = await client.get(r.headers["location"])
    text = text_of(listing.text)
    assert "姓名含“建国”：共 1 户" in text
    assert "QFZ-0001 王建国 第一村民小组 前方庄村QFZ-0001号 3" in text
    assert f'href="/households/{household}"' in listing.text

    page = await client.get(f"/households/{household}")
    assert page.status_code == 200
    members = text_of(section(page.text, "members"))
    assert "王建国 户主 男 1960年3月15日 410727********" in members
    assert "新增家庭成员" in members

    good = make_id_number("410727", date(2015, 6, 1), 402)
    bad = wrong_check_digit(good)
    token = await csrf(client, f"/households/{household}/members/new")
    form = {"csrf_token": token, "name": "王小红", "id_number": bad, "relation": "grandchild", "phone": ""}
    r = await client.post(f"/households/{household}/members/new", data=form)
    assert r.status_code == 422
    assert field_error(r.text, "id_number") == f"错误：身份证号校验位错误：最后一位应为 {good[-1]}"
    assert input_value(r.text, "name") == "王小红"
    assert input_value(r.text, "id_number") == bad
    assert selected(r.text, "relation") == "grandchild"
    assert await count(db, Member, Member.household_id == household) == 3

    r = await client.post(f"/households/{household}/members/new", data={**form, "id_number": good})
    assert r.status_code == 303
    assert r.headers["location"] == f"/households/{household}"
    page = await client.get(r.headers["location"])
    assert "已保存：王建国的家庭成员（新增 1 人：王小红）" in page.text
    members = text_of(section(page.text, "members"))
    assert "王小红 孙子女/外孙子女 女 2015年6月1日 410727********" in members
    history = text_of(section(page.text, "history"))
    assert "cw_a 村级经办员 新增家庭成员 王小红 姓名：王小红" in history
    assert "姓名：王小红" in history and "与户主关系：孙子女/外孙子女" in history
    assert good not in page.text  # the list shows masked numbers only
    # The flash is shown once.
    again = await client.get(f"/households/{household}")
    assert "已保存：" not in again.text


async def test_search_by_id_number_stays_out_of_urls(client: httpx.AsyncClient, seed: Any) -> None:
    await login(client, "cw_a")
    village = seed.areas[QFZ]
    token = await csrf(client, f"/villages/{village}/households")
    number = seed.id_numbers["h1_spouse"]

    r = await client.post(f"/villages/{village}/households/search", data={"csrf_token": token, "q": number})
    assert r.status_code == 200
    assert "location" not in r.headers and not r.history
    assert number not in str(r.url)
    text = text_of(r.text)
    assert "按身份证号查找：本村共 1 户" in text
    assert "QFZ-0001 王建国" in text
    assert input_value(r.text, "q") == number

    # Lower-case x and surrounding spaces are fine; a person of another village is not listed here.
    other = seed.id_numbers["h2_head"]
    r = await client.post(
        f"/villages/{village}/households/search", data={"csrf_token": token, "q": f" {other} "}
    )
    assert r.status_code == 200
    assert "本村共 0 户" in text_of(r.text) and "张德胜" not in r.text

    bad = wrong_check_digit(number)
    r = await client.post(f"/villages/{village}/households/search", data={"csrf_token": token, "q": bad})
    assert r.status_code == 422
    assert "身份证号校验位错误" in r.text
    assert input_value(r.text, "q") == bad
    assert "location" not in r.headers

    # Part of a number is not sent to the list page (where it would end up in the URL).
    r = await client.post(
        f"/villages/{village}/households/search", data={"csrf_token": token, "q": number[:10]}
    )
    assert r.status_code == 422
    assert "身份证号应为18位（旧证15位），现在是10位" in r.text
    assert "location" not in r.headers

    r = await client.post(f"/villages/{village}/households/search", data={"csrf_token": token, "q": "  "})
    assert r.status_code == 303 and r.headers["location"] == f"/villages/{village}/households"


async def test_household_list_paginates_and_keeps_the_search(
    client: httpx.AsyncClient, seed: Any, db: AsyncSession
) -> None:
    village = seed.areas[QFZ]
    for i in range(22):
        await service.create_household(
            db,
            SYSTEM,
            HouseholdIn(
                village_id=village,
                register_no=f"QFZ-T{i:03d}",
                address=f"前方庄村测试街{i}号",
                head_name=f"测试{i}",
                head_id_number=make_id_number("410727", date(1980, 1, 1 + i), 601),
            ),
        )
    await login(client, "cw_a")
    r = await client.get(f"/villages/{village}/households", params={"q": "测试", "page": 2})
    assert r.status_code == 200
    text = text_of(r.text)
    assert "姓名含“测试”：共 22 户" in text
    assert "第 2 / 2 页" in text
    assert f'href="/villages/{village}/households?q=%E6%B5%8B%E8%AF%95&amp;page=1"' in r.text
    assert text.count("前方庄村测试街") == 2

    r = await client.get(f"/villages/{village}/households")
    assert "共 23 户" in text_of(r.text)


async def test_invalid_and_duplicate_values_are_explained_next_to_their_fields(
    client: httpx.AsyncClient, seed: Any, db: AsyncSession
) -> None:
    await login(client, "cw_a")
    household = seed.households["h1"]
    token = await csrf(client, f"/households/{household}/members/new")

    r = await client.post(
        f"/households/{household}/members/new",
        data={"csrf_token": token, "name": "", "id_number": "", "relation": "", "phone": "12345"},
    )
    assert r.status_code == 422
    assert field_error(r.text, "name") == "错误：请填写姓名"
    assert field_error(r.text, "id_number") == "错误：请填写身份证号"
    assert field_error(r.text, "relation") == "错误：请选择与户主关系"
    assert field_error(r.text, "phone") == "错误：联系电话应为11位手机号或带区号的固定电话"
    assert input_value(r.text, "phone") == "12345"
    assert 'href="#f-name"' in r.text  # the summary links to the field

    # 李秀英 is already a registered member: one person, one household; the message names where.
    r = await client.post(
        f"/households/{household}/members/new",
        data={
            "csrf_token": token,
            "name": "李秀英",
            "id_number": seed.id_numbers["h1_spouse"],
            "relation": "other",
        },
    )
    assert r.status_code == 409
    message = field_error(r.text, "id_number") or ""
    assert "QFZ-0001" in message and "同一人不能同时在两户在册" in message and "迁移成员" in message

    # 张德胜 is registered in 后方庄村, outside cw_a's village: refused, without saying where.
    r = await client.post(
        f"/households/{household}/members/new",
        data={
            "csrf_token": token,
            "name": "张德胜",
            "id_number": seed.id_numbers["h2_head"],
            "relation": "other",
        },
    )
    assert r.status_code == 409
    message = field_error(r.text, "id_number") or ""
    assert "不在您负责的区域内" in message and "HFZ-0001" not in message and "后方庄村" not in message
    assert await count(db, Member, Member.household_id == household) == 3

    # A second head is refused next to 与户主关系.
    r = await client.post(
        f"/households/{household}/members/new",
        data={
            "csrf_token": token,
            "name": "王二",
            "id_number": make_id_number("410727", date(1991, 2, 2), 433),
            "relation": "head",
        },
    )
    assert r.status_code == 409
    assert "该户已有在册户主（王建国）" in (field_error(r.text, "relation") or "")
    assert await count(db, Member, Member.household_id == household) == 3


async def test_names_are_escaped(client: httpx.AsyncClient, seed: Any) -> None:
    await login(client, "cw_a")
    household = seed.households["h1"]
    token = await csrf(client, f"/households/{household}/members/new")
    r = await client.post(
        f"/households/{household}/members/new",
        data={
            "csrf_token": token,
            "name": "<script>x</script>",
            "id_number": make_id_number("410727", date(2001, 1, 1), 441),
            "relation": "other",
        },
    )
    assert r.status_code == 303
    page = (await client.get(f"/households/{household}")).text
    assert "<script>x</script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page


async def test_new_household(client: httpx.AsyncClient, seed: Any) -> None:
    await login(client, "cw_a")
    village = seed.areas[QFZ]
    group = seed.areas[QFZ + "-01"]
    page = await client.get(f"/villages/{village}/households/new")
    assert "第一村民小组" in page.text
    token = await csrf(client, f"/villages/{village}/households/new")
    number = make_id_number("410727", date(1977, 7, 7), 455)
    form = {
        "csrf_token": token,
        "group_id": str(group),
        "register_no": "QFZ-0001",
        "address": "前方庄村西街3号",
        "head_name": "孙福来",
        "head_id_number": number,
        "head_phone": "13812345678",
    }

    r = await client.post(f"/villages/{village}/households/new", data=form)
    assert r.status_code == 409
    assert field_error(r.text, "register_no") == "错误：户口簿编号 QFZ-0001 已被使用"
    assert selected(r.text, "group_id") == str(group)
    assert input_value(r.text, "head_id_number") == number

    r = await client.post(f"/villages/{village}/households/new", data={**form, "register_no": "QFZ-0100"})
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "已保存：新增被征收户 户主 孙福来（户口簿编号 QFZ-0100）" in page.text
    text = text_of(page.text)
    assert "村民小组 第一村民小组" in text and "住址 前方庄村西街3号" in text
    assert "新增被征收户" in text_of(section(page.text, "history"))
    assert "户籍信息已登记（在册 1 人）。下一步：房屋调查登记。" in text


async def test_edit_household_and_stale_version(client: httpx.AsyncClient, seed: Any) -> None:
    await login(client, "cw_a")
    household = seed.households["h1"]
    form_page = await client.get(f"/households/{household}/edit")
    version = input_value(form_page.text, "version")
    assert version is not None
    assert input_value(form_page.text, "address") == "前方庄村QFZ-0001号"
    token = await csrf(client, f"/households/{household}/edit")
    form = {
        "csrf_token": token,
        "group_id": str(seed.areas[QFZ + "-01"]),
        "register_no": "QFZ-0001",
        "address": "前方庄村东街8号",
        "version": version,
    }

    r = await client.post(f"/households/{household}/edit", data=form)
    assert r.status_code == 303
    page = await client.get(f"/households/{household}")
    assert "已保存：王建国的户信息（修改 住址）" in page.text
    assert "住址：前方庄村QFZ-0001号 → 前方庄村东街8号" in text_of(section(page.text, "history"))

    # Someone else saved in between: the old version number is refused and the typed text kept.
    r = await client.post(f"/households/{household}/edit", data={**form, "address": "前方庄村南街1号"})
    assert r.status_code == 409
    assert "该户信息已被他人修改，请刷新页面后重新填写" in r.text
    assert input_value(r.text, "address") == "前方庄村南街1号"
    page = await client.get(f"/households/{household}")
    assert "前方庄村南街1号" not in page.text


async def test_edit_member_with_stale_version(client: httpx.AsyncClient, seed: Any) -> None:
    await login(client, "cw_a")
    member = seed.members["h1_child"]
    form_page = await client.get(f"/members/{member}/edit")
    assert selected(form_page.text, "relation") == "child"
    assert selected(form_page.text, "status") == "registered"
    assert input_value(form_page.text, "id_number") == ""
    version = input_value(form_page.text, "version")
    token = await csrf(client, f"/members/{member}/edit")
    form = {
        "csrf_token": token,
        "name": "王小明",
        "relation": "child",
        "status": "registered",
        "phone": "13900001111",
        "id_number": "",
        "version": version,
    }

    r = await client.post(f"/members/{member}/edit", data=form)
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "已保存：王建国的家庭成员（修改 王小明：联系电话）" in page.text
    assert "联系电话：（空） → 13900001111" in text_of(section(page.text, "history"))

    r = await client.post(f"/members/{member}/edit", data={**form, "name": "王晓明"})
    assert r.status_code == 409
    assert "该成员信息已被他人修改，请刷新页面后重新填写" in r.text
    assert input_value(r.text, "name") == "王晓明"
    assert "放弃所填内容，重新打开" in r.text


async def test_correcting_an_id_number(client: httpx.AsyncClient, seed: Any) -> None:
    await login(client, "cw_a")
    member = seed.members["h1_child"]
    form_page = await client.get(f"/members/{member}/edit")
    corrected = make_id_number("410727", date(1990, 1, 21), 311)
    token = await csrf(client, f"/members/{member}/edit")
    r = await client.post(
        f"/members/{member}/edit",
        data={
            "csrf_token": token,
            "name": "王小明",
            "relation": "child",
            "status": "registered",
            "phone": "",
            "id_number": corrected,
            "version": input_value(form_page.text, "version"),
        },
    )
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "已保存：王建国的家庭成员（修改 王小明：身份证号）" in page.text
    assert "王小明 子女 男 1990年1月21日" in text_of(section(page.text, "members"))


async def test_move_member_names_both_households(
    client: httpx.AsyncClient, seed: Any, db: AsyncSession
) -> None:
    village = seed.areas[QFZ]
    await service.create_household(
        db,
        SYSTEM,
        HouseholdIn(
            village_id=village,
            register_no="QFZ-0200",
            address="前方庄村北街2号",
            head_name="赵大山",
            head_id_number=make_id_number("410727", date(1988, 8, 8), 471),
        ),
    )
    await login(client, "cw_a")
    member = seed.members["h1_child"]
    page = await client.get(f"/members/{member}/move")
    assert "迁移家庭成员：王小明" in page.text
    token = await csrf(client, f"/members/{member}/move")

    r = await client.post(
        f"/members/{member}/move",
        data={"csrf_token": token, "target_register_no": "DG-0001", "relation": "spouse"},
    )
    assert r.status_code == 422  # 东关村 is not cw_a's
    assert field_error(r.text, "target_register_no") == (
        "错误：找不到户口簿编号为 DG-0001 的户，或它不在您负责的区域内"
    )
    assert selected(r.text, "relation") == "spouse"

    r = await client.post(
        f"/members/{member}/move",
        data={"csrf_token": token, "target_register_no": "QFZ-0200", "relation": "spouse"},
    )
    assert r.status_code == 303
    target_page = await client.get(r.headers["location"])
    assert (
        "已保存：王小明 已从王建国户（户口簿编号 QFZ-0001）迁入赵大山户（户口簿编号 QFZ-0200），在新户中为配偶"
        in target_page.text
    )
    assert "家庭成员迁入（来自他户）" in text_of(section(target_page.text, "history"))
    source = await client.get(f"/households/{seed.households['h1']}")
    assert "王小明 子女 男 1990年1月20日 410727********" in text_of(section(source.text, "members"))
    assert "迁出" in text_of(section(source.text, "members"))
    assert f'href="/members/{member}/move"' not in source.text  # a moved-out member cannot be moved again
    assert "迁入户口簿编号：QFZ-0200" in text_of(section(source.text, "history"))


async def test_other_areas_look_like_nothing(client: httpx.AsyncClient, seed: Any, db: AsyncSession) -> None:
    await login(client, "cw_a")
    h3 = seed.households["h3"]
    for path in (
        f"/households/{h3}",
        f"/households/{h3}/edit",
        f"/households/{h3}/members/new",
        f"/members/{seed.members['h3_head']}/edit",
        f"/villages/{seed.areas['410727102201']}/households",
    ):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert "找不到" in r.text
        assert "刘桂兰" not in r.text and "DG-0001" not in r.text and "东关村" not in r.text
        assert "返回首页" in r.text

    token = await csrf(client, "/villages")
    before = await count(db, AuditEvent)
    r = await client.post(
        f"/households/{h3}/members/new",
        data={
            "csrf_token": token,
            "name": "刘二",
            "id_number": make_id_number("410727", date(1999, 9, 9), 481),
            "relation": "child",
        },
    )
    assert r.status_code == 404
    r = await client.post(f"/members/{seed.members['h3_head']}/reveal", data={"csrf_token": token})
    assert r.status_code == 404
    assert seed.id_numbers["h3_head"] not in r.text
    assert await count(db, Member, Member.household_id == h3) == 1
    assert await count(db, AuditEvent) == before


async def test_reveal_shows_the_number_once_and_is_audited(
    client: httpx.AsyncClient, seed: Any, db: AsyncSession
) -> None:
    await login(client, "cw_a")
    member = seed.members["h1_spouse"]
    number = seed.id_numbers["h1_spouse"]
    page = await client.get(f"/households/{seed.households['h1']}")
    assert "显示完整号码" in page.text and number not in page.text
    token = await csrf(client, f"/households/{seed.households['h1']}")

    r = await client.post(f"/members/{member}/reveal", data={"csrf_token": token})
    assert r.status_code == 200
    assert "location" not in r.headers
    assert number in r.text and r.text.count(number) == 1
    assert "完整号码仅显示这一次，已记入操作记录" in r.text
    assert r.headers["cache-control"] == "no-store"
    events = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "member.reveal_id", AuditEvent.entity_id == str(member)
            )
        )
    ).all()
    assert len(events) == 1 and events[0].actor_username == "cw_a"
    assert number not in str(events[0].after)
    assert "查看完整身份证号 李秀英" in text_of(section(r.text, "history"))

    page = await client.get(f"/households/{seed.households['h1']}")
    assert number not in page.text


async def test_roles_without_write_see_no_forms(
    client: httpx.AsyncClient, seed: Any, db: AsyncSession
) -> None:
    await login(client, "fin")
    household = seed.households["h1"]
    page = await client.get(f"/households/{household}")
    assert page.status_code == 200
    assert "王建国" in page.text
    assert (
        "修改户信息" not in page.text
        and "新增家庭成员</a>" not in page.text
        and "显示完整号码" not in page.text
    )
    r = await client.get(f"/households/{household}/members/new")
    assert r.status_code == 403
    assert "无权登记和修改户籍信息" in r.text
    token = await csrf(client, "/villages")
    before = await count(db, AuditEvent)
    r = await client.post(f"/members/{seed.members['h1_spouse']}/reveal", data={"csrf_token": token})
    assert r.status_code == 403
    assert seed.id_numbers["h1_spouse"] not in r.text
    assert await count(db, AuditEvent) == before


async def test_household_tabs_are_honest(client: httpx.AsyncClient, seed: Any) -> None:
    await login(client, "rv_a")
    page = await client.get(f"/households/{seed.households['h1']}")
    assert page.status_code == 200
    household = seed.households["h1"]
    assert f'href="/households/{household}" aria-current="page">家庭成员</a>' in page.text
    assert f'<a class="tab" href="/households/{household}#history">操作记录</a>' in page.text
    # 付款: the compensation tranches, on the agreements page
    assert f'<a class="tab" href="/households/{household}/agreements#tranches">付款</a>' in page.text
    from app.web.templating import HOUSEHOLD_TABS

    for tab in HOUSEHOLD_TABS:
        if tab.url is None:  # a tab that is not open yet says so instead of linking anywhere
            assert f'aria-disabled="true" title="尚未开放">{tab.label}' in page.text
    assert "显示完整号码" in page.text  # a reviewer may reveal, but not edit
    assert "修改户信息" not in page.text


async def test_a_page_past_the_end_says_so(client: httpx.AsyncClient, seed: Any) -> None:
    await login(client, "cw_a")
    village = seed.areas[QFZ]
    r = await client.get(f"/villages/{village}/households", params={"q": "建国", "page": 9})
    assert r.status_code == 200
    text = text_of(r.text)
    assert "姓名含“建国”：共 1 户" in text and "这一页没有记录。 回到第 1 页" in text


async def test_history_of_a_new_household_reads_plainly(client: httpx.AsyncClient, seed: Any) -> None:
    await login(client, "aud")
    r = await client.get(f"/households/{seed.households['h2']}")
    history = text_of(section(r.text, "history"))
    assert "新增被征收户" in history
    assert "户主：姓名 张德胜，身份证号 410727********" in history
    assert "（空）" not in history  # blank values of a new record are left out
