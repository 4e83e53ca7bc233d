"""PostgreSQL persistence: pools with pgvector, migrations, actor snapshots, exactly-once claims, the frame outbox,
the journal, the payment ledger and quest rows."""

from loreweave.db.connect import DEFAULT_CONNECT_TIMEOUT, check_dsn, connect, create_pool, describe_target
from loreweave.db.database import Database, database_status, journal_history, migrate_database, open_database
from loreweave.db.errors import DatabaseError, LedgerError, MigrationError, QueryError
from loreweave.db.fencing import DEFAULT_FENCE_BUCKET, StaleLeaseError, check_fence, fence_of, reset_fences
from loreweave.db.journal import Journal, JournalEntry
from loreweave.db.ledger import Intent, LedgerLine, NewIntent, Refund
from loreweave.db.migrations import (
    MIGRATIONS_TABLE,
    Migration,
    MigrationState,
    apply_migrations,
    discover_migrations,
    migrate,
    migration_status,
)
from loreweave.db.outbox import OutboxFrame, delete_sent, stage_frames, unsent_frames
from loreweave.db.quests import QuestRow
from loreweave.db.state import Snapshot, StateStore, claim_frame, claim_frames

__all__ = [
    "DEFAULT_FENCE_BUCKET",
    "StaleLeaseError",
    "check_fence",
    "fence_of",
    "reset_fences",
    "DEFAULT_CONNECT_TIMEOUT",
    "MIGRATIONS_TABLE",
    "Database",
    "DatabaseError",
    "Intent",
    "Journal",
    "JournalEntry",
    "LedgerError",
    "LedgerLine",
    "Migration",
    "MigrationError",
    "MigrationState",
    "NewIntent",
    "OutboxFrame",
    "QueryError",
    "QuestRow",
    "Refund",
    "Snapshot",
    "StateStore",
    "apply_migrations",
    "check_dsn",
    "claim_frame",
    "claim_frames",
    "connect",
    "create_pool",
    "database_status",
    "delete_sent",
    "describe_target",
    "discover_migrations",
    "journal_history",
    "migrate",
    "migrate_database",
    "migration_status",
    "open_database",
    "stage_frames",
    "unsent_frames",
]
