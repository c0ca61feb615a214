"""Foundation: areas, staff accounts and sessions, households and members, the append-only audit trail,
and the restricted application role.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "anzhi_app"
AUDIT_OWNER = "anzhi_audit_owner"


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    ]


def _roles() -> None:
    # Roles are cluster-wide; create them only where the server lets the migrating user do so. Without them the
    # triggers below still refuse every UPDATE/DELETE/TRUNCATE of the audit trail.
    op.execute(
        f"""
        DO $$
        DECLARE
            me_super boolean;
            me_createrole boolean;
        BEGIN
            SELECT rolsuper, rolcreaterole INTO me_super, me_createrole FROM pg_roles WHERE rolname = current_user;
            IF me_super OR me_createrole THEN
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                    CREATE ROLE {APP_ROLE} NOLOGIN;
                END IF;
                IF NOT pg_has_role(current_user, '{APP_ROLE}', 'MEMBER') THEN
                    EXECUTE format('GRANT {APP_ROLE} TO %I', current_user);
                END IF;
            END IF;
            IF me_super AND NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{AUDIT_OWNER}') THEN
                CREATE ROLE {AUDIT_OWNER} NOLOGIN;
            END IF;
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                EXECUTE 'GRANT USAGE ON SCHEMA public TO {APP_ROLE}';
                EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA public '
                        'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}';
                EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}';
            END IF;
        END $$;
        """
    )


def _protect_audit_table() -> None:
    op.execute(
        """
        CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$;
        """
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()"
    )
    op.execute(
        f"""
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                REVOKE ALL ON audit_events FROM {APP_ROLE};
                GRANT SELECT, INSERT ON audit_events TO {APP_ROLE};
                GRANT SELECT ON alembic_version TO {APP_ROLE};
            END IF;
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{AUDIT_OWNER}')
               AND pg_has_role(current_user, '{AUDIT_OWNER}', 'USAGE') THEN
                ALTER TABLE audit_events OWNER TO {AUDIT_OWNER};
                ALTER FUNCTION audit_events_refuse_change() OWNER TO {AUDIT_OWNER};
                EXECUTE format('GRANT SELECT, INSERT ON audit_events TO %I', current_user);
            END IF;
        END $$;
        """
    )


def _trigram_index() -> None:
    # Name-fragment search over a province's members wants a trigram index; pg_trgm is a trusted extension, so a
    # user with CREATE on the database may install it. Where that is not allowed the search still works, slower.
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')
               OR (EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm')
                   AND has_database_privilege(current_database(), 'CREATE')) THEN
                CREATE EXTENSION IF NOT EXISTS pg_trgm;
                CREATE INDEX ix_members_name_trgm ON members USING gin (name gin_trgm_ops);
            END IF;
        END $$;
        """
    )


def upgrade() -> None:
    _roles()

    op.create_table(
        "areas",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("code", sa.String(20), nullable=False, comment="行政区划代码"),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("areas.id", ondelete="RESTRICT"), nullable=True),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("path", sa.String(200), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("level IN ('county', 'township', 'village', 'group')", name="level"),
        sa.CheckConstraint("(level = 'county') = (parent_id IS NULL)", name="root_is_county"),
        sa.CheckConstraint("county_code ~ '^[0-9]{6}$'", name="county_code"),
        sa.UniqueConstraint("code"),
        sa.UniqueConstraint("path"),
    )
    op.create_index("ix_areas_parent_id", "areas", ["parent_id"])
    op.create_index("ix_areas_path_prefix", "areas", ["path"], postgresql_ops={"path": "text_pattern_ops"})

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("username", sa.String(40), nullable=False),
        sa.Column("full_name", sa.String(50), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("role IN ('caseworker', 'reviewer', 'finance', 'auditor', 'admin')", name="role"),
        sa.CheckConstraint("username ~ '^[a-z0-9_.-]{3,40}$'", name="username"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "user_areas",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("area_id", sa.Integer(), sa.ForeignKey("areas.id", ondelete="RESTRICT"), primary_key=True),
    )
    op.create_index("ix_user_areas_area_id", "user_areas", ["area_id"])
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('web', 'api')", name="kind"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_auth_sessions_user_id", "auth_sessions", ["user_id"])
    op.create_index("ix_auth_sessions_expires_at", "auth_sessions", ["expires_at"])
    op.create_table(
        "login_throttles",
        sa.Column("username", sa.String(100), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("failures >= 0", name="failures"),
    )

    op.create_table(
        "households",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("village_id", sa.Integer(), sa.ForeignKey("areas.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("areas.id", ondelete="RESTRICT"), nullable=True),
        sa.Column("area_path", sa.String(200), nullable=False),
        sa.Column("register_no", sa.String(32), nullable=False, comment="户口簿编号"),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        *_timestamps(),
        sa.CheckConstraint("county_code ~ '^[0-9]{6}$'", name="county_code"),
        sa.UniqueConstraint("county_code", "register_no", name="uq_households_register_no"),
    )
    op.create_index("ix_households_village_id", "households", ["village_id"])
    op.create_index(
        "ix_households_area_path",
        "households",
        ["area_path"],
        postgresql_ops={"area_path": "text_pattern_ops"},
    )

    op.create_table(
        "members",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "household_id",
            sa.BigInteger(),
            sa.ForeignKey("households.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("id_number_enc", sa.LargeBinary(), nullable=False),
        sa.Column("id_number_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("id_number_masked", sa.String(18), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(1), nullable=False),
        sa.Column("relation", sa.String(20), nullable=False, comment="与户主关系"),
        sa.Column("status", sa.String(20), server_default="registered", nullable=False),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        *_timestamps(),
        sa.CheckConstraint("sex IN ('M', 'F')", name="sex"),
        sa.CheckConstraint(
            "relation IN ('head', 'spouse', 'child', 'child_in_law', 'grandchild', 'parent', 'grandparent', "
            "'sibling', 'other')",
            name="relation",
        ),
        sa.CheckConstraint("status IN ('registered', 'moved_out', 'deceased')", name="status"),
        sa.CheckConstraint("octet_length(id_number_hash) = 32", name="id_hash_len"),
        sa.CheckConstraint("(status = 'registered') = (left_at IS NULL)", name="left_when_inactive"),
    )
    op.create_index(
        "uq_members_active_person",
        "members",
        ["id_number_hash"],
        unique=True,
        postgresql_where=sa.text("status = 'registered'"),
    )
    op.create_index(
        "uq_members_one_head",
        "members",
        ["household_id"],
        unique=True,
        postgresql_where=sa.text("status = 'registered' AND relation = 'head'"),
    )
    op.create_index("ix_members_id_number_hash", "members", ["id_number_hash"])
    op.create_index("ix_members_household", "members", ["household_id", "id"])
    _trigram_index()

    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_username", sa.String(40), nullable=False),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("entity_type", sa.String(40), nullable=False),
        sa.Column("entity_id", sa.String(60), nullable=True),
        sa.Column("county_code", sa.String(6), nullable=True),
        sa.Column("household_id", sa.BigInteger(), nullable=True),
        sa.Column("before", postgresql.JSONB(), nullable=True),
        sa.Column("after", postgresql.JSONB(), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("prev_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.CheckConstraint("octet_length(hash) = 32 AND octet_length(prev_hash) = 32", name="hash_len"),
        sa.CheckConstraint("seq > 0", name="seq_positive"),
        sa.UniqueConstraint("hash"),
    )
    op.create_index("ix_audit_events_household", "audit_events", ["household_id", "seq"])
    op.create_index("ix_audit_events_actor", "audit_events", ["actor_id", "seq"])
    op.create_index("ix_audit_events_entity", "audit_events", ["entity_type", "entity_id"])
    op.create_index("ix_audit_events_occurred_at", "audit_events", ["occurred_at"])
    _protect_audit_table()


def downgrade() -> None:
    op.drop_table("audit_events")
    op.execute("DROP FUNCTION IF EXISTS audit_events_refuse_change()")
    op.drop_table("members")
    op.drop_table("households")
    op.drop_table("login_throttles")
    op.drop_table("auth_sessions")
    op.drop_table("user_areas")
    op.drop_table("users")
    op.drop_table("areas")
