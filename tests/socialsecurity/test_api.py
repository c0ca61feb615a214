"""Land-loss social security over HTTP (domain.md, "Land-loss social security"): the trial calculator to the fen,
and a batch of 前方庄村 from its creation to a death, an heir and a recovery, through the API as each role does it."""

from __future__ import annotations

import secrets
from copy import deepcopy
from datetime import UTC, date, datetime
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import SYSTEM
from app.core.idcard import make_id_number
from app.plans.models import Project, ProjectVillage
from app.socialsecurity import service
from tests.seed import PASSWORD, SEED

QFZ = "410727101201"  # 前方庄村: cw_a's village, in rv_a's township; seeded household h1 lives there
BASE = "/api/v1/social-security"

# domain.md: born 1960-03-15, announced 2023-01-10, approved 2023-05-20, old lump sum 5,000.00, old monthly
# subsidy paid through 2023-07.
EXAMPLE: dict[str, Any] = {
    "batch": {
        "announcement_date": "2023-01-10",
        "approved_on": "2023-05-20",
        "per_capita_land_threshold_mu": "0.3",
        "min_age": 16,
        "pension_age": 60,
        "fee_standard": "24000.00",
        "monthly_pension": "260.00",
    },
    "person": {
        "id_number": make_id_number("410727", date(1960, 3, 15), 1),
        "registered_on_announcement": True,
    },
    "household": {"contracted_mu": "3.0", "acquired_mu": "2.9", "members": 4},
    "old_policy": {"lump_sum_received": "5000.00", "monthly_paid_through": "2023-07"},
}


async def token(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _quote(**changes: Any) -> dict[str, Any]:
    """The example with some parts replaced: ``person={"id_number": ...}`` merges into the example's person."""
    body = deepcopy(EXAMPLE)
    for part, value in changes.items():
        if isinstance(value, dict) and isinstance(body.get(part), dict):
            body[part].update(value)
        else:
            body[part] = value
    return body


def _born(day: date) -> dict[str, Any]:
    return {"id_number": make_id_number("410727", day, 3)}


# ------------------------------------------------------------------------------------ the trial calculator


async def test_quote_domain_example(client: httpx.AsyncClient, seed: Any) -> None:
    r = await client.post(f"{BASE}/quote", json=EXAMPLE, headers=await token(client, "cw_a"))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "eligible": True,
        "reasons": [],
        "age_on_announcement": 62,
        "account_credit": "19000.00",
        "monthly_pension": "260.00",
        "pension_start_month": "2023-08",
    }


async def test_quote_any_staff_role_but_not_anonymous(client: httpx.AsyncClient, seed: Any) -> None:
    for user in ("rv_a", "fin", "aud", "adm"):
        r = await client.post(f"{BASE}/quote", json=EXAMPLE, headers=await token(client, user))
        assert r.status_code == 200 and r.json()["account_credit"] == "19000.00", (user, r.text)
    r = await client.post(f"{BASE}/quote", json=EXAMPLE)
    assert r.status_code == 401


async def test_quote_land_exactly_at_threshold(client: httpx.AsyncClient, seed: Any) -> None:
    headers = await token(client, "cw_a")
    # (2.2 − 1.0) / 4 = 0.3 exactly: within the standard.
    at = _quote(household={"contracted_mu": "2.2", "acquired_mu": "1.0", "members": 4})
    r = await client.post(f"{BASE}/quote", json=at, headers=headers)
    assert r.status_code == 200, r.text
    assert (r.json()["eligible"], r.json()["reasons"]) == (True, [])
    # One ten-thousandth of a mu more remaining: above it.
    above = _quote(household={"contracted_mu": "2.2001", "acquired_mu": "1.0", "members": 4})
    r = await client.post(f"{BASE}/quote", json=above, headers=headers)
    assert (r.json()["eligible"], r.json()["reasons"]) == (False, ["land_above_threshold"])


async def test_quote_birthdays_on_the_announcement_day(client: httpx.AsyncClient, seed: Any) -> None:
    headers = await token(client, "cw_a")
    no_old = {"old_policy": None}
    # 16 on the announcement day itself: old enough; a day younger is not.
    r = await client.post(
        f"{BASE}/quote", json=_quote(person=_born(date(2007, 1, 10)), **no_old), headers=headers
    )
    assert r.status_code == 200, r.text
    assert (r.json()["eligible"], r.json()["age_on_announcement"], r.json()["reasons"]) == (True, 16, [])
    r = await client.post(
        f"{BASE}/quote", json=_quote(person=_born(date(2007, 1, 11)), **no_old), headers=headers
    )
    assert (r.json()["eligible"], r.json()["age_on_announcement"], r.json()["reasons"]) == (
        False,
        15,
        ["under_min_age"],
    )
    # 60 on the announcement day, the land approved the same day: the pension starts the month after both.
    same_day = {"announcement_date": "2023-01-10", "approved_on": "2023-01-10"}
    r = await client.post(
        f"{BASE}/quote",
        json=_quote(person=_born(date(1963, 1, 10)), batch=same_day, **no_old),
        headers=headers,
    )
    out = r.json()
    assert (out["age_on_announcement"], out["pension_start_month"], out["account_credit"]) == (
        60,
        "2023-02",
        "24000.00",
    )
    # A day younger: 59 on the announcement day, 60 the day after, so the same start month; born in June, the
    # pension waits for the month after the 60th birthday.
    for born, age, start in ((date(1963, 1, 11), 59, "2023-02"), (date(1963, 6, 20), 59, "2023-07")):
        r = await client.post(
            f"{BASE}/quote", json=_quote(person=_born(born), batch=same_day, **no_old), headers=headers
        )
        assert (r.json()["age_on_announcement"], r.json()["pension_start_month"]) == (age, start), born


async def test_quote_refuses_bad_input_in_chinese(client: httpx.AsyncClient, seed: Any) -> None:
    headers = await token(client, "cw_a")
    good = make_id_number("410727", date(1960, 3, 15), 1)
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    r = await client.post(f"{BASE}/quote", json=_quote(person={"id_number": wrong_check}), headers=headers)
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["loc"] == ["body", "person", "id_number"]
    assert error["msg"] == f"身份证号：身份证号校验位错误：最后一位应为 {good[17]}"

    r = await client.post(
        f"{BASE}/quote", json=_quote(old_policy={"monthly_paid_through": "2023-13"}), headers=headers
    )
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["loc"][-1] == "monthly_paid_through" and "不存在的年月：2023-13" in error["msg"]

    r = await client.post(f"{BASE}/quote", json=_quote(household={"members": 0}), headers=headers)
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"] == "在册人数：不能小于 1"

    # Well-formed fields that do not go together: every one named, in Chinese.
    r = await client.post(
        f"{BASE}/quote",
        json=_quote(
            batch={"announcement_date": "2023-01-10", "approved_on": "2022-12-31"},
            household={"contracted_mu": "1.0", "acquired_mu": "1.5"},
        ),
        headers=headers,
    )
    assert r.status_code == 422, r.text
    assert [(e["loc"], e["msg"]) for e in r.json()["detail"]] == [
        (["body", "batch", "approved_on"], "征地批准日：征地批准日不能早于补偿安置公告日"),
        (["body", "household", "acquired_mu"], "被征收面积（亩）：被征收面积不能大于承包地面积"),
    ]
    r = await client.post(f"{BASE}/quote", json=_quote(batch={"approved_on": "9999-12-31"}), headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["msg"] == "征地批准日：不能大于 2199-12-31"


# ------------------------------------------------------------------------------------ a batch end to end


async def _project_over_qfz(db: AsyncSession) -> int:
    code = f"SS{secrets.token_hex(3).upper()}"
    project = Project(
        county_code="410727", code=code, name=f"社保测试项目{code}", area_path=SEED.paths["410727"]
    )
    db.add(project)
    await db.flush()
    db.add(
        ProjectVillage(
            project_id=project.id, village_id=SEED.areas[QFZ], abbr="QFZ", area_path=SEED.paths[QFZ]
        )
    )
    await db.commit()
    return project.id


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)  # 10:00 in China


def _batch_body(project_id: int) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "village_id": SEED.areas[QFZ],
        "code": f"t{secrets.token_hex(3)}-zd01",
        "name": "前方庄村测试批次",
        "announcement_date": "2023-01-10",
        "approved_on": "2023-05-20",
    }


async def _pay_through(db: AsyncSession, period: date, paid_on: date) -> int:
    """The monthly run of ``period`` and the bank confirming every line (what the payments module does)."""
    claimed = await service.claim_period(db, SYSTEM, period, as_of=period)
    ids = list((await db.scalars(text("SELECT id FROM pension_months WHERE status = 'claimed'"))).all())
    paid = await service.mark_months_paid(db, ids, paid_on)
    await db.commit()
    db.expire_all()
    assert paid == claimed.claimed
    return paid


async def test_batch_to_recovery(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any, pinned_clock: Any
) -> None:
    # Signed in before the clock is pinned to 2023: the tokens stay valid in the past.
    adm, cw, rv, fin = [await token(client, u) for u in ("adm", "cw_a", "rv_a", "fin")]
    cw_b, adm_y = await token(client, "cw_b"), await token(client, "adm_y")
    project_id = await _project_over_qfz(db)
    h1 = SEED.households["h1"]
    pinned_clock(_at(date(2023, 1, 20)))

    # The admin creates the batch; nobody else may.
    body = _batch_body(project_id)
    assert (await client.post(f"{BASE}/batches", json=body, headers=cw)).status_code == 403
    r = await client.post(f"{BASE}/batches", json=body, headers=adm)
    assert r.status_code == 201, r.text
    batch = r.json()
    bid = batch["id"]
    assert batch["code"] == body["code"].upper() and batch["village_name"] == "前方庄村"
    assert (batch["status"], batch["status_label"], batch["version"]) == ("draft", "编制中", 1)
    assert (batch["per_capita_land_threshold_mu"], batch["fee_standard"], batch["monthly_pension"]) == (
        "0.3000",
        "24000.00",
        "260.00",
    )
    r = await client.post(f"{BASE}/batches", json=body, headers=adm)
    assert r.status_code == 409 and r.json()["field"] == "code"
    r = await client.put(
        f"{BASE}/batches/{bid}",
        json={**{k: body[k] for k in ("announcement_date", "approved_on")}, "name": "改名", "version": 7},
        headers=adm,
    )
    assert r.status_code == 409 and r.json()["field"] == "version"
    assert [b["id"] for b in (await client.get(f"{BASE}/batches", headers=rv)).json()] == [bid]

    # Outside the caller's areas the batch does not exist.
    for headers in (cw_b, adm_y):
        assert (await client.get(f"{BASE}/batches/{bid}", headers=headers)).status_code == 404
        assert (await client.get(f"{BASE}/batches/{bid}/eligibility", headers=headers)).status_code == 404
        assert (await client.get(f"{BASE}/batches", headers=headers)).json() == []

    # The caseworker records the household's land; the list is a preview until noticed.
    land = {"items": [{"household_id": h1, "contracted_mu": "3.0", "acquired_mu": "2.9"}]}
    r = await client.put(f"{BASE}/batches/{bid}/land", json=land, headers=cw)
    assert r.status_code == 200 and r.json() == {"changed": 1}, r.text
    assert (await client.put(f"{BASE}/batches/{bid}/land", json=land, headers=cw)).json() == {"changed": 0}
    r = await client.put(
        f"{BASE}/batches/{bid}/land",
        json={"items": [{"household_id": SEED.households["h3"], "contracted_mu": "1", "acquired_mu": "1"}]},
        headers=cw,
    )
    assert r.status_code == 422 and "不属于本批次的村" in r.json()["detail"]
    [row] = (await client.get(f"{BASE}/batches/{bid}/land", headers=cw)).json()
    assert row == {
        "household_id": h1,
        "register_no": "QFZ-0001",
        "head_name": "王建国",
        "members_on_announcement": 3,
        "contracted_mu": "3.0000",
        "acquired_mu": "2.9000",
    }
    r = await client.get(f"{BASE}/batches/{bid}/eligibility", headers=rv)
    assert r.status_code == 200, r.text
    listed = r.json()
    assert (listed["frozen"], listed["listed"], listed["eligible"]) == (False, 3, 3)
    head = next(e for e in listed["entries"] if e["name"] == "王建国")
    assert head["age_on_announcement"] == 62 and head["remaining_mu"] == "0.1000"
    assert (
        head["id_number_masked"]
        == SEED.id_numbers["h1_head"][:6] + "********" + SEED.id_numbers["h1_head"][-4:]
    )
    assert "person_hash" not in head and SEED.id_numbers["h1_head"] not in r.text

    # Noticed by the caseworker; a reviewer approves once the notice period is over, not before.
    assert (await client.post(f"{BASE}/batches/{bid}/approve", headers=rv)).status_code == 409
    r = await client.post(
        f"{BASE}/batches/{bid}/notice", json={"notice_start": "2023-06-01", "notice_days": 7}, headers=cw
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["notice_end"], r.json()["listed"]) == ("noticed", "2023-06-07", 3)
    r = await client.put(f"{BASE}/batches/{bid}/land", json=land, headers=cw)
    assert r.status_code == 409
    assert (await client.get(f"{BASE}/batches/{bid}/eligibility", headers=rv)).json()["frozen"] is True
    pinned_clock(_at(date(2023, 6, 7)))
    r = await client.post(f"{BASE}/batches/{bid}/approve", headers=rv)
    assert r.status_code == 409 and "公示期至 2023年6月7日，期满后才能审核" in r.json()["detail"]
    pinned_clock(_at(date(2023, 6, 8)))
    assert (await client.post(f"{BASE}/batches/{bid}/approve", headers=cw)).status_code == 403
    assert (await client.post(f"{BASE}/batches/{bid}/enroll", headers=cw)).status_code == 409
    r = await client.post(f"{BASE}/batches/{bid}/approve", headers=rv)
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text

    # The old policy paid 王建国 a lump sum and a subsidy through 2023-07 (recorded before enrollment).
    old = {
        "name": "王建国",
        "id_number": SEED.id_numbers["h1_head"],
        "lump_sum_received": "5000.00",
        "monthly_subsidy": "100.00",
        "paid_from": "2020-04",
        "paid_through": "2023-07",
    }
    assert (await client.post(f"{BASE}/old-policy", json=old, headers=rv)).status_code == 403
    r = await client.post(f"{BASE}/old-policy", json=old, headers=cw)
    assert r.status_code == 200, r.text
    assert (r.json()["change"], r.json()["lump_sum_received"], r.json()["paid_through"]) == (
        "created",
        "5000.00",
        "2023-07",
    )
    assert SEED.id_numbers["h1_head"] not in r.text
    assert (await client.post(f"{BASE}/old-policy", json=old, headers=cw)).json()["change"] == "unchanged"
    r = await client.post(f"{BASE}/old-policy", json={**old, "name": "王建"}, headers=cw)
    assert r.status_code == 422 and r.json()["field"] == "name"
    page = (await client.get(f"{BASE}/old-policy?limit=10", headers=fin)).json()
    assert page["total"] == 1 and page["items"][0]["name"] == "王建国"
    assert (await client.get(f"{BASE}/old-policy", headers=cw_b)).json()["total"] == 0

    r = await client.post(f"{BASE}/batches/{bid}/enroll", headers=cw)
    assert r.status_code == 200 and r.json() == {"enrolled": 3}, r.text
    r = await client.get(f"{BASE}/enrollments?batch_id={bid}&name=建国", headers=rv)
    assert r.status_code == 200 and r.json()["total"] == 1, r.text
    [enrollment] = r.json()["items"]
    eid = enrollment["id"]
    assert (enrollment["account_credit"], enrollment["pension_start_month"], enrollment["old_lump_sum"]) == (
        "19000.00",
        "2023-08",
        "5000.00",
    )
    assert (await client.get(f"{BASE}/enrollments?batch_id={bid}", headers=cw)).json()["total"] == 3
    assert (await client.get(f"{BASE}/enrollments", headers=cw_b)).json()["total"] == 0

    # The person's page: the credit, the start month, the months before it nowhere.
    r = await client.get(f"{BASE}/enrollments/{eid}", headers=fin)
    assert r.status_code == 200, r.text
    person = r.json()
    assert (person["account_credit"], person["account_balance"], person["pension_start_month"]) == (
        "19000.00",
        "19000.00",
        "2023-08",
    )
    assert person["old_policy"]["monthly_subsidy"] == "100.00" and person["passbook"] is None
    assert person["months"] == []  # June 2023: the pension starts in August
    # the proof-of-life clock starts with the pension (2023-08), not at enrollment
    assert (person["certification_expires"], person["overdue"]) == ("2024-08-01", False)

    # The passbook: the number goes in, only its masked form ever comes out.
    number = "6221881234567890123"
    passbook = {
        "bank_name": "中国邮政储蓄银行",
        "account_number": "6221 8812 3456 7890 123",
        "opened_on": "2023-06-08",
    }
    assert (
        await client.put(f"{BASE}/enrollments/{eid}/passbook", json=passbook, headers=fin)
    ).status_code == 403
    r = await client.put(f"{BASE}/enrollments/{eid}/passbook", json=passbook, headers=cw)
    assert r.status_code == 200, r.text
    assert r.json()["account_masked"] == "6221 **** **** 0123" and number not in r.text
    r = await client.get(f"{BASE}/enrollments/{eid}", headers=rv)
    assert r.json()["passbook"]["account_masked"] == "6221 **** **** 0123"
    assert number not in r.text and "8812" not in r.text
    r = await client.put(
        f"{BASE}/enrollments/{eid}/passbook", json={**passbook, "opened_on": "2023-06-09"}, headers=cw
    )
    assert r.status_code == 422 and r.json()["field"] == "opened_on"

    # Proof of life, then months paid through March 2024.
    pinned_clock(_at(date(2023, 12, 1)))
    cert = {"certified_on": "2023-12-01", "method": "home_visit", "certified_by": "村经办员"}
    r = await client.post(f"{BASE}/enrollments/{eid}/certifications", json=cert, headers=cw)
    assert r.status_code == 201, r.text
    assert (r.json()["method_label"], r.json()["certified_on"]) == ("上门认证", "2023-12-01")
    pinned_clock(_at(date(2024, 3, 20)))
    await _pay_through(db, date(2024, 3, 1), date(2024, 3, 10))
    person = (await client.get(f"{BASE}/enrollments/{eid}", headers=rv)).json()
    assert [m["month"] for m in person["months"]][:2] == ["2023-08", "2023-09"]
    assert person["months"][0] == {
        "month": "2023-08",
        "state": "paid",
        "label": "已发放（补发）",  # claimed in the 2024-03 run
        "amount": "260.00",
        "paid_on": "2024-03-10",
    }
    assert (person["paid_total"], person["account_balance"]) == ("2080.00", "16920.00")  # 8 months
    assert person["certification_expires"] == "2024-12-01"

    # Died in January 2024: February and March were paid after the death and are to be recovered.
    r = await client.post(f"{BASE}/enrollments/{eid}/death", json={"death_date": "2023-11-30"}, headers=cw)
    assert r.status_code == 422 and "通过了资格认证" in r.json()["detail"]
    r = await client.post(f"{BASE}/enrollments/{eid}/death", json={"death_date": "2024-01-15"}, headers=cw)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "enrollment_id": eid,
        "death_date": "2024-01-15",
        "overpayment": "520.00",
        "overpaid_months": ["2024-02", "2024-03"],
        "cancelled_months": 0,
        "heir_amount": "17440.00",  # 19,000.00 less August to January (6 × 260.00)
    }
    r = await client.post(f"{BASE}/enrollments/{eid}/death", json={"death_date": "2024-01-15"}, headers=cw)
    assert r.status_code == 409

    heir = {"heir_name": "李秀英", "heir_id_number": SEED.id_numbers["h1_spouse"], "relation": "配偶"}
    r = await client.put(f"{BASE}/enrollments/{eid}/heir", json=heir, headers=cw)
    assert r.status_code == 200, r.text
    assert (r.json()["amount"], r.json()["status"]) == ("17440.00", "due")
    assert r.json()["heir_id_number_masked"].endswith(SEED.id_numbers["h1_spouse"][-4:])
    assert SEED.id_numbers["h1_spouse"] not in r.text
    r = await client.put(
        f"{BASE}/enrollments/{eid}/heir",
        json={**heir, "heir_id_number": SEED.id_numbers["h1_head"]},
        headers=cw,
    )
    assert r.status_code == 422 and r.json()["field"] == "heir_id_number"

    # Finance records the recovery, never more than is outstanding; a caseworker may not.
    recovery = {"amount": "200.00", "recovered_on": "2024-03-20", "note": "家属退回"}
    assert (
        await client.post(f"{BASE}/enrollments/{eid}/recoveries", json=recovery, headers=cw)
    ).status_code == 403
    r = await client.post(f"{BASE}/enrollments/{eid}/recoveries", json=recovery, headers=fin)
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["amount"], out["recovered"], out["outstanding"], out["months"]) == (
        "520.00",
        "200.00",
        "320.00",
        ["2024-02", "2024-03"],
    )
    assert [(x["amount"], x["note"]) for x in out["recoveries"]] == [("200.00", "家属退回")]
    r = await client.post(
        f"{BASE}/enrollments/{eid}/recoveries", json={**recovery, "amount": "320.01"}, headers=fin
    )
    assert r.status_code == 422 and "320.00" in r.json()["detail"]

    person = (await client.get(f"{BASE}/enrollments/{eid}", headers=cw)).json()
    assert (person["enrollment"]["status"], person["enrollment"]["death_date"]) == ("deceased", "2024-01-15")
    assert person["overpayment"]["outstanding"] == "320.00"
    assert (person["heir"]["heir_name"], person["heir"]["amount"]) == ("李秀英", "17440.00")

    # Out of area: the person does not exist and cannot be touched.
    for headers in (cw_b, adm_y):
        assert (await client.get(f"{BASE}/enrollments/{eid}", headers=headers)).status_code == 404
    r = await client.put(f"{BASE}/enrollments/{eid}/passbook", json=passbook, headers=cw_b)
    assert r.status_code == 404

    # What is due in April 2024: 李秀英 (60 in 2022) for April; 王建国 nothing after his death; 王小明 waits.
    r = await client.get(f"{BASE}/due?period=2024-04", headers=fin)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "period": "2024-04",
        "villages": [
            {
                "village_name": "前方庄村",
                "people": 1,
                "regular": 1,
                "back_pay": 0,
                "suspended": 0,
                "amount": "260.00",
            }
        ],
        "totals": {"people": 1, "regular": 1, "back_pay": 0, "suspended": 0, "amount": "260.00"},
    }
    assert (await client.get(f"{BASE}/due?period=2024-04", headers=cw_b)).json()["villages"] == []
    r = await client.get(f"{BASE}/due?period=2024-13", headers=fin)
    assert r.status_code == 422 and r.json() == {"detail": "不存在的年月：2024-13", "field": "period"}

    # Proof of life due by the end of June 2024: 李秀英 (enrolled 2023-06-08, never certified since).
    r = await client.get(f"{BASE}/certification-due?month=2024-06&village_id={SEED.areas[QFZ]}", headers=cw)
    assert r.status_code == 200, r.text
    [due] = r.json()
    assert (due["name"], due["expires_on"], due["overdue"]) == ("李秀英", "2024-06-08", False)
    assert SEED.id_numbers["h1_spouse"] not in r.text
    assert (await client.get(f"{BASE}/certification-due?month=2024-05", headers=cw)).json() == []
    paged = f"{BASE}/certification-due?month=2024-06&village_id={SEED.areas[QFZ]}"
    assert (await client.get(f"{paged}&offset=1", headers=cw)).json() == []
    assert [d["name"] for d in (await client.get(f"{paged}&limit=1", headers=cw)).json()] == ["李秀英"]
    assert (await client.get(f"{paged}&limit=0", headers=cw)).status_code == 422


async def test_send_back_reopens_the_list(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any, pinned_clock: Any
) -> None:
    adm, cw, rv = [await token(client, u) for u in ("adm", "cw_a", "rv_a")]
    project_id = await _project_over_qfz(db)
    pinned_clock(_at(date(2023, 2, 1)))
    bid = (await client.post(f"{BASE}/batches", json=_batch_body(project_id), headers=adm)).json()["id"]
    r = await client.post(f"{BASE}/batches/{bid}/notice", json={"notice_start": "2023-02-01"}, headers=cw)
    assert r.status_code == 422 and "名册为空" in r.json()["detail"]
    # 1.0 mu left for 3 people is above 0.3 each: listed, but not eligible.
    land = {"items": [{"household_id": SEED.households["h1"], "contracted_mu": "3.0", "acquired_mu": "2.0"}]}
    assert (await client.put(f"{BASE}/batches/{bid}/land", json=land, headers=cw)).json() == {"changed": 1}
    r = await client.post(f"{BASE}/batches/{bid}/notice", json={"notice_start": "2023-02-01"}, headers=cw)
    assert r.status_code == 200 and (r.json()["listed"], r.json()["eligible"]) == (3, 0), r.text
    entries = (await client.get(f"{BASE}/batches/{bid}/eligibility", headers=cw)).json()["entries"]
    assert {(e["reasons"][0], e["reason_labels"][0]) for e in entries} == {
        ("land_above_threshold", "征地后人均剩余承包地超过标准")
    }
    assert (await client.post(f"{BASE}/batches/{bid}/send-back", json={}, headers=rv)).status_code == 422
    r = await client.post(f"{BASE}/batches/{bid}/send-back", json={"comment": "面积有误，请核实"}, headers=rv)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["review_comment"], r.json()["listed"]) == (
        "draft",
        "面积有误，请核实",
        0,
    )
    land["items"][0]["acquired_mu"] = "2.9"
    assert (await client.put(f"{BASE}/batches/{bid}/land", json=land, headers=cw)).json() == {"changed": 1}
    listed = (await client.get(f"{BASE}/batches/{bid}/eligibility", headers=cw)).json()
    assert (listed["frozen"], listed["eligible"]) == (False, 3)
    r = await client.put(
        f"{BASE}/batches/{bid}",
        json={
            "name": "前方庄村测试批次（更正）",
            "announcement_date": "2023-01-10",
            "approved_on": "2023-05-20",
            "monthly_pension": "280.00",
            "version": (await client.get(f"{BASE}/batches/{bid}", headers=adm)).json()["version"],
        },
        headers=adm,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["monthly_pension"]) == ("前方庄村测试批次（更正）", "280.00")


async def test_batch_needs_the_village_in_the_project(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    adm = await token(client, "adm")
    project_id = await _project_over_qfz(db)
    body = {
        **_batch_body(project_id),
        "village_id": SEED.areas["410727101202"],
    }  # 后方庄村, not in the project
    r = await client.post(f"{BASE}/batches", json=body, headers=adm)
    assert r.status_code == 422 and r.json()["field"] == "village_id"
    r = await client.post(
        f"{BASE}/batches", json={**_batch_body(project_id), "approved_on": "2022-12-31"}, headers=adm
    )
    assert r.status_code == 422
    assert "征地批准日不能早于补偿安置公告日" in r.json()["detail"][0]["msg"]
    adm_y = await token(client, "adm_y")
    r = await client.post(f"{BASE}/batches", json=_batch_body(project_id), headers=adm_y)
    assert r.status_code == 422 and r.json()["field"] == "village_id"
