#include "engines/table/table_engine.hpp"

#include <algorithm>
#include <array>
#include <new>

#include "engines/json/json_writer.hpp"

namespace opstream::engines {
namespace {

using crdt::FieldReader;
using crdt::LwwWins;
using json::AppendJsonInt;
using json::AppendJsonString;
using json::JsonKind;
using json::RawJsonTree;

constexpr std::array<std::string_view, 11> kKindNames = {"ins_row",     "rm_row",   "rs_row",  "mv_row",
                                                         "ins_col",     "rm_col",   "rs_col",  "mv_col",
                                                         "upd_col_def", "set_cell", "clr_cell"};

bool HasRow(TableOpKind k) {
  return k == TableOpKind::kInsertRow || k == TableOpKind::kRemoveRow || k == TableOpKind::kRestoreRow ||
         k == TableOpKind::kMoveRow || k == TableOpKind::kSetCell || k == TableOpKind::kClearCell;
}
bool HasColumn(TableOpKind k) { return !HasRow(k) || k == TableOpKind::kSetCell || k == TableOpKind::kClearCell; }
bool HasPosition(TableOpKind k) {
  return k == TableOpKind::kInsertRow || k == TableOpKind::kMoveRow || k == TableOpKind::kInsertColumn ||
         k == TableOpKind::kMoveColumn;
}
bool IsMove(TableOpKind k) { return k == TableOpKind::kMoveRow || k == TableOpKind::kMoveColumn; }
bool HasDefinition(TableOpKind k) {
  return k == TableOpKind::kInsertColumn || k == TableOpKind::kUpdateColumnDefinition;
}

Status ParseItem(const RawJsonTree& tree, uint32_t node, size_t index, TableOpItem& item) {
  const auto where = crdt::Location::Indexed("Invalid TableOpBatch: operations", static_cast<int64_t>(index));
  std::string type;
  if (auto s = crdt::ReadDiscriminator(tree, node, where, type); !s.ok()) return s;
  const auto found = std::find(kKindNames.begin(), kKindNames.end(), type);
  if (found == kKindNames.end()) {
    return Status::Error(where.Text() + " has an unknown \"$type\" \"" + type +
                         "\" (expected ins_row, rm_row, rs_row, mv_row, ins_col, rm_col, rs_col, mv_col, "
                         "upd_col_def, set_cell or clr_cell).");
  }
  item.kind = static_cast<TableOpKind>(found - kKindNames.begin());
  const FieldReader fields(tree, node, where);
  if (HasRow(item.kind)) {
    if (auto s = fields.RequiredString("rowId", item.row_id); !s.ok()) return s;
  }
  if (HasColumn(item.kind)) {
    if (auto s = fields.RequiredString("columnId", item.column_id); !s.ok()) return s;
  }
  if (HasPosition(item.kind)) {
    // §7.7 / D4: the reference stores a missing position as null; rejected here.
    if (auto s = fields.RequiredString(IsMove(item.kind) ? "newPosition" : "position", item.position); !s.ok()) {
      return s;
    }
  }
  if (HasDefinition(item.kind)) {
    if (auto s = fields.RequiredValue("definition", item.value); !s.ok()) return s;
  } else if (item.kind == TableOpKind::kSetCell) {
    if (auto s = fields.RequiredValue("value", item.value); !s.ok()) return s;
  }
  if (auto s = fields.Int64("timestamp", item.timestamp); !s.ok()) return s;
  return fields.RequiredString("peerId", item.peer_id);
}

void AppendKey(std::string& out, std::string_view name) {
  AppendJsonString(out, name);
  out.push_back(':');
}

void AppendItem(std::string& out, const TableOpItem& item) {
  out.append("{\"$type\":");
  AppendJsonString(out, TableOpKindName(item.kind));
  if (HasRow(item.kind)) {
    out.append(",\"rowId\":");
    AppendJsonString(out, item.row_id);
  }
  if (HasColumn(item.kind)) {
    out.append(",\"columnId\":");
    AppendJsonString(out, item.column_id);
  }
  if (HasPosition(item.kind)) {
    out.append(IsMove(item.kind) ? ",\"newPosition\":" : ",\"position\":");
    AppendJsonString(out, item.position);
  }
  if (HasDefinition(item.kind)) {
    out.append(",\"definition\":").append(item.value);
  } else if (item.kind == TableOpKind::kSetCell) {
    out.append(",\"value\":").append(item.value);
  }
  out.append(",\"timestamp\":");
  AppendJsonInt(out, item.timestamp);
  out.append(",\"peerId\":");
  AppendJsonString(out, item.peer_id);
  out.push_back('}');
}

// ---- snapshot loading ----

Status ExpectObject(const RawJsonTree& tree, uint32_t node, const crdt::Location& where) {
  if (tree.node(node).kind != JsonKind::kObject) return Status::Error(where.Text() + " must be an object.");
  return Status::Ok();
}

// A snapshot member that holds a map; absent means empty.
Status MapNode(const RawJsonTree& tree, std::string_view name, std::optional<uint32_t>& out) {
  const int64_t found = tree.FindMemberIgnoreCase(0, name);
  if (found < 0) return Status::Ok();
  const auto where = crdt::Location{"Invalid table snapshot: ", -1, {}, name};
  if (auto s = ExpectObject(tree, static_cast<uint32_t>(found), where); !s.ok()) return s;
  out = static_cast<uint32_t>(found);
  return Status::Ok();
}

// Snapshots written by the reference never hold null ids or peers; a null read from an older or
// foreign snapshot is kept as "" (documented in docs/engines/table-and-tree.md).
Status LoadRow(const RawJsonTree& tree, uint32_t node, std::string_view key, TableRow& row) {
  const auto where = crdt::Location::Keyed("Invalid table snapshot: rows", key);
  if (auto s = ExpectObject(tree, node, where); !s.ok()) return s;
  const FieldReader f(tree, node, where);
  Status s = f.OptionalString("id", row.id, key);
  if (s.ok()) s = f.OptionalString("position", row.position, "");
  if (s.ok()) s = f.Int64("positionTimestamp", row.position_timestamp);
  if (s.ok()) s = f.OptionalString("positionPeerId", row.position_peer_id, "");
  if (s.ok()) s = f.Bool("isDeleted", row.is_deleted);
  if (s.ok()) s = f.Int64("deletionTimestamp", row.deletion_timestamp);
  if (s.ok()) s = f.OptionalString("deletionPeerId", row.deletion_peer_id, "");
  return s;
}

Status LoadColumn(const RawJsonTree& tree, uint32_t node, std::string_view key, TableColumn& column) {
  const auto where = crdt::Location::Keyed("Invalid table snapshot: columns", key);
  if (auto s = ExpectObject(tree, node, where); !s.ok()) return s;
  const FieldReader f(tree, node, where);
  Status s = f.OptionalString("id", column.id, key);
  if (s.ok()) s = f.OptionalString("position", column.position, "");
  if (s.ok()) s = f.Int64("positionTimestamp", column.position_timestamp);
  if (s.ok()) s = f.OptionalString("positionPeerId", column.position_peer_id, "");
  if (s.ok()) f.OptionalValue("definition", column.definition);
  if (s.ok()) s = f.Int64("definitionTimestamp", column.definition_timestamp);
  if (s.ok()) s = f.OptionalString("definitionPeerId", column.definition_peer_id, "");
  if (s.ok()) s = f.Bool("isDeleted", column.is_deleted);
  if (s.ok()) s = f.Int64("deletionTimestamp", column.deletion_timestamp);
  if (s.ok()) s = f.OptionalString("deletionPeerId", column.deletion_peer_id, "");
  return s;
}

Status LoadCell(const RawJsonTree& tree, uint32_t node, const crdt::Location& where, TableCell& cell) {
  if (auto s = ExpectObject(tree, node, where); !s.ok()) return s;
  const FieldReader f(tree, node, where);
  f.OptionalValue("value", cell.value);
  Status s = f.Int64("timestamp", cell.timestamp);
  if (s.ok()) s = f.OptionalString("peerId", cell.peer_id, "");
  return s;
}

Status LoadInto(std::string_view snapshot_json, TableDocument& doc) {
  RawJsonTree tree;
  if (auto s = tree.Parse(snapshot_json); !s.ok()) return Status::Error("Invalid table snapshot: " + s.message());
  if (tree.root().kind != JsonKind::kObject) return Status::Error("Invalid table snapshot: not a JSON object.");
  std::optional<uint32_t> rows, columns, cells;
  Status status = MapNode(tree, "rows", rows);
  if (status.ok()) status = MapNode(tree, "columns", columns);
  if (status.ok()) status = MapNode(tree, "cells", cells);
  if (!status.ok()) return status;
  if (rows) {
    doc.rows.Reserve(tree.node(*rows).child_count);
    crdt::ForEachMember(tree, *rows, [&](std::string key, uint32_t node) {
      if (!status.ok()) return;
      TableRow row;
      status = LoadRow(tree, node, key, row);
      if (status.ok()) doc.rows.Set(key, std::move(row));
    });
  }
  if (columns && status.ok()) {
    crdt::ForEachMember(tree, *columns, [&](std::string key, uint32_t node) {
      if (!status.ok()) return;
      TableColumn column;
      status = LoadColumn(tree, node, key, column);
      if (status.ok()) doc.columns.Set(key, std::move(column));
    });
  }
  if (cells && status.ok()) {
    crdt::ForEachMember(tree, *cells, [&](std::string row_id, uint32_t row_node) {
      if (!status.ok()) return;
      status = ExpectObject(tree, row_node, crdt::Location::Keyed("Invalid table snapshot: cells", row_id));
      if (!status.ok()) return;
      auto& row_cells = doc.cells.GetOrInsert(row_id, [] { return crdt::SlotMap<TableCell>(); });
      // One message prefix per row; cells of the row add their column id.
      const std::string prefix = "Invalid table snapshot: cells[\"" + row_id + "\"]";
      crdt::ForEachMember(tree, row_node, [&](std::string column_id, uint32_t cell_node) {
        if (!status.ok()) return;
        TableCell cell;
        status = LoadCell(tree, cell_node, crdt::Location::Keyed(prefix, column_id), cell);
        if (status.ok()) row_cells.Set(column_id, std::move(cell));
      });
    });
  }
  return status;
}

// ---- apply ----

void ApplyRowPosition(TableDocument& doc, const TableOpItem& op) {
  if (TableRow* row = doc.rows.Find(op.row_id)) {
    if (LwwWins(op.timestamp, op.peer_id, row->position_timestamp, row->position_peer_id)) {
      row->position = op.position;
      row->position_timestamp = op.timestamp;
      row->position_peer_id = op.peer_id;
    }
    return;
  }
  doc.rows.Set(op.row_id, TableRow{op.row_id, op.position, op.timestamp, op.peer_id, false, 0, ""});
}

void ApplyRowDeletion(TableDocument& doc, const TableOpItem& op, bool deleted) {
  if (TableRow* row = doc.rows.Find(op.row_id)) {
    if (LwwWins(op.timestamp, op.peer_id, row->deletion_timestamp, row->deletion_peer_id)) {
      row->is_deleted = deleted;
      row->deletion_timestamp = op.timestamp;
      row->deletion_peer_id = op.peer_id;
    }
    return;
  }
  doc.rows.Set(op.row_id, TableRow{op.row_id, "", 0, "", deleted, op.timestamp, op.peer_id});
}

void SetColumnPosition(TableColumn& column, const TableOpItem& op) {
  if (LwwWins(op.timestamp, op.peer_id, column.position_timestamp, column.position_peer_id)) {
    column.position = op.position;
    column.position_timestamp = op.timestamp;
    column.position_peer_id = op.peer_id;
  }
}

void SetColumnDefinition(TableColumn& column, const TableOpItem& op) {
  if (LwwWins(op.timestamp, op.peer_id, column.definition_timestamp, column.definition_peer_id)) {
    column.definition = op.value;
    column.definition_timestamp = op.timestamp;
    column.definition_peer_id = op.peer_id;
  }
}

TableColumn NewColumn(const TableOpItem& op) {
  TableColumn column;
  column.id = op.column_id;
  return column;
}

void ApplyItem(TableDocument& doc, const TableOpItem& op) {
  switch (op.kind) {
    case TableOpKind::kInsertRow:
    case TableOpKind::kMoveRow:
      return ApplyRowPosition(doc, op);
    case TableOpKind::kRemoveRow:
    case TableOpKind::kRestoreRow:
      return ApplyRowDeletion(doc, op, op.kind == TableOpKind::kRemoveRow);
    case TableOpKind::kInsertColumn:
    case TableOpKind::kMoveColumn:
    case TableOpKind::kUpdateColumnDefinition: {
      if (TableColumn* column = doc.columns.Find(op.column_id)) {
        if (op.kind != TableOpKind::kUpdateColumnDefinition) SetColumnPosition(*column, op);
        if (op.kind != TableOpKind::kMoveColumn) SetColumnDefinition(*column, op);
        return;
      }
      TableColumn column = NewColumn(op);
      if (op.kind != TableOpKind::kUpdateColumnDefinition) {
        column.position = op.position;
        column.position_timestamp = op.timestamp;
        column.position_peer_id = op.peer_id;
      }
      if (op.kind != TableOpKind::kMoveColumn) {
        column.definition = op.value;
        column.definition_timestamp = op.timestamp;
        column.definition_peer_id = op.peer_id;
      }
      doc.columns.Set(op.column_id, std::move(column));
      return;
    }
    case TableOpKind::kRemoveColumn:
    case TableOpKind::kRestoreColumn: {
      const bool deleted = op.kind == TableOpKind::kRemoveColumn;
      if (TableColumn* column = doc.columns.Find(op.column_id)) {
        if (LwwWins(op.timestamp, op.peer_id, column->deletion_timestamp, column->deletion_peer_id)) {
          column->is_deleted = deleted;
          column->deletion_timestamp = op.timestamp;
          column->deletion_peer_id = op.peer_id;
        }
        return;
      }
      TableColumn column = NewColumn(op);
      column.is_deleted = deleted;
      column.deletion_timestamp = op.timestamp;
      column.deletion_peer_id = op.peer_id;
      doc.columns.Set(op.column_id, std::move(column));
      return;
    }
    case TableOpKind::kSetCell:
    case TableOpKind::kClearCell: {
      const std::string_view value = op.kind == TableOpKind::kSetCell ? std::string_view(op.value) : "null";
      auto& row = doc.cells.GetOrInsert(op.row_id, [] { return crdt::SlotMap<TableCell>(); });
      if (TableCell* cell = row.Find(op.column_id)) {
        if (LwwWins(op.timestamp, op.peer_id, cell->timestamp, cell->peer_id)) {
          cell->value.assign(value);
          cell->timestamp = op.timestamp;
          cell->peer_id = op.peer_id;
        }
        return;
      }
      row.Set(op.column_id, TableCell{std::string(value), op.timestamp, op.peer_id});
      return;
    }
  }
}

TableOpItem MakeItem(TableOpKind kind, const TableOpItem& from, int64_t ts) {
  TableOpItem item;
  item.kind = kind;
  item.row_id = from.row_id;
  item.column_id = from.column_id;
  item.timestamp = ts;
  item.peer_id = from.peer_id;
  return item;
}

TableOpItem InvertItem(const TableOpItem& op, const TableDocument& pre, int64_t now) {
  const int64_t ts = std::max(now, crdt::WrappingIncrement(op.timestamp));
  switch (op.kind) {
    case TableOpKind::kInsertRow:
    case TableOpKind::kMoveRow:
      // Only the position register is restored; an inverted insert never lifts or sets a tombstone
      // of a row that existed (table-invert-001).
      if (const TableRow* row = pre.rows.Find(op.row_id)) {
        TableOpItem item = MakeItem(TableOpKind::kMoveRow, op, ts);
        item.position = row->position;
        return item;
      }
      return MakeItem(TableOpKind::kRemoveRow, op, ts);
    case TableOpKind::kRemoveRow:
      return MakeItem(TableOpKind::kRestoreRow, op, ts);
    case TableOpKind::kRestoreRow:
      return MakeItem(TableOpKind::kRemoveRow, op, ts);
    case TableOpKind::kInsertColumn:
    case TableOpKind::kMoveColumn:
      if (const TableColumn* column = pre.columns.Find(op.column_id)) {
        TableOpItem item = MakeItem(TableOpKind::kMoveColumn, op, ts);
        item.position = column->position;
        return item;
      }
      return MakeItem(TableOpKind::kRemoveColumn, op, ts);
    case TableOpKind::kRemoveColumn:
      return MakeItem(TableOpKind::kRestoreColumn, op, ts);
    case TableOpKind::kRestoreColumn:
      return MakeItem(TableOpKind::kRemoveColumn, op, ts);
    case TableOpKind::kUpdateColumnDefinition: {
      TableOpItem item = MakeItem(TableOpKind::kUpdateColumnDefinition, op, ts);
      const TableColumn* column = pre.columns.Find(op.column_id);
      item.value = column != nullptr ? column->definition : "null";
      return item;
    }
    case TableOpKind::kSetCell:
    case TableOpKind::kClearCell: {
      const TableCell* cell = pre.FindCell(op.row_id, op.column_id);
      if (cell != nullptr && cell->value != "null") {
        TableOpItem item = MakeItem(TableOpKind::kSetCell, op, ts);
        item.value = cell->value;
        return item;
      }
      return MakeItem(TableOpKind::kClearCell, op, ts);
    }
  }
  return op;
}

}  // namespace

std::string_view TableOpKindName(TableOpKind kind) noexcept { return kKindNames[static_cast<size_t>(kind)]; }

Status ParseTableOp(std::string_view payload_json, TableOp& out) {
  out.operations.clear();
  RawJsonTree tree;
  if (auto s = tree.Parse(payload_json); !s.ok()) return Status::Error("Invalid TableOpBatch: " + s.message());
  uint32_t array = 0;
  if (auto s = crdt::FindOperations(tree, "TableOpBatch", array); !s.ok()) return s;
  std::vector<TableOpItem> items(tree.node(array).child_count);
  Status status;
  crdt::ForEachElement(tree, array, [&](uint32_t index, uint32_t node) {
    if (status.ok()) status = ParseItem(tree, node, index, items[index]);
  });
  if (status.ok()) out.operations = std::move(items);
  return status;
}

void SerializeTableOp(const TableOp& op, std::string& out) {
  out.append("{\"operations\":[");
  for (size_t i = 0; i < op.operations.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendItem(out, op.operations[i]);
  }
  out.append("]}");
}

Status LoadTableDocument(std::string_view snapshot_json, TableDocument& out) {
  TableDocument loaded;
  if (auto s = LoadInto(snapshot_json, loaded); !s.ok()) return s;
  out = std::move(loaded);
  return Status::Ok();
}

void SerializeTableDocument(const TableDocument& doc, std::string& out) {
  out.append("{\"rows\":{");
  bool first = true;
  doc.rows.ForEach([&](std::string_view key, const TableRow& row) {
    if (!first) out.push_back(',');
    first = false;
    AppendKey(out, key);
    out.append("{\"id\":");
    AppendJsonString(out, row.id);
    out.append(",\"position\":");
    AppendJsonString(out, row.position);
    out.append(",\"positionTimestamp\":");
    AppendJsonInt(out, row.position_timestamp);
    out.append(",\"positionPeerId\":");
    AppendJsonString(out, row.position_peer_id);
    out.append(row.is_deleted ? ",\"isDeleted\":true,\"deletionTimestamp\":"
                              : ",\"isDeleted\":false,\"deletionTimestamp\":");
    AppendJsonInt(out, row.deletion_timestamp);
    out.append(",\"deletionPeerId\":");
    AppendJsonString(out, row.deletion_peer_id);
    out.push_back('}');
  });
  out.append("},\"columns\":{");
  first = true;
  doc.columns.ForEach([&](std::string_view key, const TableColumn& column) {
    if (!first) out.push_back(',');
    first = false;
    AppendKey(out, key);
    out.append("{\"id\":");
    AppendJsonString(out, column.id);
    out.append(",\"position\":");
    AppendJsonString(out, column.position);
    out.append(",\"positionTimestamp\":");
    AppendJsonInt(out, column.position_timestamp);
    out.append(",\"positionPeerId\":");
    AppendJsonString(out, column.position_peer_id);
    out.append(",\"definition\":").append(column.definition);
    out.append(",\"definitionTimestamp\":");
    AppendJsonInt(out, column.definition_timestamp);
    out.append(",\"definitionPeerId\":");
    AppendJsonString(out, column.definition_peer_id);
    out.append(column.is_deleted ? ",\"isDeleted\":true,\"deletionTimestamp\":"
                                 : ",\"isDeleted\":false,\"deletionTimestamp\":");
    AppendJsonInt(out, column.deletion_timestamp);
    out.append(",\"deletionPeerId\":");
    AppendJsonString(out, column.deletion_peer_id);
    out.push_back('}');
  });
  out.append("},\"cells\":{");
  first = true;
  doc.cells.ForEach([&](std::string_view row_id, const crdt::SlotMap<TableCell>& row) {
    if (!first) out.push_back(',');
    first = false;
    AppendKey(out, row_id);
    out.push_back('{');
    bool first_cell = true;
    row.ForEach([&](std::string_view column_id, const TableCell& cell) {
      if (!first_cell) out.push_back(',');
      first_cell = false;
      AppendKey(out, column_id);
      out.append("{\"value\":").append(cell.value).append(",\"timestamp\":");
      AppendJsonInt(out, cell.timestamp);
      out.append(",\"peerId\":");
      AppendJsonString(out, cell.peer_id);
      out.push_back('}');
    });
    out.push_back('}');
  });
  out.append("}}");
}

void ApplyTableOp(TableDocument& document, const TableOp& op) {
  for (const auto& item : op.operations) ApplyItem(document, item);
}

TableOp InvertTableOp(const TableOp& op, const TableDocument& pre_state, int64_t now) {
  TableOp inverse;
  inverse.operations.reserve(op.operations.size());
  for (auto it = op.operations.rbegin(); it != op.operations.rend(); ++it) {
    inverse.operations.push_back(InvertItem(*it, pre_state, now));
  }
  return inverse;
}

TableOp RestampTableOp(const TableOp& op, const TableDocument& state, int64_t now) {
  int64_t m = 0;
  bool any = false;
  auto consider = [&](int64_t ts) {
    m = any ? std::max(m, ts) : ts;
    any = true;
  };
  state.rows.ForEach([&](std::string_view, const TableRow& row) {
    consider(row.position_timestamp);
    consider(row.deletion_timestamp);
  });
  state.columns.ForEach([&](std::string_view, const TableColumn& column) {
    consider(column.position_timestamp);
    consider(column.definition_timestamp);
    consider(column.deletion_timestamp);
  });
  state.cells.ForEach([&](std::string_view, const crdt::SlotMap<TableCell>& row) {
    row.ForEach([&](std::string_view, const TableCell& cell) { consider(cell.timestamp); });
  });
  const int64_t ts = crdt::WrappingIncrement(any ? std::max(m, now) : now);
  TableOp restamped = op;
  for (auto& item : restamped.operations) item.timestamp = ts;
  return restamped;
}

// ---- Engine interface ----

std::unique_ptr<DocumentState> TableEngine::CreateEmpty() const { return std::make_unique<TableDocument>(); }

Status TableEngine::LoadState(std::string_view snapshot_json, std::unique_ptr<DocumentState>& out) const {
  try {
    auto doc = std::make_unique<TableDocument>();
    if (auto s = LoadTableDocument(snapshot_json, *doc); !s.ok()) return s;
    out = std::move(doc);
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status::Error("Not enough memory to load the table snapshot.");
  }
}

void TableEngine::SerializeState(const DocumentState& state, std::string& out) const {
  if (const auto* doc = AsTableDocument(state)) SerializeTableDocument(*doc, out);
}

Status TableEngine::ParseOp(std::string_view payload_json, std::unique_ptr<Op>& out) const {
  try {
    auto op = std::make_unique<TableOp>();
    if (auto s = ParseTableOp(payload_json, *op); !s.ok()) return s;
    out = std::move(op);
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status::Error("Invalid TableOpBatch: not enough memory to read the op.");
  }
}

void TableEngine::SerializeOp(const Op& op, std::string& out) const {
  if (const auto* table_op = AsTableOp(op)) SerializeTableOp(*table_op, out);
}

std::unique_ptr<Op> TableEngine::Transform(const Op& incoming, const Op& /*existing*/, Priority /*priority*/) const {
  const auto* op = AsTableOp(incoming);
  return op == nullptr ? nullptr : std::make_unique<TableOp>(*op);
}

bool TableEngine::IsNoOp(const Op& op) const {
  const auto* table_op = AsTableOp(op);
  return table_op == nullptr || table_op->operations.empty();
}

Status TableEngine::Apply(DocumentState& state, const Op& op) const {
  auto* doc = dynamic_cast<TableDocument*>(&state);
  const auto* table_op = AsTableOp(op);
  if (doc == nullptr) return Status::Error("The table engine cannot apply an op to this document.");
  if (table_op == nullptr) return Status::Error("The table engine can only apply a TableOpBatch.");
  // Every op was validated by ParseOp and applying cannot fail, so the state is never left half
  // updated (short of running out of memory).
  ApplyTableOp(*doc, *table_op);
  return Status::Ok();
}

std::unique_ptr<Op> TableEngine::Compose(const Op& /*first*/, const Op& /*second*/) const { return nullptr; }

std::unique_ptr<Op> TableEngine::Invert(const Op& op, const DocumentState& pre_state) const {
  const auto* table_op = AsTableOp(op);
  const auto* doc = AsTableDocument(pre_state);
  if (table_op == nullptr || doc == nullptr) return nullptr;
  return std::make_unique<TableOp>(InvertTableOp(*table_op, *doc, crdt::WallClockMillis()));
}

std::unique_ptr<Op> TableEngine::RestampToWin(const Op& op, const DocumentState& state) const {
  const auto* table_op = AsTableOp(op);
  const auto* doc = AsTableDocument(state);
  if (table_op == nullptr || doc == nullptr) return nullptr;
  return std::make_unique<TableOp>(RestampTableOp(*table_op, *doc, crdt::WallClockMillis()));
}

std::shared_ptr<const Engine> MakeTableEngine() { return std::make_shared<TableEngine>(); }

const TableDocument* AsTableDocument(const DocumentState& state) noexcept {
  return dynamic_cast<const TableDocument*>(&state);
}
const TableOp* AsTableOp(const Op& op) noexcept { return dynamic_cast<const TableOp*>(&op); }

}  // namespace opstream::engines
