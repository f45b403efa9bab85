#include "storage/mysql/mysql_document_store.hpp"

namespace opstream::storage {

// Pomelo's DDL with the types of §3.4.3, unqualified (§3.4.6). MySQL DDL commits implicitly, so a
// step interrupted half-way is re-run: tables use IF NOT EXISTS with their indexes inline, and the
// column of step 3 tolerates "duplicate column" (see MySqlStore Migrate).
//
// Key columns are `COLLATE utf8mb4_bin`, which Pomelo would not write: ids are ordinal everywhere
// else, and the server's default case-insensitive collation would make `Doc` and `doc` one
// document (their ops mixed, their revisions colliding). docs/storage/mysql.md, "Collation".
const std::vector<MySqlMigration>& MySqlMigrations() {
  static const std::vector<MySqlMigration> kMigrations = {
      {"20260528094915_Initial",
       {
           "ALTER DATABASE CHARACTER SET utf8mb4",
           "CREATE TABLE IF NOT EXISTS `DocumentOps` (\n"
           "    `DocumentId` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n"
           "    `Revision` bigint NOT NULL,\n"
           "    `AuthorId` longtext CHARACTER SET utf8mb4 NOT NULL,\n"
           "    `Timestamp` datetime(6) NOT NULL,\n"
           "    `Payload` longblob NOT NULL,\n"
           "    `EngineType` longtext CHARACTER SET utf8mb4 NOT NULL,\n"
           "    CONSTRAINT `PK_DocumentOps` PRIMARY KEY (`DocumentId`, `Revision`),\n"
           "    INDEX `IX_DocumentOps_DocumentId_Revision` (`DocumentId`, `Revision`)\n"
           ") CHARACTER SET=utf8mb4",
           "CREATE TABLE IF NOT EXISTS `DocumentSnapshots` (\n"
           "    `DocumentId` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n"
           "    `Revision` bigint NOT NULL,\n"
           "    `Timestamp` datetime(6) NOT NULL,\n"
           "    `State` longblob NOT NULL,\n"
           "    CONSTRAINT `PK_DocumentSnapshots` PRIMARY KEY (`DocumentId`)\n"
           ") CHARACTER SET=utf8mb4",
           "CREATE TABLE IF NOT EXISTS `HistoryOps` (\n"
           "    `DocumentId` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n"
           "    `Revision` bigint NOT NULL,\n"
           "    `AuthorId` longtext CHARACTER SET utf8mb4 NOT NULL,\n"
           "    `Timestamp` datetime(6) NOT NULL,\n"
           "    `Payload` longblob NOT NULL,\n"
           "    `EngineType` longtext CHARACTER SET utf8mb4 NOT NULL,\n"
           "    CONSTRAINT `PK_HistoryOps` PRIMARY KEY (`DocumentId`, `Revision`),\n"
           "    INDEX `IX_HistoryOps_DocumentId_Revision` (`DocumentId`, `Revision`)\n"
           ") CHARACTER SET=utf8mb4",
           "CREATE TABLE IF NOT EXISTS `HistorySnapshots` (\n"
           "    `DocumentId` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n"
           "    `Revision` bigint NOT NULL,\n"
           "    `Timestamp` datetime(6) NOT NULL,\n"
           "    `State` longblob NOT NULL,\n"
           "    `Name` longtext CHARACTER SET utf8mb4 NULL,\n"
           "    CONSTRAINT `PK_HistorySnapshots` PRIMARY KEY (`DocumentId`, `Revision`),\n"
           "    INDEX `IX_HistorySnapshots_DocumentId_Revision` (`DocumentId`, `Revision`)\n"
           ") CHARACTER SET=utf8mb4",
       }},
      {"20260529085259_UpdateModel",
       {
           "CREATE TABLE IF NOT EXISTS `Comments` (\n"
           "    `Id` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n"
           "    `DocumentId` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n"
           "    `ParentCommentId` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,\n"
           "    `AuthorPeerId` longtext CHARACTER SET utf8mb4 NOT NULL,\n"
           "    `Body` longtext CHARACTER SET utf8mb4 NOT NULL,\n"
           "    `AnchorJson` longtext CHARACTER SET utf8mb4 NULL,\n"
           "    `AnchoredAtRevision` bigint NOT NULL,\n"
           "    `CreatedAt` datetime(6) NOT NULL,\n"
           "    `ResolvedAt` datetime(6) NULL,\n"
           "    `ResolvedByPeerId` longtext CHARACTER SET utf8mb4 NULL,\n"
           "    `IsOrphaned` tinyint(1) NOT NULL,\n"
           "    CONSTRAINT `PK_Comments` PRIMARY KEY (`Id`),\n"
           "    INDEX `IX_Comments_DocumentId_ParentCommentId_ResolvedAt` (`DocumentId`, `ParentCommentId`, "
           "`ResolvedAt`)\n"
           ") CHARACTER SET=utf8mb4",
           "CREATE TABLE IF NOT EXISTS `DocumentBranches` (\n"
           "    `GlobalName` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n"
           "    `BranchId` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n"
           "    `PhysicalDocumentId` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n"
           "    `ForkParentBranchId` longtext CHARACTER SET utf8mb4 NULL,\n"
           "    `ForkRevision` bigint NOT NULL,\n"
           "    `CreatedAt` datetime(6) NOT NULL,\n"
           "    `IsReadOnly` tinyint(1) NOT NULL,\n"
           "    CONSTRAINT `PK_DocumentBranches` PRIMARY KEY (`GlobalName`, `BranchId`),\n"
           "    INDEX `IX_DocumentBranches_PhysicalDocumentId` (`PhysicalDocumentId`)\n"
           ") CHARACTER SET=utf8mb4",
           "CREATE TABLE IF NOT EXISTS `DocumentNames` (\n"
           "    `GlobalName` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n"
           "    `DefaultBranchId` longtext CHARACTER SET utf8mb4 NOT NULL,\n"
           "    `EngineType` longtext CHARACTER SET utf8mb4 NOT NULL,\n"
           "    `CreatedAt` datetime(6) NOT NULL,\n"
           "    CONSTRAINT `PK_DocumentNames` PRIMARY KEY (`GlobalName`)\n"
           ") CHARACTER SET=utf8mb4",
           "CREATE TABLE IF NOT EXISTS `DocumentVersions` (\n"
           "    `GlobalName` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n"
           "    `BranchId` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n"
           "    `Tag` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n"
           "    `Revision` bigint NOT NULL,\n"
           "    `HistorySnapshotName` longtext CHARACTER SET utf8mb4 NOT NULL,\n"
           "    `CreatedAt` datetime(6) NOT NULL,\n"
           "    CONSTRAINT `PK_DocumentVersions` PRIMARY KEY (`GlobalName`, `BranchId`, `Tag`),\n"
           "    INDEX `IX_DocumentVersions_GlobalName_BranchId` (`GlobalName`, `BranchId`)\n"
           ") CHARACTER SET=utf8mb4",
       }},
      {"20260624154139_AddCommentAuthorName",
       {
           // Without a default clause (§3.4.5): existing rows receive the empty string.
           "ALTER TABLE `Comments` ADD `AuthorName` longtext CHARACTER SET utf8mb4 NOT NULL",
       }},
  };
  return kMigrations;
}

}  // namespace opstream::storage
