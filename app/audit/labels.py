"""Chinese names of audit actions, for the 操作记录 pages."""

from __future__ import annotations

ACTION_LABELS: dict[str, str] = {
    "auth.login": "登录",
    "auth.login_failed": "登录失败",
    "auth.logout": "退出登录",
    "user.create": "新建用户",
    "area.create": "新建区划",
    "household.create": "新增被征收户",
    "household.update": "修改户信息",
    "member.add": "新增家庭成员",
    "member.update": "修改家庭成员",
    "member.move_out": "家庭成员迁出（转入他户）",
    "member.move_in": "家庭成员迁入（来自他户）",
    "member.reveal_id": "查看完整身份证号",
    "audit.verify": "审计链校验",
    "demo.load": "载入演示数据",
    "project.create": "新建征收项目",
    "plan.draft": "新建方案版本（草稿）",
    "plan.update": "修改方案草稿",
    "plan.submit": "提交方案审核",
    "plan.approve": "批准方案",
    "plan.send_back": "退回方案",
    "survey.save": "保存房屋调查",
    "assessment.submit": "提交补偿核算",
    "assessment.approve": "批准补偿核算",
    "assessment.return": "退回补偿核算",
    "notice.create": "发布公示",
    "objection.record": "登记异议",
    "objection.resolve": "处理异议",
    "agreement.issue": "出具协议书",
    "agreement.sign": "登记签约",
    "agreement.void": "作废协议",
    "agreement.bulk": "批量生成协议书",
    "flats.building": "登记安置房楼栋",
    "flats.unit": "登记安置房房源",
    "lottery.draw": "摇号",
    "flat.allocate": "分配安置房",
    "flat.release": "退回安置房",
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)
