// The JSON hub protocol (wire-protocol §3.2–§3.4): every record is one JSON object followed by
// 0x1E. Property names of hub messages are matched exactly, in any order (the JS client writes
// `arguments` before `target`); unknown properties and `headers` are ignored.
#include <charconv>

#include "common/base64.hpp"
#include "common/clock.hpp"
#include "engines/json/json_writer.hpp"
#include "engines/json/raw_json.hpp"
#include "transports/signalr/hub_protocol.hpp"

namespace opstream::transports::signalr {
namespace json = engines::json;

namespace {

// The name of an object member, unescaped only when it contains an escape (the common case is a
// plain ASCII name compared in place).
std::string_view MemberName(const json::RawJsonNode& member, std::string& scratch) {
  const auto raw = member.raw_key.substr(1, member.raw_key.size() - 2);
  if (raw.find('\\') == std::string_view::npos) return raw;
  scratch = json::UnescapeString(member.raw_key);
  return scratch;
}

bool ParseInteger(std::string_view token, int64_t& out) {
  const auto* end = token.data() + token.size();
  auto [ptr, ec] = std::from_chars(token.data(), end, out);
  return ec == std::errc() && ptr == end;
}

HubValue ToHubValue(const json::RawJsonNode& node) {
  HubValue value;
  value.json = std::string(node.raw);
  switch (node.kind) {
    case json::JsonKind::kNull:
      value.kind = HubValue::Kind::kNull;
      break;
    case json::JsonKind::kFalse:
    case json::JsonKind::kTrue:
      value.kind = HubValue::Kind::kBool;
      value.boolean = node.kind == json::JsonKind::kTrue;
      break;
    case json::JsonKind::kNumber:
      value.kind = ParseInteger(node.raw, value.integer) ? HubValue::Kind::kInteger : HubValue::Kind::kNumber;
      break;
    case json::JsonKind::kString:
      value.kind = HubValue::Kind::kString;
      json::AppendUnescapedString(node.raw, value.text);
      break;
    case json::JsonKind::kArray:
      value.kind = HubValue::Kind::kArray;
      break;
    case json::JsonKind::kObject:
      value.kind = HubValue::Kind::kObject;
      break;
  }
  return value;
}

void AppendRecordEnd(std::string& out) { out.push_back(kRecordSeparator); }

void AppendAwarenessState(const session::AwarenessState& state, std::string& out) {
  out += "{\"peerId\":";
  json::AppendJsonString(out, state.peer_id);
  out += ",\"data\":";
  out += state.data_json;
  out += ",\"lastUpdated\":\"";
  out += FormatIsoTimestamp(state.last_updated);
  out += "\"}";
}

void BeginCompletion(std::string_view invocation_id, std::string& out) {
  out += "{\"type\":3,\"invocationId\":";
  json::AppendJsonString(out, invocation_id);
}

class JsonProtocol final : public HubProtocol {
 public:
  std::string_view name() const override { return "json"; }
  int64_t version() const override { return 1; }
  Framing framing() const override { return Framing::kSeparator; }
  bool is_text() const override { return true; }
  session::TransportKind cache_slot() const override { return session::TransportKind::kSignalRJson; }

  Status Parse(std::string_view record, HubMessage& out) const override {
    json::RawJsonTree tree;
    if (auto parsed = tree.Parse(record); !parsed.ok()) return parsed;
    if (tree.root().kind != json::JsonKind::kObject) return Status::Error("Message is not a JSON object.");
    bool has_type = false;
    std::string scratch;
    uint32_t child = 1;
    for (uint32_t i = 0; i < tree.root().child_count; ++i, child = tree.node(child).subtree_end) {
      const auto& member = tree.node(child);
      const auto name = MemberName(member, scratch);
      if (name == "type") {
        if (member.kind != json::JsonKind::kNumber || !ParseInteger(member.raw, out.type)) {
          return Status::Error("Expected 'type' to be of type Number.");
        }
        has_type = true;
      } else if (name == "invocationId") {
        if (member.kind == json::JsonKind::kNull) continue;
        if (member.kind != json::JsonKind::kString)
          return Status::Error("Expected 'invocationId' to be of type String.");
        out.invocation_id = json::UnescapeString(member.raw);
      } else if (name == "target") {
        if (member.kind != json::JsonKind::kString) return Status::Error("Expected 'target' to be of type String.");
        out.target = json::UnescapeString(member.raw);
      } else if (name == "arguments") {
        if (member.kind != json::JsonKind::kArray) return Status::Error("Expected 'arguments' to be of type Array.");
        out.arguments.clear();
        out.arguments.reserve(member.child_count);
        uint32_t arg = child + 1;
        for (uint32_t k = 0; k < member.child_count; ++k, arg = tree.node(arg).subtree_end) {
          out.arguments.push_back(ToHubValue(tree.node(arg)));
        }
      } else if (name == "error") {
        if (member.kind == json::JsonKind::kNull) continue;
        if (member.kind != json::JsonKind::kString) return Status::Error("Expected 'error' to be of type String.");
        out.error = json::UnescapeString(member.raw);
      } else if (name == "allowReconnect") {
        out.allow_reconnect = member.kind == json::JsonKind::kTrue;
      }
    }
    if (!has_type) return Status::Error("Missing required property 'type'.");
    const auto type = static_cast<HubMessageType>(out.type);
    if ((type == HubMessageType::kInvocation || type == HubMessageType::kStreamInvocation) && out.target.empty()) {
      return Status::Error("Missing required property 'target'.");
    }
    if ((type == HubMessageType::kCancelInvocation || type == HubMessageType::kStreamInvocation) &&
        !out.invocation_id) {
      return Status::Error("Missing required property 'invocationId'.");
    }
    return Status::Ok();
  }

  void WritePing(std::string& out) const override {
    out += "{\"type\":6}";
    AppendRecordEnd(out);
  }

  void WriteClose(const std::optional<std::string>& error, bool allow_reconnect, std::string& out) const override {
    out += "{\"type\":7";
    if (error) {
      out += ",\"error\":";
      json::AppendJsonString(out, *error);
    }
    if (allow_reconnect) out += ",\"allowReconnect\":true";
    out += '}';
    AppendRecordEnd(out);
  }

  void WriteCompletionError(std::string_view invocation_id, std::string_view error, std::string& out) const override {
    BeginCompletion(invocation_id, out);
    out += ",\"error\":";
    json::AppendJsonString(out, error);
    out += '}';
    AppendRecordEnd(out);
  }

  void WriteCompletionNull(std::string_view invocation_id, std::string& out) const override {
    WriteCompletionJson(invocation_id, "null", out);
  }

  void WriteCompletionJson(std::string_view invocation_id, std::string_view result_json,
                           std::string& out) const override {
    BeginCompletion(invocation_id, out);
    out += ",\"result\":";
    out += result_json;
    out += '}';
    AppendRecordEnd(out);
  }

  void WriteJoinResult(std::string_view invocation_id, const session::JoinResponse& response,
                       std::string& out) const override {
    out.reserve(out.size() + 128 + response.snapshot.size() * 4 / 3);
    BeginCompletion(invocation_id, out);
    out += ",\"result\":{\"revision\":";
    json::AppendJsonInt(out, response.revision);
    out += ",\"snapshot\":\"";
    Base64Encode(response.snapshot, out);
    out += "\",\"pendingOps\":[],\"currentAwareness\":[";
    for (size_t i = 0; i < response.awareness.size(); ++i) {
      if (i > 0) out += ',';
      AppendAwarenessState(response.awareness[i], out);
    }
    out += "]}}";
    AppendRecordEnd(out);
  }

  void WriteOpResult(std::string_view invocation_id, const session::OpResponse& response,
                     std::string& out) const override {
    BeginCompletion(invocation_id, out);
    out += response.success ? ",\"result\":{\"success\":true,\"newRevision\":"
                            : ",\"result\":{\"success\":false,\"newRevision\":";
    json::AppendJsonInt(out, response.new_revision);
    out += ",\"errorMessage\":";
    if (response.error) {
      json::AppendJsonString(out, *response.error);
    } else {
      out += "null";
    }
    out += "}}";
    AppendRecordEnd(out);
  }

  void WriteOpEvent(const session::OpEvent& event, std::string& out) const override {
    out.reserve(out.size() + 64 + event.payload.size() * 4 / 3);
    out += "{\"type\":1,\"target\":\"ReceiveOp\",\"arguments\":[\"";
    Base64Encode(event.payload, out);
    out += "\",";
    json::AppendJsonInt(out, event.revision);
    out += "]}";
    AppendRecordEnd(out);
  }

  void WriteAwarenessEvent(const session::AwarenessEvent& event, std::string& out) const override {
    out += "{\"type\":1,\"target\":\"ReceiveAwarenessUpdate\",\"arguments\":[";
    AppendAwarenessState(event.state, out);
    out += "]}";
    AppendRecordEnd(out);
  }

  void WritePeerLeftEvent(const session::PeerLeftEvent& event, std::string& out) const override {
    out += "{\"type\":1,\"target\":\"PeerDisconnected\",\"arguments\":[";
    json::AppendJsonString(out, event.peer_id);
    out += "]}";
    AppendRecordEnd(out);
  }
};

}  // namespace

Status ParseHandshake(std::string_view record, HandshakeRequest& out) {
  json::RawJsonTree tree;
  if (auto parsed = tree.Parse(record); !parsed.ok()) return parsed;
  if (tree.root().kind != json::JsonKind::kObject) return Status::Error("Handshake request is not a JSON object.");
  const auto protocol = tree.FindMember(0, "protocol");
  if (protocol < 0) return Status::Error("Missing required property 'protocol'.");
  const auto& protocol_node = tree.node(static_cast<uint32_t>(protocol));
  if (protocol_node.kind != json::JsonKind::kString) return Status::Error("Expected 'protocol' to be of type String.");
  const auto version = tree.FindMember(0, "version");
  if (version < 0) return Status::Error("Missing required property 'version'.");
  const auto& version_node = tree.node(static_cast<uint32_t>(version));
  if (version_node.kind != json::JsonKind::kNumber || !ParseInteger(version_node.raw, out.version)) {
    return Status::Error("Expected 'version' to be of type Number.");
  }
  out.protocol = json::UnescapeString(protocol_node.raw);
  return Status::Ok();
}

void WriteHandshakeResponse(const std::optional<std::string>& error, std::string& out) {
  if (error) {
    out += "{\"error\":";
    json::AppendJsonString(out, *error);
    out += '}';
  } else {
    out += "{}";
  }
  AppendRecordEnd(out);
}

const HubProtocol& JsonHubProtocol() {
  static const JsonProtocol protocol;
  return protocol;
}

const HubProtocol* FindHubProtocol(std::string_view name) {
  if (name == "json") return &JsonHubProtocol();
  if (name == "messagepack") return &MessagePackHubProtocol();
  return nullptr;
}

}  // namespace opstream::transports::signalr
