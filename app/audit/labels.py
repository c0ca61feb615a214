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
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)
