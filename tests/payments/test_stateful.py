"""A Hypothesis stateful test of the monthly payment cycle on the real database.

Random programs over a small world (four pensioners of 前方庄村, one with a small individual account, one who
turns 60 in October 2023; months 2023-06 … 2024-09, some skipped and paid later as back pay, suspended after a year
without proof of life) generate the next month's batch, approve and export it (psbc or csv), import bank results in
any order — partial files, failures, unknown references, wrong amounts, names and accounts, duplicates inside a
file, the same file again (refused) and a different file answering lines again (exceptions) — resolve exceptions,
close batches, fix passbooks (the next batch re-issues failed lines), certify, record deaths with the clock after
the months in question, recover overpayments, name and pay heirs, and try steps the batch's status does not allow.
After every step the invariants are checked directly in SQL:

* the ledger balances, every transaction and in total (Σ debit = Σ credit);
* nobody is paid twice for a month: no two paid lines cover the same person and month, the months the register
  says are paid (its effective status) are exactly the months of paid lines, every pending or paid line covers
  exactly its register months, and at most one line exists per person and period;
* a batch's count and total are those of its lines, and its status agrees with its pending lines and open
  exceptions;
* the clearing account (代发在途) holds exactly the pending lines of exported batches;
* overpayments: recovered ≤ amount, the recoveries add up, the receivable account agrees, and a deceased
  pensioner's overpayment is exactly the paid months after the month of death;
* no individual account pays more than its credit (through the bank or to the heir) and none goes negative.

An heir is paid only once every month through the month of death is paid (otherwise the account would pay that
month twice): before that the machine checks the payment is refused and nothing changes.

The test is synchronous and drives its own event loop on its own connection: the world is built once in a
transaction that is rolled back at the end, and every example runs in a savepoint rolled back when it ends.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.auth.policy import Principal
from app.config import get_settings
from app.core.clock import today_in_china
from app.core.errors import Conflict, Forbidden, InvalidInput
from app.core.idcard import make_id_number
from app.db import create_app_engine
from app.ledger import rules as ledger_rules
from app.payments import bankfiles, service
from app.payments.models import PaymentBatch
from app.socialsecurity import rules as ss_rules
from app.socialsecurity import service as social
from app.socialsecurity.schemas import CertificationIn, DeathIn, HeirIn, PassbookIn, RecoveryIn
from tests.agreements.helpers import at, principal
from tests.payments.helpers import account_balance, account_number, result_lines, world
from tests.seed import seed_once
from tests.socialsecurity.factories import Pin

T = TypeVar("T")

FIRST = date(2023, 6, 1)
LAST = date(2024, 9, 1)  # from 2024-06 a year without proof of life suspends the pension
OLD = date(1955, 5, 5)  # 68 at enrollment: pension from 2023-06
TURNS_60 = date(1963, 10, 10)  # pension from the autumn of 2023
SMALL_CREDIT = 30_000  # 300.00: the first month draws 260.00 from the account, the second 40.00 and the pool
HEIR_ID = make_id_number("410727", date(1976, 4, 4), 731)
TAMPER = ["ok", "ok", "ok", "amount", "name", "account", "unknown"]


@dataclass
class Ctx:
    """What every example shares: the loop, the connection whose transaction holds the world, the people."""

    loop: asyncio.AbstractEventLoop
    conn: AsyncConnection
    pin: Pin
    people: list[int]
    fin: Principal
    fin2: Principal
    cw: Principal
    baseline: tuple[int, int]  # payment batches and journal transactions with the world alone

    def run(self, coro: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await coro

        return self.loop.run_until_complete(wrapped())


@dataclass
class Person:
    id: int
    alive: bool
    death_date: date | None
    last_cert: date | None
    outstanding: int
    heir: str | None  # None, 'due' or 'paid'
    settled: bool  # every month through the month of death is paid (nothing due, with the bank or failed)


@dataclass
class Mirror:
    """The database's state as the rules need it to choose their next step (refreshed after every step)."""

    batches: dict[int, tuple[str, date]] = field(default_factory=dict)  # id → (status, period)
    open_exceptions: list[int] = field(default_factory=list)
    # People with a failed line made out to the passbook they still have.
    awaiting_passbook: list[int] = field(default_factory=list)
    people: dict[int, Person] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ invariants


async def _rows(db: AsyncSession, sql: str, **params: Any) -> list[Any]:
    return list((await db.execute(text(sql), params)).all())


async def check_invariants(db: AsyncSession, people: list[int]) -> None:
    # The ledger balances, transaction by transaction and in total.
    debit, credit = (
        await db.execute(text("SELECT coalesce(sum(debit), 0), coalesce(sum(credit), 0) FROM journal_lines"))
    ).one()
    assert debit == credit, f"trial balance off: debits {debit}, credits {credit}"
    unbalanced = await _rows(
        db,
        "SELECT transaction_id FROM journal_lines GROUP BY 1 HAVING sum(debit) <> sum(credit) OR count(*) < 2",
    )
    assert unbalanced == [], f"unbalanced transactions: {unbalanced}"

    # At most one outcome per line, one line per person and period, and no month on two paid lines.
    assert await _rows(db, "SELECT line_id FROM line_outcomes GROUP BY 1 HAVING count(*) > 1") == []
    twice_in_period = await _rows(
        db,
        "SELECT county_code, person_hash, period FROM payment_lines WHERE enrollment_id IS NOT NULL "
        "GROUP BY 1, 2, 3 HAVING count(*) > 1",
    )
    assert twice_in_period == [], "two lines for one person and period"
    paid_twice = await _rows(
        db,
        """
        SELECT l.enrollment_id, m, array_agg(l.id) FROM payment_lines l
        JOIN line_outcomes o ON o.line_id = l.id AND o.paid
        CROSS JOIN LATERAL unnest(l.months) AS m
        WHERE l.enrollment_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1
        """,
    )
    assert paid_twice == [], f"a month paid on two lines: {paid_twice}"

    # The register's effective status: a month is paid once at most, and exactly the months of paid lines are.
    effective = await _rows(
        db,
        """
        SELECT pm.enrollment_id, pm.month, count(*) OVER (PARTITION BY pm.county_code, pm.person_hash, pm.month)
        FROM pension_months pm
        LEFT JOIN payment_lines l ON pm.status = 'claimed' AND l.enrollment_id IS NOT NULL
             AND l.county_code = pm.county_code AND l.person_hash = pm.person_hash AND l.period = pm.period
        LEFT JOIN line_outcomes o ON o.line_id = l.id
        WHERE (pm.status = 'paid' OR (pm.status = 'claimed' AND o.paid)) AND pm.enrollment_id = ANY(:people)
        """,
        people=people,
    )
    assert all(n == 1 for *_k, n in effective), f"a month paid twice in the register: {effective}"
    on_paid_lines = await _rows(
        db,
        """
        SELECT l.enrollment_id, m FROM payment_lines l JOIN line_outcomes o ON o.line_id = l.id AND o.paid
        CROSS JOIN LATERAL unnest(l.months) AS m WHERE l.enrollment_id = ANY(:people)
        """,
        people=people,
    )
    register_paid = {(e, m) for e, m, _n in effective}
    bank_paid = {(e, m) for e, m in on_paid_lines}
    assert register_paid == bank_paid, (
        f"register says paid {sorted(register_paid - bank_paid)}; bank paid {sorted(bank_paid - register_paid)}"
    )
    # A pending or paid line covers exactly the register's months of its person and period.
    astray = await _rows(
        db,
        """
        SELECT l.id, l.months, l.amount, r.months, r.amount FROM payment_lines l
        LEFT JOIN line_outcomes o ON o.line_id = l.id
        LEFT JOIN LATERAL (
            SELECT array_agg(pm.month ORDER BY pm.month) AS months, sum(pm.amount) AS amount FROM pension_months pm
            WHERE pm.county_code = l.county_code AND pm.person_hash = l.person_hash AND pm.period = l.period
              AND pm.status = 'claimed'
        ) r ON true
        WHERE l.enrollment_id IS NOT NULL AND (o.line_id IS NULL OR o.paid)
          AND (r.months IS NULL OR l.months <> r.months OR l.amount <> r.amount)
        """,
    )
    assert astray == [], f"lines not matching the register: {astray}"

    # Batch totals are those of their lines; the status agrees with pending lines and open exceptions.
    wrong_totals = await _rows(
        db,
        """
        SELECT b.id, b.line_count, b.total, x.n, x.s FROM payment_batches b
        LEFT JOIN (SELECT batch_id, count(*) AS n, sum(amount) AS s FROM payment_lines GROUP BY 1) x
               ON x.batch_id = b.id
        WHERE b.line_count <> coalesce(x.n, 0) OR b.total <> coalesce(x.s, 0)
        """,
    )
    assert wrong_totals == [], f"batch totals differ from their lines: {wrong_totals}"
    states = await _rows(
        db,
        """
        SELECT b.id, b.status,
               (SELECT count(*) FROM payment_lines l LEFT JOIN line_outcomes o ON o.line_id = l.id
                WHERE l.batch_id = b.id AND o.line_id IS NULL) AS pending,
               (SELECT count(*) FROM line_outcomes o JOIN payment_lines l ON l.id = o.line_id
                WHERE l.batch_id = b.id) AS answered,
               (SELECT count(*) FROM bank_exceptions e WHERE e.batch_id = b.id AND e.resolution IS NULL) AS open,
               (SELECT count(*) FROM result_imports i WHERE i.batch_id = b.id) AS imports,
               (SELECT count(*) FROM bank_exports x WHERE x.batch_id = b.id) AS exports
        FROM payment_batches b
        """,
    )
    for batch_id, status, pending, answered, open_, imports, exports in states:
        if status in ("draft", "approved"):
            assert (answered, open_, imports) == (0, 0, 0), (batch_id, status)
            assert status == "approved" or exports == 0, (batch_id, status)
        elif status == "exported":
            assert (answered, imports) == (0, 0) and exports > 0, (batch_id, status)
        elif status == "imported":
            assert imports > 0 and (pending > 0 or open_ > 0), (batch_id, status, pending, open_)
        else:
            assert (pending, open_) == (0, 0) and imports > 0, (batch_id, status, pending, open_)

    # 代发在途 holds exactly what is with the bank: the pending lines of exported batches.
    with_bank = await db.scalar(
        text(
            """
            SELECT coalesce(sum(l.amount), 0) FROM payment_lines l JOIN payment_batches b ON b.id = l.batch_id
            LEFT JOIN line_outcomes o ON o.line_id = l.id
            WHERE b.county_code = '410727' AND b.status NOT IN ('draft', 'approved') AND o.line_id IS NULL
            """
        )
    )
    clearing = await account_balance(db, ledger_rules.SS_CLEARING)
    assert clearing == with_bank, f"clearing {clearing} <> pending with the bank {with_bank}"

    # Overpayments: never more recovered than overpaid, recoveries add up, the receivable agrees.
    bad = await _rows(
        db,
        """
        SELECT o.id, o.amount, o.recovered, r.s FROM overpayments o
        LEFT JOIN (SELECT overpayment_id, sum(amount) AS s FROM overpayment_recoveries GROUP BY 1) r
               ON r.overpayment_id = o.id
        WHERE o.recovered < 0 OR o.recovered > o.amount OR o.recovered <> coalesce(r.s, 0)
        """,
    )
    assert bad == [], f"overpayments recovered wrongly: {bad}"
    outstanding = await db.scalar(
        text(
            "SELECT coalesce(sum(o.amount - o.recovered), 0) FROM overpayments o "
            "JOIN enrollments e ON e.id = o.enrollment_id WHERE e.county_code = '410727'"
        )
    )
    assert await account_balance(db, ledger_rules.SS_OVERPAID) == outstanding
    # A deceased pensioner's overpayment is exactly the months paid after the month of death.
    after_death = await _rows(
        db,
        """
        SELECT e.id, coalesce(o.months, '{}'), coalesce(o.amount, 0),
               coalesce((SELECT array_agg(m ORDER BY m) FROM payment_lines l
                         JOIN line_outcomes lo ON lo.line_id = l.id AND lo.paid
                         CROSS JOIN LATERAL unnest(l.months) AS m
                         WHERE l.enrollment_id = e.id AND m > date_trunc('month', e.death_date)::date), '{}'),
               coalesce((SELECT sum(pm.amount) FROM payment_lines l
                         JOIN line_outcomes lo ON lo.line_id = l.id AND lo.paid
                         JOIN pension_months pm ON pm.enrollment_id = e.id AND pm.month = ANY(l.months)
                         WHERE l.enrollment_id = e.id AND pm.month > date_trunc('month', e.death_date)::date), 0)
        FROM enrollments e LEFT JOIN overpayments o ON o.enrollment_id = e.id
        WHERE e.id = ANY(:people) AND e.death_date IS NOT NULL
        """,
        people=people,
    )
    for enrollment_id, months, amount, paid_after, paid_after_amount in after_death:
        assert (sorted(months), amount) == (sorted(paid_after), paid_after_amount), (
            f"enrollment {enrollment_id}: overpayment {months} {amount}, paid after death {paid_after}"
        )

    # Individual accounts: none pays more than its credit (bank payments through death plus the heir), none
    # goes negative in the ledger.
    drawn = await _rows(
        db,
        """
        SELECT e.id, e.account_credit, e.monthly_pension, e.pension_start_month, e.death_date,
               coalesce((SELECT array_agg(ARRAY[to_char(pm.month, 'YYYY-MM-DD'), pm.amount::text])
                         FROM payment_lines l JOIN line_outcomes o ON o.line_id = l.id AND o.paid
                         JOIN pension_months pm ON pm.enrollment_id = e.id AND pm.month = ANY(l.months)
                         WHERE l.enrollment_id = e.id), '{}') AS paid,
               (SELECT h.amount FROM heir_payments h WHERE h.enrollment_id = e.id AND h.status = 'paid') AS heir
        FROM enrollments e WHERE e.id = ANY(:people)
        """,
        people=people,
    )
    for enrollment_id, credit, monthly, start, death, paid, heir in drawn:
        last = ss_rules.month_of(death) if death else date.max
        shares = sum(
            ss_rules.account_share(credit, monthly, start, m, a)
            for m, a in ((date.fromisoformat(p[0]), int(p[1])) for p in paid)
            if m <= last
        )
        assert shares + (heir or 0) <= credit, (
            f"enrollment {enrollment_id}: the account paid {shares} through the bank and {heir} to the heir, "
            f"more than its credit {credit}"
        )
    negative = await _rows(
        db,
        "SELECT a.code, sum(l.credit - l.debit) FROM ledger_accounts a JOIN journal_lines l ON l.account_id = a.id "
        "WHERE a.kind = 'individual' GROUP BY a.code HAVING sum(l.credit - l.debit) < 0",
    )
    assert negative == [], f"individual accounts below zero: {negative}"


# ------------------------------------------------------------------------------------------------ the machine


class PaymentMachine(RuleBasedStateMachine):
    def __init__(self, ctx: Ctx) -> None:
        super().__init__()
        self.ctx = ctx
        self.db = AsyncSession(
            bind=ctx.conn, join_transaction_mode="create_savepoint", expire_on_commit=False, autoflush=False
        )
        self.today = FIRST
        self.next_period = FIRST
        self.passbook_version = dict.fromkeys(ctx.people, 0)
        self.life_events = 0
        self.exports: dict[tuple[int, str], bytes] = {}
        self.imported: dict[int, list[tuple[str, bytes]]] = {}
        self.mirror = Mirror()
        # Every example starts from the world alone.
        assert ctx.run(_baseline(self.db)) == ctx.baseline
        self._refresh()

    def teardown(self) -> None:
        async def end() -> None:
            await self.db.rollback()
            await self.db.close()

        self.ctx.run(end())

    # -------------------------------------------------------------------------------------------- plumbing

    def _step(self, make: Callable[[], Awaitable[T]]) -> T:
        """One request: its own savepoint, rolled back if it raises (as the app's unit of work would)."""
        self.ctx.pin(at(self.today))

        async def go() -> T:
            async with self.db.begin_nested():
                return await make()

        try:
            return self.ctx.run(go())
        finally:
            self._refresh()

    def _refresh(self) -> None:
        async def load() -> Mirror:
            mirror = Mirror()
            for batch_id, status, period in await _rows(
                self.db, "SELECT id, status, period FROM payment_batches ORDER BY id"
            ):
                mirror.batches[batch_id] = (status, period)
            mirror.open_exceptions = [
                r[0]
                for r in await _rows(
                    self.db, "SELECT id FROM bank_exceptions WHERE resolution IS NULL ORDER BY id"
                )
            ]
            mirror.awaiting_passbook = [
                r[0]
                for r in await _rows(
                    self.db,
                    """
                    SELECT DISTINCT l.enrollment_id FROM payment_lines l
                    JOIN line_outcomes o ON o.line_id = l.id AND NOT o.paid
                    JOIN passbooks pb ON pb.enrollment_id = l.enrollment_id AND pb.account_hash = l.account_hash
                    WHERE l.enrollment_id = ANY(:people) ORDER BY 1
                    """,
                    people=self.ctx.people,
                )
            ]
            for r in await _rows(
                self.db,
                """
                SELECT e.id, e.status, e.death_date,
                       (SELECT max(c.certified_on) FROM life_certifications c WHERE c.enrollment_id = e.id),
                       coalesce(o.amount - o.recovered, 0), h.status,
                       e.death_date IS NOT NULL AND NOT EXISTS (
                           SELECT 1 FROM generate_series(e.pension_start_month,
                                                         date_trunc('month', e.death_date), interval '1 month') g
                           LEFT JOIN pension_months pm ON pm.enrollment_id = e.id AND pm.month = g::date
                           LEFT JOIN payment_lines l ON pm.status = 'claimed' AND l.enrollment_id = e.id
                                AND l.period = pm.period
                           LEFT JOIN line_outcomes lo ON lo.line_id = l.id
                           WHERE pm.id IS NULL OR (pm.status <> 'paid' AND lo.paid IS DISTINCT FROM true))
                FROM enrollments e LEFT JOIN overpayments o ON o.enrollment_id = e.id
                LEFT JOIN heir_payments h ON h.enrollment_id = e.id
                WHERE e.id = ANY(:people) ORDER BY e.id
                """,
                people=self.ctx.people,
            ):
                mirror.people[r[0]] = Person(r[0], r[1] != "deceased", r[2], r[3], int(r[4]), r[5], r[6])
            return mirror

        self.mirror = self.ctx.run(load())

    def _batches(self, *statuses: str) -> list[int]:
        return [b for b, (status, _p) in self.mirror.batches.items() if status in statuses]

    def _batch(self, batch_id: int) -> Callable[[], Awaitable[PaymentBatch]]:
        async def get() -> PaymentBatch:
            found = await self.db.get(PaymentBatch, batch_id, populate_existing=True)
            assert found is not None
            return found

        return get

    def _export(self, batch_id: int, fmt: str) -> None:
        async def export() -> bytes:
            return (await service.export_batch(self.db, self.ctx.fin, batch_id, fmt)).content

        content = self._step(export)
        kept = self.exports.setdefault((batch_id, fmt), content)
        assert kept == content, "the same batch exports to the same bytes"

    # -------------------------------------------------------------------------------------------- rules

    @precondition(lambda self: self.next_period <= LAST and not self._batches("draft", "approved"))
    @rule(
        send=st.sampled_from([True, True, False]),
        fmt=st.sampled_from(["psbc", "csv"]),
        skip=st.sampled_from([False, False, False, True]),
    )
    def generate_next_month(self, send: bool, fmt: str, skip: bool) -> None:
        """The next month's batch, once the earlier ones have gone to the bank; maybe approved and sent at once.
        A month may go by without a batch: the next one pays it as back pay (补发)."""
        period = self.next_period
        self.today = max(self.today, period + timedelta(days=4))
        self.next_period = ss_rules.add_months(period, 1)
        if skip:
            return
        alive_started = [
            p
            for p in self.mirror.people.values()
            if p.alive
            and self.ctx.run(
                self.db.scalar(
                    text("SELECT pension_start_month <= :p FROM enrollments WHERE id = :e"),
                    {"p": period, "e": p.id},
                )
            )
        ]

        async def generate() -> tuple[service.Generated, int, int]:
            generated = await service.generate_pension_batch(self.db, self.ctx.fin, period, as_of=self.today)
            lines, amount = (
                await self.db.execute(
                    text("SELECT count(*), coalesce(sum(amount), 0) FROM payment_lines WHERE batch_id = :b"),
                    {"b": generated.batch.id},
                )
            ).one()
            return generated, int(lines), int(amount)

        try:
            generated, lines, amount = self._step(generate)
        except Conflict as exc:
            assert "没有应发放" in str(exc)
            # Every living pensioner is due the month itself, unless a year without proof of life suspends it.
            assert not alive_started or period >= date(2024, 6, 1), (period, alive_started)
            return
        assert generated.created
        assert (generated.lines, generated.amount) == (lines, amount)
        # Failed lines whose passbook has changed since are re-issued: none is left waiting.
        waiting = self.ctx.run(
            _rows(
                self.db,
                """
                SELECT l.id FROM payment_lines l JOIN line_outcomes o ON o.line_id = l.id AND NOT o.paid
                JOIN passbooks pb ON pb.enrollment_id = l.enrollment_id AND pb.account_hash <> l.account_hash
                JOIN enrollments e ON e.id = l.enrollment_id
                JOIN pension_months pm ON pm.enrollment_id = l.enrollment_id AND pm.period = l.period
                     AND pm.status = 'claimed'
                WHERE e.death_date IS NULL OR pm.month <= date_trunc('month', e.death_date)::date
                """,
            )
        )
        assert waiting == [], f"failed lines with a fixed passbook not re-issued: {waiting}"
        if send:
            batch_id = generated.batch.id
            self._step(lambda: service.approve_batch(self.db, self.ctx.fin2, batch_id))
            self._export(batch_id, fmt)

    @precondition(lambda self: bool(self._batches("draft")))
    @rule(data=st.data())
    def discard_draft(self, data: st.DataObject) -> None:
        """The draft is discarded (作废草稿): its lines go, its months are given back; its month comes again."""
        batch_id = data.draw(st.sampled_from(self._batches("draft")), label="draft")
        period = self.mirror.batches[batch_id][1]
        with pytest.raises(Forbidden):  # a caseworker may not
            self._step(lambda: service.discard_batch(self.db, self.ctx.cw, batch_id, reason="作废"))
        self._step(
            lambda: service.discard_batch(self.db, self.ctx.fin, batch_id, reason="数据有误，重新生成")
        )
        assert batch_id not in self.mirror.batches
        self.next_period = min(self.next_period, period)

    @precondition(lambda self: bool(self.mirror.batches))
    @rule(data=st.data(), fmt=st.sampled_from(["psbc", "csv"]), in_turn=st.sampled_from([True, True, False]))
    def advance(self, data: st.DataObject, fmt: str, in_turn: bool) -> None:
        """A batch's next step: approved by the second finance user, exported (again: the same bytes), closed;
        or a step out of turn."""
        movable = self._batches("draft", "approved", "reconciled") or self._batches("exported", "imported")
        if not in_turn or not movable:
            self._out_of_turn(data)
            return
        batch_id = data.draw(st.sampled_from(movable), label="batch")
        status = self.mirror.batches[batch_id][0]
        if status == "draft":
            with pytest.raises(Forbidden):  # the preparer cannot approve
                self._step(lambda: service.approve_batch(self.db, self.ctx.fin, batch_id))
            self._step(lambda: service.approve_batch(self.db, self.ctx.fin2, batch_id))
        elif status == "reconciled":
            self._step(lambda: service.close_batch(self.db, self.ctx.fin, batch_id))
        else:
            self._export(batch_id, fmt)
            assert self.mirror.batches[batch_id][0] == ("exported" if status == "approved" else status)

    @precondition(lambda self: bool(self._batches("exported", "imported", "reconciled")))
    @rule(data=st.data(), fmt=st.sampled_from(["psbc", "csv"]))
    def import_results(self, data: st.DataObject, fmt: str) -> None:
        batch_id = data.draw(
            st.sampled_from(self._batches("exported", "imported", "reconciled")), label="batch"
        )
        if self.imported.get(batch_id) and data.draw(st.sampled_from([False, False, True]), label="again"):
            # The same file again is refused whole, whatever it is called.
            fmt, content = data.draw(st.sampled_from(self.imported[batch_id]), label="file")
            with pytest.raises(Conflict, match="导入过"):
                self._step(
                    lambda: service.import_results(
                        self.db, self.ctx.fin, batch_id, fmt=fmt, filename="again", content=content
                    )
                )
            return

        async def lines_and_outcomes() -> tuple[str, list[bankfiles.ResultLine], set[int], dict[int, int]]:
            batch = await self._batch(batch_id)()
            lines = await result_lines(self.db, batch)
            answered = {
                r[0]
                for r in await _rows(
                    self.db,
                    "SELECT l.seq FROM line_outcomes o JOIN payment_lines l ON l.id = o.line_id WHERE l.batch_id = :b",
                    b=batch_id,
                )
            }
            enrollments = dict(
                await _rows(
                    self.db, "SELECT seq, enrollment_id FROM payment_lines WHERE batch_id = :b", b=batch_id
                )
            )
            return batch.number, lines, answered, enrollments

        number, lines, answered, enrollments = self.ctx.run(lines_and_outcomes())
        outcome_of = st.sampled_from([True, True, False])
        if data.draw(st.booleans(), label="whole file"):
            # Every line once, in any order, paid or failed.
            order = data.draw(st.permutations(range(len(lines))), label="order")
            rows = [(i, data.draw(outcome_of, label="paid"), "ok") for i in order]
        else:
            # Some lines, in any order, some more than once, some altered or unknown to the batch.
            rows = data.draw(
                st.lists(
                    st.tuples(st.integers(0, len(lines) - 1), outcome_of, st.sampled_from(TAMPER)),
                    min_size=1,
                    max_size=len(lines) + 2,
                ),
                label="rows",
            )
        written = []
        for index, (i, paid, tamper) in enumerate(rows):
            line = dataclasses.replace(lines[i], paid=paid, reason="" if paid else "账户已销户")
            if tamper == "amount":
                line = dataclasses.replace(line, amount=line.amount + 1)
            elif tamper == "name":
                line = dataclasses.replace(line, name=line.name + "某")
            elif tamper == "account":
                line = dataclasses.replace(line, account=account_number(enrollments[line.seq], 99))
            elif tamper == "unknown":
                line = dataclasses.replace(line, reference=f"{number}-{9_000_000 + index:07d}")
            written.append((line, tamper))
        content = bankfiles.result_file(fmt, number, [line for line, _t in written])

        # What the import must make of it: matched lines get their outcome, the rest go to the exceptions.
        references = Counter(line.reference for line, _t in written)
        expected = {"paid": 0, "paid_total": 0, "failed": 0, "failed_total": 0, "exceptions": 0}
        for line, tamper in written:
            if tamper != "ok" or references[line.reference] > 1 or line.seq in answered:
                expected["exceptions"] += 1
            else:
                kind = "paid" if line.paid else "failed"
                expected[kind] += 1
                expected[f"{kind}_total"] += line.amount

        self.today += timedelta(days=1)
        try:
            outcome = self._step(
                lambda: service.import_results(
                    self.db, self.ctx.fin, batch_id, fmt=fmt, filename=f"回盘.{fmt}", content=content
                )
            )
        except Conflict as exc:
            assert "导入过" in str(exc)
            assert any(c == content for _f, c in self.imported.get(batch_id, [])), "a new file was refused"
            return
        assert all(c != content for _f, c in self.imported.get(batch_id, [])), "the same file imported twice"
        self.imported.setdefault(batch_id, []).append((fmt, content))
        got = {
            "paid": outcome.paid,
            "paid_total": outcome.paid_total,
            "failed": outcome.failed,
            "failed_total": outcome.failed_total,
            "exceptions": outcome.exceptions,
        }
        assert got == expected

    @precondition(lambda self: bool(self.mirror.open_exceptions))
    @rule(data=st.data(), resolution=st.sampled_from(["dismissed", "paid", "failed"]))
    def resolve(self, data: st.DataObject, resolution: str) -> None:
        exception_id = data.draw(st.sampled_from(self.mirror.open_exceptions), label="exception")
        line_id, answered = self.ctx.run(
            self.db.execute(
                text(
                    "SELECT e.line_id, o.line_id IS NOT NULL FROM bank_exceptions e "
                    "LEFT JOIN line_outcomes o ON o.line_id = e.line_id WHERE e.id = :e"
                ),
                {"e": exception_id},
            )
        ).one()

        def resolve() -> Any:
            return self._step(
                lambda: service.resolve_exception(
                    self.db, self.ctx.fin, exception_id, resolution=resolution, note="与银行核实"
                )
            )

        if resolution != "dismissed" and line_id is None:
            with pytest.raises(InvalidInput):
                resolve()
        elif resolution != "dismissed" and answered:
            with pytest.raises(Conflict, match="只能确认一次"):
                resolve()
        else:
            resolve()
            assert exception_id not in self.mirror.open_exceptions

    def _out_of_turn(self, data: st.DataObject) -> None:
        """A step the batch's status does not allow is refused and changes nothing; generating a period again
        returns its batch."""
        step = data.draw(st.sampled_from(["generate", "approve", "export", "import", "close"]), label="step")
        if step == "generate":  # the period's batch is there already: it is returned, not made again
            batch_id = data.draw(st.sampled_from(sorted(self.mirror.batches)), label="batch")
            period = self.mirror.batches[batch_id][1]
            again = self._step(
                lambda: service.generate_pension_batch(self.db, self.ctx.fin, period, as_of=self.today)
            )
            assert not again.created and again.batch.id == batch_id
            return
        allowed = {
            "approve": ("draft",),
            "export": ("approved", "exported", "imported"),
            "import": ("exported", "imported", "reconciled"),
            "close": ("reconciled",),
        }[step]
        choices = [b for b, (status, _p) in self.mirror.batches.items() if status not in allowed]
        if not choices:
            return
        batch_id = data.draw(st.sampled_from(choices), label="batch")
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "approve": lambda: service.approve_batch(self.db, self.ctx.fin2, batch_id),
            "export": lambda: service.export_batch(self.db, self.ctx.fin, batch_id, "psbc"),
            "import": lambda: service.import_results(
                self.db, self.ctx.fin, batch_id, fmt="psbc", filename="x.txt", content=b"x"
            ),
            "close": lambda: service.close_batch(self.db, self.ctx.fin, batch_id),
        }
        before = self.mirror.batches[batch_id]
        with pytest.raises(Conflict):
            self._step(calls[step])
        assert self.mirror.batches[batch_id] == before

    @precondition(lambda self: bool(self.mirror.awaiting_passbook))
    @rule(data=st.data())
    def fix_passbook(self, data: st.DataObject) -> None:
        """The passbook of a pensioner whose payment failed is changed: the next batch re-issues the line."""
        enrollment_id = data.draw(st.sampled_from(self.mirror.awaiting_passbook), label="person")
        self._change_passbook(enrollment_id)

    def _change_passbook(self, enrollment_id: int) -> None:
        self.passbook_version[enrollment_id] += 1
        number = account_number(enrollment_id, self.passbook_version[enrollment_id])
        self._step(
            lambda: social.set_passbook(
                self.db, self.ctx.cw, enrollment_id, PassbookIn(account_number=number, opened_on=self.today)
            )
        )

    @precondition(lambda self: self.life_events < 6)
    @rule(data=st.data(), event=st.sampled_from(["time", "passbook", "certify"]))
    def life_goes_on(self, data: st.DataObject, event: str) -> None:
        """Time passes; a passbook is changed (the next batch re-issues failed lines); a proof of life. (A few
        per example: the batches are what is under test.)"""
        self.life_events += 1
        if event == "time":
            days = data.draw(st.integers(1, 45), label="days")
            self.today = min(self.today + timedelta(days=days), date(2024, 12, 31))
        elif event == "passbook":
            self._change_passbook(data.draw(st.sampled_from(self.ctx.people), label="person"))
        else:
            alive = [p.id for p in self.mirror.people.values() if p.alive]
            if not alive:
                return
            enrollment_id = data.draw(st.sampled_from(alive), label="person")
            self._step(
                lambda: social.record_certification(
                    self.db,
                    self.ctx.cw,
                    enrollment_id,
                    CertificationIn(certified_on=self.today, method="in_person", certified_by="村委会"),
                )
            )

    @precondition(
        lambda self: (
            sum(not p.alive for p in self.mirror.people.values()) < 2
            and bool(self._batches("exported", "imported", "reconciled", "closed"))
        )
    )
    @rule(data=st.data())
    def death(self, data: st.DataObject) -> None:
        person = data.draw(
            st.sampled_from([p for p in self.mirror.people.values() if p.alive]), label="person"
        )
        earliest = max(FIRST, person.last_cert or FIRST)
        died = earliest + timedelta(
            days=data.draw(st.integers(0, (self.today - earliest).days), label="days")
        )
        outcome = self._step(
            lambda: social.record_death(self.db, self.ctx.cw, person.id, DeathIn(death_date=died))
        )
        after = self.mirror.people[person.id]
        assert not after.alive and after.death_date == died
        assert after.outstanding == (outcome.overpayment.amount if outcome.overpayment else 0)

    @precondition(lambda self: any(not p.alive and p.heir != "paid" for p in self.mirror.people.values()))
    @rule(data=st.data(), pay=st.sampled_from([True, True, False]))
    def heir(self, data: st.DataObject, pay: bool) -> None:
        """Name the heir of a deceased pensioner (again, while unpaid), or pay them the account's balance once —
        refused while a month through the month of death is due, with the bank or failed (paying then would let
        the account pay that month twice)."""
        person = data.draw(
            st.sampled_from([p for p in self.mirror.people.values() if not p.alive and p.heir != "paid"]),
            label="person",
        )
        if person.heir is not None and pay and not person.settled:
            # Refused while a month is due, with the bank or failed; a month left suspended (no proof of life)
            # is not owed, so the payment may go through — the account invariants below check either way.
            try:
                self._step(
                    lambda: social.pay_heir(
                        self.db, self.ctx.fin, person.id, paid_on=self.today, note="银行转账"
                    )
                )
            except Conflict as refused:
                assert "继承人" in str(refused)
                assert self.mirror.people[person.id].heir != "paid"
            return
        if person.heir is None or not pay:
            self._step(
                lambda: social.set_heir(
                    self.db,
                    self.ctx.cw,
                    person.id,
                    HeirIn(heir_name="王继承", heir_id_number=HEIR_ID, relation="子女"),
                )
            )
            return
        self._step(
            lambda: social.pay_heir(self.db, self.ctx.fin, person.id, paid_on=self.today, note="银行转账")
        )
        with pytest.raises(Conflict):
            self._step(
                lambda: social.pay_heir(self.db, self.ctx.fin, person.id, paid_on=self.today, note="再次")
            )

    @precondition(lambda self: any(p.outstanding > 0 for p in self.mirror.people.values()))
    @rule(data=st.data())
    def recover(self, data: st.DataObject) -> None:
        person = data.draw(
            st.sampled_from([p for p in self.mirror.people.values() if p.outstanding > 0]), label="person"
        )
        amount = data.draw(st.integers(1, person.outstanding + 1), label="fen")
        recovery = RecoveryIn(amount=Decimal(amount) / 100, recovered_on=self.today, note="家属退回")

        def recover() -> Any:
            return self._step(lambda: social.record_recovery(self.db, self.ctx.fin, person.id, recovery))

        if amount > person.outstanding:
            with pytest.raises(InvalidInput):
                recover()
        else:
            recover()
            assert self.mirror.people[person.id].outstanding == person.outstanding - amount

    @invariant()
    def books_agree(self) -> None:
        self.ctx.run(check_invariants(self.db, self.ctx.people))


# ------------------------------------------------------------------------------------------------ the test


async def _baseline(db: AsyncSession | AsyncConnection) -> tuple[int, int]:
    row = (
        await db.execute(
            text("SELECT (SELECT count(*) FROM payment_batches), (SELECT count(*) FROM journal_transactions)")
        )
    ).one()
    return int(row[0]), int(row[1])


async def _build_world(conn: AsyncConnection, pin: Pin) -> tuple[list[int], tuple[int, int]]:
    """Four pensioners with passbooks and money in the fund, kept in ``conn``'s transaction."""
    session = AsyncSession(
        bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False, autoflush=False
    )
    try:
        w = await world(session, pin, [OLD, OLD, OLD, TURNS_60])
        people = [e.id for e in w.enrollments]
        await session.execute(
            text(
                "UPDATE enrollments SET old_lump_sum = fee_standard - :c, account_credit = :c WHERE id = :e"
            ),
            {"c": SMALL_CREDIT, "e": people[2]},
        )
        await session.commit()  # releases the savepoint into the connection's transaction
        return people, await _baseline(conn)
    finally:
        await session.close()


def test_payment_cycle_keeps_the_books(database_url: str, pinned_clock: Pin) -> None:
    loop = asyncio.new_event_loop()

    def run(coro: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await coro

        return loop.run_until_complete(wrapped())

    engine: AsyncEngine | None = None
    try:
        engine = run(create_app_engine(get_settings(), database_url))
        run(seed_once(engine))
        conn = run(engine.connect())
        trans = run(conn.begin())
        try:
            people, baseline = run(_build_world(conn, pinned_clock))

            async def principals() -> tuple[Principal, Principal, Principal]:
                session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint")
                try:
                    return (
                        await principal(session, "fin"),
                        await principal(session, "fin2"),
                        await principal(session, "cw_a"),
                    )
                finally:
                    await session.close()

            fin, fin2, cw = run(principals())
            ctx = Ctx(loop, conn, pinned_clock, people, fin, fin2, cw, baseline)

            class Machine(PaymentMachine):
                def __init__(self) -> None:
                    super().__init__(ctx)

            run_state_machine_as_test(
                Machine,
                settings=settings(
                    max_examples=25,
                    stateful_step_count=20,
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow],
                ),
            )
        finally:
            run(trans.rollback())
            run(conn.close())
    finally:
        if engine is not None:
            run(engine.dispose())
        loop.close()


# ------------------------------------------------------------------------------------------------ found by the machine

MONTHLY = 26_000
CREDIT = 2_400_000


@pytest.mark.parametrize("june", ["with the bank", "not yet in a batch"])
async def test_the_heir_gets_what_is_left_after_the_month_of_death_is_paid(
    db: AsyncSession, pinned_clock: Pin, june: str
) -> None:
    w = await world(db, pinned_clock, [OLD])
    enrollment_id = w.enrollments[0].id
    fin, fin2, cw = await principal(db, "fin"), await principal(db, "fin2"), await principal(db, "cw_a")

    async def june_batch() -> PaymentBatch:
        pinned_clock(at(date(2023, 6, 5)))
        batch = (await service.generate_pension_batch(db, fin, FIRST, as_of=date(2023, 6, 5))).batch
        await service.approve_batch(db, fin2, batch.id)
        await service.export_batch(db, fin, batch.id, "psbc")
        return batch

    async def bank_pays(batch: PaymentBatch) -> None:
        content = bankfiles.result_file("psbc", batch.number, await result_lines(db, batch))
        await service.import_results(db, fin, batch.id, fmt="psbc", filename="r.txt", content=content)

    batch = await june_batch() if june == "with the bank" else None
    pinned_clock(at(date(2023, 6, 3) if batch is None else date(2023, 6, 20)))
    await social.record_death(db, cw, enrollment_id, DeathIn(death_date=date(2023, 6, 2)))
    await social.set_heir(
        db, cw, enrollment_id, HeirIn(heir_name="王继承", heir_id_number=HEIR_ID, relation="子女")
    )
    try:
        async with db.begin_nested():
            await social.pay_heir(db, fin, enrollment_id, paid_on=today_in_china(), note="银行转账")
        refused = False
    except Conflict:  # refused until June, the month of death, is settled
        refused = True
    if batch is None:
        batch = await june_batch()  # June, the month of death, is owed
    await bank_pays(batch)
    if refused:
        await social.pay_heir(db, fin, enrollment_id, paid_on=today_in_china(), note="银行转账")
    heir_paid = await db.scalar(
        text("SELECT amount FROM heir_payments WHERE enrollment_id = :e AND status = 'paid'"),
        {"e": enrollment_id},
    )
    # June drew 260.00 from the account; the heir gets the rest, not the whole credit.
    assert refused
    assert heir_paid == CREDIT - MONTHLY
