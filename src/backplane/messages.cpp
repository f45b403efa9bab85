#include "backplane/messages.hpp"

#include <fmt/format.h>

#include <charconv>

#include "common/base64.hpp"
#include "engines/json/json_writer.hpp"
#include "engines/json/raw_json.hpp"

namespace opstream::backplane {
namespace {

namespace json = engines::json;

// Reads members of one JSON object. Pascal envelopes are matched case-sensitively (the reference
// deserialises them so), OS-JSON payloads case-insensitively.
class ObjectReader {
 public:
  ObjectReader(std::string_view text, bool ignore_case) : ignore_case_(ignore_case) {
    status_ = tree_.Parse(text);
    if (status_.ok() && tree_.root().kind != json::JsonKind::kObject) status_ = Status::Error("not a JSON object");
  }
  const Status& status() const { return status_; }

  // Nullptr when absent.
  const json::RawJsonNode* Find(std::string_view name) const {
    if (!status_.ok()) return nullptr;
    const int64_t index = ignore_case_ ? tree_.FindMemberIgnoreCase(0, name) : tree_.FindMember(0, name);
    return index < 0 ? nullptr : &tree_.node(static_cast<uint32_t>(index));
  }

  // A string member; `nullable` accepts null (and absence) as empty.
  bool String(std::string_view name, std::string& out, bool nullable = false) {
    const auto* node = Find(name);
    if (node == nullptr || node->kind == json::JsonKind::kNull) {
      if (nullable) return out.clear(), true;
      return Fail(name, "is missing");
    }
    if (node->kind != json::JsonKind::kString) return Fail(name, "is not a string");
    out = json::UnescapeString(node->raw);
    return true;
  }
  bool OptionalString(std::string_view name, std::optional<std::string>& out) {
    const auto* node = Find(name);
    if (node == nullptr || node->kind == json::JsonKind::kNull) return out.reset(), true;
    if (node->kind != json::JsonKind::kString) return Fail(name, "is not a string");
    out = json::UnescapeString(node->raw);
    return true;
  }
  bool Bytes(std::string_view name, std::string& out, bool nullable = false) {
    std::string text;
    if (!String(name, text, nullable)) return false;
    out.clear();
    if (!Base64Decode(text, out)) return Fail(name, "is not base64");
    return true;
  }
  bool Int64(std::string_view name, int64_t& out) {
    const auto* node = Find(name);
    if (node == nullptr) return Fail(name, "is missing");
    if (node->kind != json::JsonKind::kNumber) return Fail(name, "is not a number");
    const auto* end = node->raw.data() + node->raw.size();
    auto [ptr, ec] = std::from_chars(node->raw.data(), end, out);
    if (ec != std::errc() || ptr != end) return Fail(name, "is not an integer");
    return true;
  }
  bool Bool(std::string_view name, bool& out) {
    const auto* node = Find(name);
    if (node == nullptr) return Fail(name, "is missing");
    if (node->kind != json::JsonKind::kTrue && node->kind != json::JsonKind::kFalse) {
      return Fail(name, "is not a boolean");
    }
    out = node->kind == json::JsonKind::kTrue;
    return true;
  }
  // Compact text of any value; empty for null or absence.
  bool Raw(std::string_view name, std::string& out) {
    out.clear();
    const auto* node = Find(name);
    if (node == nullptr || node->kind == json::JsonKind::kNull) return true;
    json::AppendMinifiedVerbatim(node->raw, out);
    return true;
  }
  const json::RawJsonTree& tree() const { return tree_; }
  Status Finish() const { return status_; }

 private:
  bool Fail(std::string_view name, std::string_view what) {
    if (status_.ok()) status_ = Status::Error(fmt::format("'{}' {}", name, what));
    return false;
  }

  json::RawJsonTree tree_;
  Status status_;
  bool ignore_case_;
};

void Key(std::string& out, std::string_view name) {
  out.push_back(',');
  out.push_back('"');
  out.append(name);
  out.append("\":");
}
void StringValue(std::string& out, std::string_view value) { json::AppendJsonString(out, value); }
void NullableString(std::string& out, const std::optional<std::string>& value) {
  if (value) {
    json::AppendJsonString(out, *value);
  } else {
    out.append("null");
  }
}
void BytesValue(std::string& out, std::string_view bytes) {
  out.push_back('"');
  Base64Encode(bytes, out);
  out.push_back('"');
}
void RawValue(std::string& out, std::string_view raw) { out.append(raw.empty() ? std::string_view("null") : raw); }

void AppendAwareness(std::string& out, const WireAwareness& value) {
  out.append("{\"peerId\":");
  StringValue(out, value.peer_id);
  Key(out, "data");
  RawValue(out, value.data_json);
  Key(out, "lastUpdated");
  StringValue(out, value.last_updated);
  out.push_back('}');
}

Status ReadAwarenessNode(const json::RawJsonTree& tree, uint32_t index, WireAwareness& out) {
  if (tree.node(index).kind != json::JsonKind::kObject) return Status::Error("awareness state is not an object");
  const int64_t peer = tree.FindMemberIgnoreCase(index, "peerId");
  if (peer < 0 || tree.node(static_cast<uint32_t>(peer)).kind != json::JsonKind::kString) {
    return Status::Error("'peerId' is missing");
  }
  out.peer_id = json::UnescapeString(tree.node(static_cast<uint32_t>(peer)).raw);
  out.data_json.clear();
  if (const int64_t data = tree.FindMemberIgnoreCase(index, "data");
      data >= 0 && tree.node(static_cast<uint32_t>(data)).kind != json::JsonKind::kNull) {
    json::AppendMinifiedVerbatim(tree.node(static_cast<uint32_t>(data)).raw, out.data_json);
  }
  out.last_updated.clear();
  if (const int64_t at = tree.FindMemberIgnoreCase(index, "lastUpdated");
      at >= 0 && tree.node(static_cast<uint32_t>(at)).kind == json::JsonKind::kString) {
    out.last_updated = json::UnescapeString(tree.node(static_cast<uint32_t>(at)).raw);
  }
  return Status::Ok();
}

}  // namespace

// ---- envelopes ----

std::string EncodeMessage(const Message& message) {
  std::string out;
  out.reserve(96 + message.payload.size() * 4 / 3);
  out.append("{\"SenderNodeId\":");
  StringValue(out, message.sender_node_id);
  Key(out, "Type");
  StringValue(out, message.type);
  Key(out, "Payload");
  BytesValue(out, message.payload);
  Key(out, "SenderPeerId");
  NullableString(out, message.sender_peer_id.empty() ? std::nullopt : std::optional(message.sender_peer_id));
  out.push_back('}');
  return out;
}

Status DecodeMessage(std::string_view text, Message& out) {
  ObjectReader reader(text, false);
  reader.String("SenderNodeId", out.sender_node_id) && reader.String("Type", out.type) &&
      reader.Bytes("Payload", out.payload) && reader.String("SenderPeerId", out.sender_peer_id, true);
  return reader.Finish();
}

std::string EncodeRequest(const Request& request) {
  std::string out;
  out.reserve(128 + request.payload.size() * 4 / 3);
  out.append("{\"RequestId\":");
  StringValue(out, request.request_id);
  Key(out, "SenderNodeId");
  StringValue(out, request.sender_node_id);
  Key(out, "Type");
  StringValue(out, request.type);
  Key(out, "Payload");
  BytesValue(out, request.payload);
  out.push_back('}');
  return out;
}

Status DecodeRequest(std::string_view text, Request& out) {
  ObjectReader reader(text, false);
  reader.String("RequestId", out.request_id) && reader.String("SenderNodeId", out.sender_node_id) &&
      reader.String("Type", out.type) && reader.Bytes("Payload", out.payload);
  return reader.Finish();
}

std::string EncodeResponse(const Response& response) {
  std::string out;
  out.reserve(96 + response.payload.size() * 4 / 3);
  out.append("{\"RequestId\":");
  StringValue(out, response.request_id);
  Key(out, "Success");
  out.append(response.success ? "true" : "false");
  Key(out, "Payload");
  BytesValue(out, response.payload);
  Key(out, "ErrorMessage");
  NullableString(out, response.error_message);
  out.push_back('}');
  return out;
}

Status DecodeResponse(std::string_view text, Response& out) {
  ObjectReader reader(text, false);
  reader.String("RequestId", out.request_id) && reader.Bool("Success", out.success) &&
      reader.Bytes("Payload", out.payload, true) && reader.OptionalString("ErrorMessage", out.error_message);
  return reader.Finish();
}

std::string DocumentChannel(std::string_view topic) { return fmt::format("OpStream:Docs:{}", topic); }
std::string RequestChannel(std::string_view node_id) { return fmt::format("OpStream:Requests:{}", node_id); }
std::string ResponseChannel(std::string_view node_id) { return fmt::format("OpStream:Responses:{}", node_id); }
std::string OwnerKey(std::string_view document_id) { return fmt::format("OpStream:Owner:{}", document_id); }

// ---- payloads ----

std::string EncodeOpApplied(const OpApplied& value) {
  std::string out;
  out.reserve(64 + value.operation.size() * 4 / 3);
  out.append("{\"operation\":");
  BytesValue(out, value.operation);
  Key(out, "newRevision");
  json::AppendJsonInt(out, value.new_revision);
  out.append(",\"anchorUpdates\":null}");
  return out;
}

Status DecodeOpApplied(std::string_view text, OpApplied& out) {
  ObjectReader reader(text, true);
  reader.Bytes("operation", out.operation) && reader.Int64("newRevision", out.new_revision);
  return reader.Finish();
}

std::string EncodeAwareness(const WireAwareness& value) {
  std::string out;
  AppendAwareness(out, value);
  return out;
}

Status DecodeAwareness(std::string_view text, WireAwareness& out) {
  json::RawJsonTree tree;
  if (auto parsed = tree.Parse(text); !parsed.ok()) return parsed;
  return ReadAwarenessNode(tree, 0, out);
}

std::string EncodeJoinRequest(const JoinDocumentRequest& value) {
  std::string out = "{\"documentId\":";
  StringValue(out, value.document_id);
  Key(out, "documentType");
  StringValue(out, value.document_type);
  Key(out, "peerId");
  StringValue(out, value.peer_id);
  Key(out, "protocolVersion");
  json::AppendJsonInt(out, value.protocol_version);
  out.push_back('}');
  return out;
}

Status DecodeJoinRequest(std::string_view text, JoinDocumentRequest& out) {
  ObjectReader reader(text, true);
  reader.String("documentId", out.document_id) && reader.String("documentType", out.document_type) &&
      reader.String("peerId", out.peer_id) && reader.Int64("protocolVersion", out.protocol_version);
  return reader.Finish();
}

std::string EncodeJoinResponse(const JoinDocumentResponse& value) {
  std::string out = "{\"revision\":";
  out.reserve(64 + value.snapshot.size() * 4 / 3);
  json::AppendJsonInt(out, value.revision);
  Key(out, "snapshot");
  BytesValue(out, value.snapshot);
  out.append(",\"pendingOps\":[],\"currentAwareness\":[");
  for (size_t i = 0; i < value.awareness.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendAwareness(out, value.awareness[i]);
  }
  out.append("]}");
  return out;
}

Status DecodeJoinResponse(std::string_view text, JoinDocumentResponse& out) {
  ObjectReader reader(text, true);
  if (!(reader.Int64("revision", out.revision) && reader.Bytes("snapshot", out.snapshot))) return reader.Finish();
  out.awareness.clear();
  if (const auto* list = reader.Find("currentAwareness"); list != nullptr && list->kind == json::JsonKind::kArray) {
    const auto& tree = reader.tree();
    const auto first = static_cast<uint32_t>(list - &tree.node(0)) + 1;
    for (uint32_t child = first, n = 0; n < list->child_count; ++n, child = tree.node(child).subtree_end) {
      WireAwareness state;
      if (auto read = ReadAwarenessNode(tree, child, state); !read.ok()) return read;
      out.awareness.push_back(std::move(state));
    }
  }
  return Status::Ok();
}

std::string EncodeApplyOpRequest(const ApplyOpRequest& value) {
  std::string out = "{\"documentId\":";
  out.reserve(96 + value.payload.size() * 4 / 3);
  StringValue(out, value.document_id);
  Key(out, "peerId");
  StringValue(out, value.peer_id);
  Key(out, "payload");
  BytesValue(out, value.payload);
  Key(out, "baseRevision");
  json::AppendJsonInt(out, value.base_revision);
  out.push_back('}');
  return out;
}

Status DecodeApplyOpRequest(std::string_view text, ApplyOpRequest& out) {
  ObjectReader reader(text, true);
  reader.String("documentId", out.document_id) && reader.String("peerId", out.peer_id) &&
      reader.Bytes("payload", out.payload) && reader.Int64("baseRevision", out.base_revision);
  return reader.Finish();
}

std::string EncodeApplyOpResponse(const ApplyOpResponse& value) {
  std::string out = "{\"success\":";
  out.append(value.success ? "true" : "false");
  Key(out, "newRevision");
  json::AppendJsonInt(out, value.new_revision);
  Key(out, "errorMessage");
  NullableString(out, value.error_message);
  out.push_back('}');
  return out;
}

Status DecodeApplyOpResponse(std::string_view text, ApplyOpResponse& out) {
  ObjectReader reader(text, true);
  reader.Bool("success", out.success) && reader.Int64("newRevision", out.new_revision) &&
      reader.OptionalString("errorMessage", out.error_message);
  return reader.Finish();
}

std::string EncodeAwarenessRequest(const UpdateAwarenessRequest& value) {
  std::string out = "{\"documentId\":";
  StringValue(out, value.document_id);
  Key(out, "peerId");
  StringValue(out, value.peer_id);
  Key(out, "data");
  RawValue(out, value.data_json);
  out.push_back('}');
  return out;
}

Status DecodeAwarenessRequest(std::string_view text, UpdateAwarenessRequest& out) {
  ObjectReader reader(text, true);
  reader.String("documentId", out.document_id) && reader.String("peerId", out.peer_id) &&
      reader.Raw("data", out.data_json);
  return reader.Finish();
}

Status DecodeJsonString(std::string_view text, std::string& out) {
  json::RawJsonTree tree;
  if (auto parsed = tree.Parse(text); !parsed.ok()) return parsed;
  if (tree.root().kind != json::JsonKind::kString) return Status::Error("not a JSON string");
  out = json::UnescapeString(tree.root().raw);
  return Status::Ok();
}

std::string EncodeJsonString(std::string_view value) {
  std::string out;
  StringValue(out, value);
  return out;
}

std::string EncodeManagementRequest(const ManagementRequestPayload& value) {
  std::string out = "{\"globalDocumentId\":";
  StringValue(out, value.global_document_id);
  Key(out, "args");
  if (value.up_to_revision) {
    out.append("{\"upToRevision\":");
    StringValue(out, *value.up_to_revision);
    out.push_back('}');
  } else {
    out.append("null");
  }
  out.push_back('}');
  return out;
}

Status DecodeManagementRequest(std::string_view text, ManagementRequestPayload& out) {
  ObjectReader reader(text, true);
  if (!reader.String("globalDocumentId", out.global_document_id)) return reader.Finish();
  out.up_to_revision.reset();
  const auto* args = reader.Find("args");
  if (args == nullptr || args->kind == json::JsonKind::kNull) return Status::Ok();
  if (args->kind != json::JsonKind::kObject) return Status::Error("'args' is not an object");
  const auto& tree = reader.tree();
  const auto index = static_cast<uint32_t>(args - &tree.node(0));
  if (const int64_t found = tree.FindMemberIgnoreCase(index, "upToRevision"); found >= 0) {
    const auto& node = tree.node(static_cast<uint32_t>(found));
    if (node.kind == json::JsonKind::kString) out.up_to_revision = json::UnescapeString(node.raw);
  }
  return Status::Ok();
}

}  // namespace opstream::backplane
