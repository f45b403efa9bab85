#pragma once
// Table CRDT, document type "table", op type "TableOpBatch" (engines.md §7).
//
// Rows and columns carry independent LWW registers (position; definition for columns; a sticky
// deletion flag), cells are LWW registers keyed by (row id, column id) that may name rows and
// columns that do not exist. Nothing is ever removed: a removed row or column is a tombstone that a
// later restore (rs_row / rs_col) can lift, and its cells stay (readers hide them).
//
// Snapshot `cells` use the nested format required by §7.6 / §14 D1 (row id → column id → register),
// because the reference cannot write non-empty cells at all. Every map enumerates in first-insertion
// order (§1.5; the table never removes keys).
//
// ParseOp rejects everything the reference rejects plus the §14 D4 recommendations: a missing or
// null `position`/`newPosition`, and a missing or null `peerId`. Apply works in place and cannot fail
// on a parsed op, so a rejected op never touches the state.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "engines/engine.hpp"
#include "engines/table/crdt_support.hpp"

namespace opstream::engines {

enum class TableOpKind : uint8_t {
  kInsertRow,
  kRemoveRow,
  kRestoreRow,
  kMoveRow,
  kInsertColumn,
  kRemoveColumn,
  kRestoreColumn,
  kMoveColumn,
  kUpdateColumnDefinition,
  kSetCell,
  kClearCell,
};

// The wire discriminator ("ins_row", ...).
std::string_view TableOpKindName(TableOpKind kind) noexcept;

struct TableOpItem {
  TableOpKind kind = TableOpKind::kInsertRow;
  std::string row_id;
  std::string column_id;
  // position (ins_row, ins_col) or newPosition (mv_row, mv_col).
  std::string position;
  // definition (ins_col, upd_col_def) or value (set_cell) as normalized JSON text (§1.4).
  std::string value = "null";
  int64_t timestamp = 0;
  std::string peer_id;
};

class TableOp final : public Op {
 public:
  std::vector<TableOpItem> operations;
};

struct TableRow {
  std::string id;
  std::string position;
  int64_t position_timestamp = 0;
  std::string position_peer_id;
  bool is_deleted = false;
  int64_t deletion_timestamp = 0;
  std::string deletion_peer_id;
};

struct TableColumn {
  std::string id;
  std::string position;
  int64_t position_timestamp = 0;
  std::string position_peer_id;
  std::string definition = "null";
  int64_t definition_timestamp = 0;
  std::string definition_peer_id;
  bool is_deleted = false;
  int64_t deletion_timestamp = 0;
  std::string deletion_peer_id;
};

struct TableCell {
  std::string value = "null";  // normalized JSON; "null" for a cleared cell
  int64_t timestamp = 0;
  std::string peer_id;
};

class TableDocument final : public DocumentState {
 public:
  crdt::SlotMap<TableRow> rows;
  crdt::SlotMap<TableColumn> columns;
  // row id → column id → register.
  crdt::SlotMap<crdt::SlotMap<TableCell>> cells;

  const TableCell* FindCell(std::string_view row_id, std::string_view column_id) const noexcept {
    const auto* row = cells.Find(row_id);
    return row == nullptr ? nullptr : row->Find(column_id);
  }
};

// Typed functions (the Engine methods forward to these).
Status ParseTableOp(std::string_view payload_json, TableOp& out);
void SerializeTableOp(const TableOp& op, std::string& out);
Status LoadTableDocument(std::string_view snapshot_json, TableDocument& out);
void SerializeTableDocument(const TableDocument& document, std::string& out);
void ApplyTableOp(TableDocument& document, const TableOp& op);
// §7.5; `now` is the wall clock in epoch milliseconds (a parameter so that tests can fix it).
TableOp InvertTableOp(const TableOp& op, const TableDocument& pre_state, int64_t now);
TableOp RestampTableOp(const TableOp& op, const TableDocument& state, int64_t now);

class TableEngine final : public Engine {
 public:
  std::string_view document_type() const override { return "table"; }
  std::string_view op_type_name() const override { return "TableOpBatch"; }

  std::unique_ptr<DocumentState> CreateEmpty() const override;
  Status LoadState(std::string_view snapshot_json, std::unique_ptr<DocumentState>& out) const override;
  void SerializeState(const DocumentState& state, std::string& out) const override;

  Status ParseOp(std::string_view payload_json, std::unique_ptr<Op>& out) const override;
  void SerializeOp(const Op& op, std::string& out) const override;

  // CRDT: the incoming batch unchanged (§7.4).
  std::unique_ptr<Op> Transform(const Op& incoming, const Op& existing, Priority priority) const override;
  bool IsNoOp(const Op& op) const override;
  Status Apply(DocumentState& state, const Op& op) const override;

  // Unsupported by the reference: null.
  std::unique_ptr<Op> Compose(const Op& first, const Op& second) const override;
  std::unique_ptr<Op> Invert(const Op& op, const DocumentState& pre_state) const override;
  std::unique_ptr<Op> RestampToWin(const Op& op, const DocumentState& state) const override;
};

std::shared_ptr<const Engine> MakeTableEngine();

const TableDocument* AsTableDocument(const DocumentState& state) noexcept;
const TableOp* AsTableOp(const Op& op) noexcept;

}  // namespace opstream::engines
