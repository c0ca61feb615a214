"""The public lookup's JSON: money as strings with two decimals, dates as ISO dates, nothing unmasked."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from app.core.money import fen_to_yuan
from app.public import service
from app.socialsecurity.rules import format_month


class StatusQuery(BaseModel):
    # Generous bounds on purpose: a number that does not parse gets the same "not found" as an unknown one.
    id_number: str = Field(max_length=64, title="公民身份号码", examples=["410727199001011234"])
    name: str = Field(max_length=50, title="姓名（与户口簿一致）", examples=["王建国"])


class StepOut(BaseModel):
    code: str
    label: str
    done: bool
    on: date | None


class PaymentOut(BaseModel):
    item: str = Field(title="款项")
    amount: str = Field(title="金额（元）")
    state: str = Field(title="状态")
    on: date | None = Field(title="日期（到账或失败之日；未到账为送银行之日）")


class PensionMonthOut(BaseModel):
    month: str = Field(title="月份（YYYY-MM）")
    amount: str
    back_pay: bool = Field(title="补发")
    state: str
    on: date | None = Field(title="到账日期（未到账为送银行之日）")


class PensionOut(BaseModel):
    state: str
    enrolled_on: date
    start_month: str = Field(title="养老金起发月份（YYYY-MM）")
    monthly_amount: str = Field(title="月养老金（元）")
    months: list[PensionMonthOut] = Field(title="最近 12 个月的养老金")
    certification_due: date | None = Field(title="资格认证到期日")


class StatusOut(BaseModel):
    name_masked: str
    id_number_masked: str
    village: str
    stage: str = Field(title="当前进度")
    timeline: list[StepOut]
    option: str | None = Field(title="安置方式")
    agreement_number: str | None
    agreement_state: str | None
    signed_on: date | None
    compensation_total: str | None = Field(title="补偿总额（元）")
    net_payable: str | None = Field(title="应付净额（元；负数为应缴差价）")
    difference_paid_on: date | None = Field(default=None, title="应缴差价的缴清日期")
    payable: str = Field(title="应付补偿款（元）")
    paid: str = Field(title="已到账（元）")
    outstanding: str = Field(title="未付（元）")
    payments: list[PaymentOut]
    flat: str | None = Field(title="安置房（楼号 房号）")
    pension: PensionOut | None


class Message(BaseModel):
    detail: str


def status_out(s: service.Status) -> StatusOut:
    p = s.pension
    return StatusOut(
        name_masked=s.name_masked,
        id_number_masked=s.id_masked,
        village=s.village,
        stage=s.stage,
        timeline=[StepOut(code=x.code, label=x.label, done=x.done, on=x.on) for x in s.steps],
        option=s.option,
        agreement_number=s.agreement_number,
        agreement_state=s.agreement_state,
        signed_on=s.signed_on,
        compensation_total=None if s.compensation_total is None else fen_to_yuan(s.compensation_total),
        net_payable=None if s.net_payable is None else fen_to_yuan(s.net_payable),
        difference_paid_on=s.difference_paid_on,
        payable=fen_to_yuan(s.committed),
        paid=fen_to_yuan(s.paid),
        outstanding=fen_to_yuan(s.outstanding),
        payments=[
            PaymentOut(item=x.label, amount=fen_to_yuan(x.amount), state=x.state, on=x.on) for x in s.payments
        ],
        flat=s.flat,
        pension=None
        if p is None
        else PensionOut(
            state=p.state,
            enrolled_on=p.enrolled_on,
            start_month=format_month(p.start_month),
            monthly_amount=fen_to_yuan(p.monthly_amount),
            months=[
                PensionMonthOut(
                    month=format_month(x.month),
                    amount=fen_to_yuan(x.amount),
                    back_pay=x.back_pay,
                    state=x.state,
                    on=x.on,
                )
                for x in p.months
            ],
            certification_due=p.certification_due,
        ),
    )
