#include "storage/postgres/postgres_migrations.hpp"

namespace opstream::storage::postgres {

const std::array<Migration, 3>& Migrations() {
  static const std::array<Migration, 3> kMigrations = {{
      {"20260528094925_Initial",
       {
           "CREATE SCHEMA IF NOT EXISTS opstream",
           "CREATE TABLE opstream.\"DocumentOps\" (\n"
           "    \"DocumentId\" text NOT NULL,\n"
           "    \"Revision\" bigint NOT NULL,\n"
           "    \"AuthorId\" text NOT NULL,\n"
           "    \"Timestamp\" timestamp with time zone NOT NULL,\n"
           "    \"Payload\" bytea NOT NULL,\n"
           "    \"EngineType\" text NOT NULL,\n"
           "    CONSTRAINT \"PK_DocumentOps\" PRIMARY KEY (\"DocumentId\", \"Revision\")\n"
           ")",
           "CREATE TABLE opstream.\"DocumentSnapshots\" (\n"
           "    \"DocumentId\" text NOT NULL,\n"
           "    \"Revision\" bigint NOT NULL,\n"
           "    \"Timestamp\" timestamp with time zone NOT NULL,\n"
           "    \"State\" bytea NOT NULL,\n"
           "    CONSTRAINT \"PK_DocumentSnapshots\" PRIMARY KEY (\"DocumentId\")\n"
           ")",
           "CREATE TABLE opstream.\"HistoryOps\" (\n"
           "    \"DocumentId\" text NOT NULL,\n"
           "    \"Revision\" bigint NOT NULL,\n"
           "    \"AuthorId\" text NOT NULL,\n"
           "    \"Timestamp\" timestamp with time zone NOT NULL,\n"
           "    \"Payload\" bytea NOT NULL,\n"
           "    \"EngineType\" text NOT NULL,\n"
           "    CONSTRAINT \"PK_HistoryOps\" PRIMARY KEY (\"DocumentId\", \"Revision\")\n"
           ")",
           "CREATE TABLE opstream.\"HistorySnapshots\" (\n"
           "    \"DocumentId\" text NOT NULL,\n"
           "    \"Revision\" bigint NOT NULL,\n"
           "    \"Timestamp\" timestamp with time zone NOT NULL,\n"
           "    \"State\" bytea NOT NULL,\n"
           "    \"Name\" text NULL,\n"
           "    CONSTRAINT \"PK_HistorySnapshots\" PRIMARY KEY (\"DocumentId\", \"Revision\")\n"
           ")",
           "CREATE INDEX \"IX_DocumentOps_DocumentId_Revision\" ON opstream.\"DocumentOps\" (\"DocumentId\", "
           "\"Revision\")",
           "CREATE INDEX \"IX_HistoryOps_DocumentId_Revision\" ON opstream.\"HistoryOps\" (\"DocumentId\", "
           "\"Revision\")",
           "CREATE INDEX \"IX_HistorySnapshots_DocumentId_Revision\" ON opstream.\"HistorySnapshots\" "
           "(\"DocumentId\", \"Revision\")",
       }},
      {"20260529085249_UpdateModel",
       {
           "CREATE TABLE opstream.\"Comments\" (\n"
           "    \"Id\" text NOT NULL,\n"
           "    \"DocumentId\" text NOT NULL,\n"
           "    \"ParentCommentId\" text NULL,\n"
           "    \"AuthorPeerId\" text NOT NULL,\n"
           "    \"Body\" text NOT NULL,\n"
           "    \"AnchorJson\" text NULL,\n"
           "    \"AnchoredAtRevision\" bigint NOT NULL,\n"
           "    \"CreatedAt\" timestamp with time zone NOT NULL,\n"
           "    \"ResolvedAt\" timestamp with time zone NULL,\n"
           "    \"ResolvedByPeerId\" text NULL,\n"
           "    \"IsOrphaned\" boolean NOT NULL,\n"
           "    CONSTRAINT \"PK_Comments\" PRIMARY KEY (\"Id\")\n"
           ")",
           "CREATE TABLE opstream.\"DocumentBranches\" (\n"
           "    \"GlobalName\" text NOT NULL,\n"
           "    \"BranchId\" text NOT NULL,\n"
           "    \"PhysicalDocumentId\" text NOT NULL,\n"
           "    \"ForkParentBranchId\" text NULL,\n"
           "    \"ForkRevision\" bigint NOT NULL,\n"
           "    \"CreatedAt\" timestamp with time zone NOT NULL,\n"
           "    \"IsReadOnly\" boolean NOT NULL,\n"
           "    CONSTRAINT \"PK_DocumentBranches\" PRIMARY KEY (\"GlobalName\", \"BranchId\")\n"
           ")",
           "CREATE TABLE opstream.\"DocumentNames\" (\n"
           "    \"GlobalName\" text NOT NULL,\n"
           "    \"DefaultBranchId\" text NOT NULL,\n"
           "    \"EngineType\" text NOT NULL,\n"
           "    \"CreatedAt\" timestamp with time zone NOT NULL,\n"
           "    CONSTRAINT \"PK_DocumentNames\" PRIMARY KEY (\"GlobalName\")\n"
           ")",
           "CREATE TABLE opstream.\"DocumentVersions\" (\n"
           "    \"GlobalName\" text NOT NULL,\n"
           "    \"BranchId\" text NOT NULL,\n"
           "    \"Tag\" text NOT NULL,\n"
           "    \"Revision\" bigint NOT NULL,\n"
           "    \"HistorySnapshotName\" text NOT NULL,\n"
           "    \"CreatedAt\" timestamp with time zone NOT NULL,\n"
           "    CONSTRAINT \"PK_DocumentVersions\" PRIMARY KEY (\"GlobalName\", \"BranchId\", \"Tag\")\n"
           ")",
           "CREATE INDEX \"IX_Comments_DocumentId_ParentCommentId_ResolvedAt\" ON opstream.\"Comments\" "
           "(\"DocumentId\", \"ParentCommentId\", \"ResolvedAt\")",
           "CREATE INDEX \"IX_DocumentBranches_PhysicalDocumentId\" ON opstream.\"DocumentBranches\" "
           "(\"PhysicalDocumentId\")",
           "CREATE INDEX \"IX_DocumentVersions_GlobalName_BranchId\" ON opstream.\"DocumentVersions\" "
           "(\"GlobalName\", \"BranchId\")",
       }},
      {"20260624154130_AddCommentAuthorName",
       {
           "ALTER TABLE opstream.\"Comments\" ADD \"AuthorName\" text NOT NULL DEFAULT ''",
       }},
  }};
  return kMigrations;
}

}  // namespace opstream::storage::postgres
