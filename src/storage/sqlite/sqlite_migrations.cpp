#include "storage/sqlite/sqlite_migrations.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <set>
#include <string>
#include <thread>

#include "common/clock.hpp"
#include "storage/sqlite/sqlite_database.hpp"

namespace opstream::storage::sqlite {

// Migration 1: hot and history data (server.md §3.4.2).
constexpr std::string_view kInitialSql =
    "CREATE TABLE \"DocumentOps\" (\n"
    "    \"DocumentId\" TEXT NOT NULL,\n"
    "    \"Revision\" INTEGER NOT NULL,\n"
    "    \"AuthorId\" TEXT NOT NULL,\n"
    "    \"Timestamp\" TEXT NOT NULL,\n"
    "    \"Payload\" BLOB NOT NULL,\n"
    "    \"EngineType\" TEXT NOT NULL,\n"
    "    CONSTRAINT \"PK_DocumentOps\" PRIMARY KEY (\"DocumentId\", \"Revision\")\n"
    ");\n"
    "\n"
    "CREATE TABLE \"DocumentSnapshots\" (\n"
    "    \"DocumentId\" TEXT NOT NULL CONSTRAINT \"PK_DocumentSnapshots\" PRIMARY KEY,\n"
    "    \"Revision\" INTEGER NOT NULL,\n"
    "    \"Timestamp\" TEXT NOT NULL,\n"
    "    \"State\" BLOB NOT NULL\n"
    ");\n"
    "\n"
    "CREATE TABLE \"HistoryOps\" (\n"
    "    \"DocumentId\" TEXT NOT NULL,\n"
    "    \"Revision\" INTEGER NOT NULL,\n"
    "    \"AuthorId\" TEXT NOT NULL,\n"
    "    \"Timestamp\" TEXT NOT NULL,\n"
    "    \"Payload\" BLOB NOT NULL,\n"
    "    \"EngineType\" TEXT NOT NULL,\n"
    "    CONSTRAINT \"PK_HistoryOps\" PRIMARY KEY (\"DocumentId\", \"Revision\")\n"
    ");\n"
    "\n"
    "CREATE TABLE \"HistorySnapshots\" (\n"
    "    \"DocumentId\" TEXT NOT NULL,\n"
    "    \"Revision\" INTEGER NOT NULL,\n"
    "    \"Timestamp\" TEXT NOT NULL,\n"
    "    \"State\" BLOB NOT NULL,\n"
    "    \"Name\" TEXT NULL,\n"
    "    CONSTRAINT \"PK_HistorySnapshots\" PRIMARY KEY (\"DocumentId\", \"Revision\")\n"
    ");\n"
    "\n"
    "CREATE INDEX \"IX_DocumentOps_DocumentId_Revision\" ON \"DocumentOps\" (\"DocumentId\", \"Revision\");\n"
    "\n"
    "CREATE INDEX \"IX_HistoryOps_DocumentId_Revision\" ON \"HistoryOps\" (\"DocumentId\", \"Revision\");\n"
    "\n"
    "CREATE INDEX \"IX_HistorySnapshots_DocumentId_Revision\" ON \"HistorySnapshots\" (\"DocumentId\", "
    "\"Revision\");\n";

// Migration 2: comments and versioning tables (created by the reference, never used by its image).
constexpr std::string_view kUpdateModelSql =
    "CREATE TABLE \"Comments\" (\n"
    "    \"Id\" TEXT NOT NULL CONSTRAINT \"PK_Comments\" PRIMARY KEY,\n"
    "    \"DocumentId\" TEXT NOT NULL,\n"
    "    \"ParentCommentId\" TEXT NULL,\n"
    "    \"AuthorPeerId\" TEXT NOT NULL,\n"
    "    \"Body\" TEXT NOT NULL,\n"
    "    \"AnchorJson\" TEXT NULL,\n"
    "    \"AnchoredAtRevision\" INTEGER NOT NULL,\n"
    "    \"CreatedAt\" TEXT NOT NULL,\n"
    "    \"ResolvedAt\" TEXT NULL,\n"
    "    \"ResolvedByPeerId\" TEXT NULL,\n"
    "    \"IsOrphaned\" INTEGER NOT NULL\n"
    ");\n"
    "\n"
    "CREATE TABLE \"DocumentBranches\" (\n"
    "    \"GlobalName\" TEXT NOT NULL,\n"
    "    \"BranchId\" TEXT NOT NULL,\n"
    "    \"PhysicalDocumentId\" TEXT NOT NULL,\n"
    "    \"ForkParentBranchId\" TEXT NULL,\n"
    "    \"ForkRevision\" INTEGER NOT NULL,\n"
    "    \"CreatedAt\" TEXT NOT NULL,\n"
    "    \"IsReadOnly\" INTEGER NOT NULL,\n"
    "    CONSTRAINT \"PK_DocumentBranches\" PRIMARY KEY (\"GlobalName\", \"BranchId\")\n"
    ");\n"
    "\n"
    "CREATE TABLE \"DocumentNames\" (\n"
    "    \"GlobalName\" TEXT NOT NULL CONSTRAINT \"PK_DocumentNames\" PRIMARY KEY,\n"
    "    \"DefaultBranchId\" TEXT NOT NULL,\n"
    "    \"EngineType\" TEXT NOT NULL,\n"
    "    \"CreatedAt\" TEXT NOT NULL\n"
    ");\n"
    "\n"
    "CREATE TABLE \"DocumentVersions\" (\n"
    "    \"GlobalName\" TEXT NOT NULL,\n"
    "    \"BranchId\" TEXT NOT NULL,\n"
    "    \"Tag\" TEXT NOT NULL,\n"
    "    \"Revision\" INTEGER NOT NULL,\n"
    "    \"HistorySnapshotName\" TEXT NOT NULL,\n"
    "    \"CreatedAt\" TEXT NOT NULL,\n"
    "    CONSTRAINT \"PK_DocumentVersions\" PRIMARY KEY (\"GlobalName\", \"BranchId\", \"Tag\")\n"
    ");\n"
    "\n"
    "CREATE INDEX \"IX_Comments_DocumentId_ParentCommentId_ResolvedAt\" ON \"Comments\" (\"DocumentId\", "
    "\"ParentCommentId\", \"ResolvedAt\");\n"
    "\n"
    "CREATE INDEX \"IX_DocumentBranches_PhysicalDocumentId\" ON \"DocumentBranches\" (\"PhysicalDocumentId\");\n"
    "\n"
    "CREATE INDEX \"IX_DocumentVersions_GlobalName_BranchId\" ON \"DocumentVersions\" (\"GlobalName\", "
    "\"BranchId\");\n";

// Migration 3: the comment author's display name; existing rows get ''.
constexpr std::string_view kAddCommentAuthorNameSql =
    "ALTER TABLE \"Comments\" ADD \"AuthorName\" TEXT NOT NULL DEFAULT '';\n";

const std::array<Migration, 3> kMigrations = {{
    {"20260528094901_Initial", kInitialSql},
    {"20260529085317_UpdateModel", kUpdateModelSql},
    {"20260624155802_AddCommentAuthorName", kAddCommentAuthorNameSql},
}};

namespace {

// How often a migrator waiting for another one's lock looks again.
constexpr std::chrono::milliseconds kLockPollInterval{250};

bool IsKnownMigration(std::string_view id) {
  for (const Migration& migration : kMigrations) {
    if (migration.id == id) return true;
  }
  return false;
}

void RollbackQuietly(Database& db) {
  if (db.in_transaction()) (void)db.Execute("ROLLBACK", "rollback of migration");
}

Status ReadHistory(Database& db, std::set<std::string>& ids) {
  sqlite3_stmt* statement = nullptr;
  if (Status status = db.Prepared("SELECT \"MigrationId\" FROM \"__EFMigrationsHistory\" ORDER BY \"MigrationId\"",
                                  "read of __EFMigrationsHistory", statement);
      !status.ok()) {
    return status;
  }
  StatementUse use(statement);
  int rc;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) ids.insert(ColumnBytes(statement, 0));
  if (rc != SQLITE_DONE) return db.Error(rc, "read of __EFMigrationsHistory");
  return Status::Ok();
}

Status IsRecorded(Database& db, std::string_view id, bool& recorded) {
  sqlite3_stmt* statement = nullptr;
  if (Status status = db.Prepared("SELECT 1 FROM \"__EFMigrationsHistory\" WHERE \"MigrationId\" = ?1",
                                  "read of __EFMigrationsHistory", statement);
      !status.ok()) {
    return status;
  }
  StatementUse use(statement);
  BindText(statement, 1, id);
  const int rc = sqlite3_step(statement);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db.Error(rc, "read of __EFMigrationsHistory");
  recorded = rc == SQLITE_ROW;
  return Status::Ok();
}

Status Record(Database& db, std::string_view id) {
  sqlite3_stmt* statement = nullptr;
  if (Status status =
          db.Prepared("INSERT INTO \"__EFMigrationsHistory\" (\"MigrationId\", \"ProductVersion\") VALUES (?1, ?2)",
                      "write of __EFMigrationsHistory", statement);
      !status.ok()) {
    return status;
  }
  StatementUse use(statement);
  BindText(statement, 1, id);
  BindText(statement, 2, kEfProductVersion);
  const int rc = sqlite3_step(statement);
  if (rc != SQLITE_DONE) return db.Error(rc, "write of __EFMigrationsHistory");
  return Status::Ok();
}

// The reference's lock row, if any: its Timestamp text, or nullopt when the lock is free.
Status ReadLockHolder(Database& db, std::optional<std::string>& since) {
  sqlite3_stmt* statement = nullptr;
  if (Status status = db.Prepared("SELECT \"Timestamp\" FROM \"__EFMigrationsLock\" LIMIT 1",
                                  "read of __EFMigrationsLock", statement);
      !status.ok()) {
    return status;
  }
  StatementUse use(statement);
  const int rc = sqlite3_step(statement);
  if (rc == SQLITE_DONE) {
    since.reset();
    return Status::Ok();
  }
  if (rc != SQLITE_ROW) return db.Error(rc, "read of __EFMigrationsLock");
  since = ColumnBytes(statement, 0);
  return Status::Ok();
}

bool IsAbandoned(const std::string& since, std::chrono::minutes abandoned_lock_age) {
  const std::optional<Timestamp> taken = ParseTimestamp(since);
  return taken && UtcNow() - *taken > abandoned_lock_age;
}

// Applies one step under BEGIN IMMEDIATE (which excludes every other writer, ours or EF's),
// waiting while an EF migrator holds its lock row.
Status ApplyStep(Database& db, const Migration& migration, const MigrationSettings& settings) {
  const std::string operation = fmt::format("migration {}", migration.id);
  const auto wait_until = std::chrono::steady_clock::now() + settings.lock_wait;
  for (;;) {
    if (Status status = db.Execute("BEGIN IMMEDIATE", operation); !status.ok()) return status;

    std::optional<std::string> lock_since;
    if (Status status = ReadLockHolder(db, lock_since); !status.ok()) {
      RollbackQuietly(db);
      return status;
    }
    if (lock_since) {
      if (IsAbandoned(*lock_since, settings.abandoned_lock_age)) {
        spdlog::warn("storage.sqlite: removing abandoned EF migration lock taken at {}", *lock_since);
        if (Status status = db.Execute("DELETE FROM \"__EFMigrationsLock\"", operation); !status.ok()) {
          RollbackQuietly(db);
          return status;
        }
      } else {
        RollbackQuietly(db);
        if (std::chrono::steady_clock::now() >= wait_until) {
          return Status::Error(fmt::format(
              "SQLite migration {} failed: the database is locked for migration by another process since {} "
              "(row in __EFMigrationsLock). If no other server is migrating this database, delete that row.",
              migration.id, *lock_since));
        }
        std::this_thread::sleep_for(kLockPollInterval);
        continue;
      }
    }

    // Another migrator may have applied the step between our first read and this transaction.
    bool recorded = false;
    Status status = IsRecorded(db, migration.id, recorded);
    if (status.ok() && !recorded) status = db.Execute(migration.sql, operation);
    if (status.ok() && !recorded) status = Record(db, migration.id);
    if (status.ok()) status = db.Execute("COMMIT", operation);
    if (!status.ok()) {
      RollbackQuietly(db);
      return status;
    }
    if (!recorded) spdlog::info("storage.sqlite: applied migration id={}", migration.id);
    return Status::Ok();
  }
}

void WarnAboutUnknownMigrations(const std::set<std::string>& recorded) {
  for (const std::string& id : recorded) {
    if (!IsKnownMigration(id)) {
      spdlog::warn(
          "storage.sqlite: database has migration id={} unknown to this server (written by a newer "
          "version); continuing",
          id);
    }
  }
}

}  // namespace

Status ApplyMigrations(Database& db, const MigrationSettings& settings) {
  std::set<std::string> recorded;
  if (db.read_only()) {
    // Nothing can be created; the schema must already be complete.
    sqlite3_stmt* probe = nullptr;
    if (Status status = db.Prepared(
            "SELECT 1 FROM \"sqlite_master\" WHERE \"name\" = '__EFMigrationsHistory' AND \"type\" = 'table'",
            "read of sqlite_master", probe);
        !status.ok()) {
      return status;
    }
    bool has_history = false;
    {
      StatementUse use(probe);
      const int rc = sqlite3_step(probe);
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db.Error(rc, "read of sqlite_master");
      has_history = rc == SQLITE_ROW;
    }
    if (has_history) {
      if (Status status = ReadHistory(db, recorded); !status.ok()) return status;
    }
    for (const Migration& migration : kMigrations) {
      if (!recorded.contains(std::string(migration.id))) {
        return Status::Error(fmt::format(
            "SQLite migration {} is not applied and the database is opened read-only (Mode=ReadOnly).", migration.id));
      }
    }
    WarnAboutUnknownMigrations(recorded);
    return Status::Ok();
  }

  if (Status status = db.Execute(kCreateLockTableSql, "creation of __EFMigrationsLock"); !status.ok()) return status;
  if (Status status = db.Execute(kCreateHistoryTableSql, "creation of __EFMigrationsHistory"); !status.ok()) {
    return status;
  }
  if (Status status = ReadHistory(db, recorded); !status.ok()) return status;
  for (const Migration& migration : kMigrations) {
    if (recorded.contains(std::string(migration.id))) continue;
    if (Status status = ApplyStep(db, migration, settings); !status.ok()) return status;
  }
  recorded.clear();
  if (Status status = ReadHistory(db, recorded); !status.ok()) return status;
  WarnAboutUnknownMigrations(recorded);
  return Status::Ok();
}

}  // namespace opstream::storage::sqlite
