from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin

RELATIONS = {
    "head": "户主",
    "spouse": "配偶",
    "child": "子女",
    "child_in_law": "儿媳/女婿",
    "grandchild": "孙子女/外孙子女",
    "parent": "父母",
    "grandparent": "祖父母/外祖父母",
    "sibling": "兄弟姐妹",
    "other": "其他",
}
MEMBER_STATUSES = {"registered": "在册", "moved_out": "迁出", "deceased": "死亡"}
SEXES = {"M": "男", "F": "女"}


class Household(TimestampMixin, Base):
    """被征收户: a household registered in a village (and optionally a group 村民小组)."""

    __tablename__ = "households"
    __table_args__ = (
        UniqueConstraint("county_code", "register_no", name="uq_households_register_no"),
        CheckConstraint("county_code ~ '^[0-9]{6}$'", name="county_code"),
        Index("ix_households_area_path", "area_path", postgresql_ops={"area_path": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6))
    village_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    area_path: Mapped[str] = mapped_column(String(200))
    register_no: Mapped[str] = mapped_column(String(32), comment="户口簿编号")
    address: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Member(TimestampMixin, Base):
    """家庭成员. The ID number is stored sealed, with a keyed hash for lookups and a masked copy for lists.

    One person (one ID number) is a registered member of at most one household: a partial unique index.
    """

    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint("sex IN ('M', 'F')", name="sex"),
        CheckConstraint(
            "relation IN ('head', 'spouse', 'child', 'child_in_law', 'grandchild', 'parent', 'grandparent', "
            "'sibling', 'other')",
            name="relation",
        ),
        CheckConstraint("status IN ('registered', 'moved_out', 'deceased')", name="status"),
        CheckConstraint("octet_length(id_number_hash) = 32", name="id_hash_len"),
        CheckConstraint("(status = 'registered') = (left_at IS NULL)", name="left_when_inactive"),
        Index(
            "uq_members_active_person",
            "id_number_hash",
            unique=True,
            postgresql_where=text("status = 'registered'"),
        ),
        Index(
            "uq_members_one_head",
            "household_id",
            unique=True,
            postgresql_where=text("status = 'registered' AND relation = 'head'"),
        ),
        Index("ix_members_id_number_hash", "id_number_hash"),
        Index("ix_members_household", "household_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    county_code: Mapped[str] = mapped_column(String(6))
    name: Mapped[str] = mapped_column(String(50))
    id_number_enc: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    id_number_masked: Mapped[str] = mapped_column(String(18))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    relation: Mapped[str] = mapped_column(String(20), comment="与户主关系")
    status: Mapped[str] = mapped_column(String(20), default="registered", server_default="registered")
    phone: Mapped[str | None] = mapped_column(String(20))
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    registered_on: Mapped[date | None] = mapped_column(Date, comment="户籍迁入日期；空表示迁入早于系统登记")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
