"""The console for a shift: where the assistant left off, canned responses, full-text search.

- `handoffs.flow_state`: the assistant's flow state when the chat went to a
  person, so a hand-back continues where the customer was.
- `canned_responses`: replies agents insert with `/shortcut`, in English and German.
- Full-text search over messages and tickets: FTS5 tables kept in step by
  triggers on SQLite; expression GIN indexes on PostgreSQL.

Revision ID: 0005
Revises: 0007
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from api.models.base import UTCDateTime

revision = "0005"
down_revision = "0007"
branch_labels = None
depends_on = None

SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    "text, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO messages_fts(rowid, text) SELECT id, text FROM messages",
    "CREATE VIRTUAL TABLE tickets_fts USING fts5("
    "title, summary, content='tickets', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER tickets_fts_insert AFTER INSERT ON tickets BEGIN "
    "INSERT INTO tickets_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary); END",
    "CREATE TRIGGER tickets_fts_delete AFTER DELETE ON tickets BEGIN "
    "INSERT INTO tickets_fts(tickets_fts, rowid, title, summary) "
    "VALUES ('delete', old.id, old.title, old.summary); END",
    "CREATE TRIGGER tickets_fts_update AFTER UPDATE OF title, summary ON tickets BEGIN "
    "INSERT INTO tickets_fts(tickets_fts, rowid, title, summary) "
    "VALUES ('delete', old.id, old.title, old.summary); "
    "INSERT INTO tickets_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary); END",
    "INSERT INTO tickets_fts(rowid, title, summary) SELECT id, title, summary FROM tickets",
]
SQLITE_SEARCH_DOWN = [
    "DROP TRIGGER IF EXISTS messages_fts_insert",
    "DROP TRIGGER IF EXISTS messages_fts_delete",
    "DROP TRIGGER IF EXISTS messages_fts_update",
    "DROP TABLE IF EXISTS messages_fts",
    "DROP TRIGGER IF EXISTS tickets_fts_insert",
    "DROP TRIGGER IF EXISTS tickets_fts_delete",
    "DROP TRIGGER IF EXISTS tickets_fts_update",
    "DROP TABLE IF EXISTS tickets_fts",
]
POSTGRES_SEARCH = [
    "CREATE INDEX ix_messages_text_search ON messages USING gin (to_tsvector('simple', text))",
    "CREATE INDEX ix_tickets_text_search ON tickets "
    "USING gin (to_tsvector('simple', title || ' ' || summary))",
]
POSTGRES_SEARCH_DOWN = [
    "DROP INDEX IF EXISTS ix_messages_text_search",
    "DROP INDEX IF EXISTS ix_tickets_text_search",
]


def upgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("flow_state", sa.JSON(), nullable=True))

    op.create_table(
        "canned_responses",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("shortcut", sa.String(40), nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("text_de", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_canned_responses_shortcut", "canned_responses", ["shortcut"], unique=True)
    # The searches filter past chats by when they started.
    op.create_index("ix_conversations_created_at", "conversations", ["created_at"])

    statements = POSTGRES_SEARCH if op.get_bind().dialect.name == "postgresql" else SQLITE_SEARCH
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    name = op.get_bind().dialect.name
    for statement in POSTGRES_SEARCH_DOWN if name == "postgresql" else SQLITE_SEARCH_DOWN:
        op.execute(statement)
    op.drop_index("ix_conversations_created_at", table_name="conversations")
    op.drop_index("ix_canned_responses_shortcut", table_name="canned_responses")
    op.drop_table("canned_responses")
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_column("flow_state")
