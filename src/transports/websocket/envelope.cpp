#include "transports/websocket/envelope.hpp"

#include <fmt/format.h>

#include <array>
#include <boost/json/parser.hpp>
#include <boost/json/value.hpp>
#include <limits>

#include "common/base64.hpp"
#include "common/text.hpp"

namespace opstream::transports::websocket {
namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, 17> kTypeNames = {"JoinRequest",
                                                         "JoinResponse",
                                                         "OpRequest",
                                                         "OpResponse",
                                                         "AwarenessRequest",
                                                         "ReceiveOpEvent",
                                                         "ReceiveAwarenessEvent",
                                                         "PeerDisconnectedEvent",
                                                         "ErrorResponse",
                                                         "CreateComment",
                                                         "EditComment",
                                                         "ResolveComment",
                                                         "DeleteComment",
                                                         "ListOpenComments",
                                                         "ReceiveCommentCreated",
                                                         "ReceiveCommentUpdated",
                                                         "ReceiveCommentDeleted"};

// Case-insensitive property lookup; the last duplicate wins, as System.Text.Json binds.
const json::value* Find(const json::object& object, std::string_view name) {
  const json::value* found = nullptr;
  for (const auto& member : object) {
    if (AsciiIEquals(member.key(), name)) found = &member.value();
  }
  return found;
}

struct Decoder {
  InboundMessage& message;

  bool Fail(std::string reason) {
    message.kind = InboundMessage::Kind::kInvalid;
    message.error = "InvalidMessage: " + reason;
    return false;
  }

  bool ReadString(const json::object& object, std::string_view name, std::string& out) {
    const auto* value = Find(object, name);
    if (value == nullptr || value->is_null()) return true;
    if (!value->is_string()) return Fail(fmt::format("'{}' must be a string.", name));
    out = value->get_string();
    return true;
  }

  bool ReadInteger(const json::object& object, std::string_view name, int64_t min, int64_t max, int64_t& out) {
    const auto* value = Find(object, name);
    if (value == nullptr || value->is_null()) return true;
    if (value->is_int64() && value->get_int64() >= min && value->get_int64() <= max) {
      out = value->get_int64();
      return true;
    }
    if (value->is_uint64() && value->get_uint64() <= static_cast<uint64_t>(max)) {
      out = static_cast<int64_t>(value->get_uint64());
      return true;
    }
    return Fail(fmt::format("'{}' must be an integer.", name));
  }

  // Null or absent payload objects are ignored, like the reference (wire-protocol §4.5).
  const json::object* Payload(const json::object& envelope, std::string_view name) {
    const auto* value = Find(envelope, name);
    if (value == nullptr || value->is_null()) {
      message.kind = InboundMessage::Kind::kIgnored;
      return nullptr;
    }
    if (!value->is_object()) {
      Fail(fmt::format("'{}' must be an object.", name));
      return nullptr;
    }
    return &value->get_object();
  }
};

void AppendString(std::string_view s, std::string& out) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04X}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void AppendCorrelation(const session::CorrelationId& correlation, std::string& out) {
  out += "{\"correlationId\":";
  if (correlation) {
    AppendString(*correlation, out);
  } else {
    out += "null";
  }
}

void AppendAwarenessState(const session::AwarenessState& state, std::string& out) {
  out += "{\"peerId\":";
  AppendString(state.peer_id, out);
  out += ",\"data\":";
  out += state.data_json;
  out += ",\"lastUpdated\":\"";
  out += FormatIsoTimestamp(state.last_updated);
  out += "\"}";
}

}  // namespace

InboundMessage DecodeInbound(std::string_view text) {
  InboundMessage message;
  Decoder decoder{message};
  json::parse_options options;
  options.max_depth = 64;
  json::parser parser({}, options);
  boost::system::error_code ec;
  parser.write(text.data(), text.size(), ec);
  if (ec) {
    decoder.Fail(fmt::format("Malformed JSON: {}.", ec.message()));
    return message;
  }
  const json::value root = parser.release();
  if (root.is_null()) return message;  // ignored (wire-protocol §4.5)
  if (!root.is_object()) {
    decoder.Fail("Message must be a JSON object.");
    return message;
  }
  const auto& envelope = root.get_object();

  if (const auto* correlation = Find(envelope, "correlationId"); correlation && !correlation->is_null()) {
    if (!correlation->is_string()) {
      decoder.Fail("'correlationId' must be a string or null.");
      return message;
    }
    message.correlation = std::string(correlation->get_string());
  }

  int64_t type = 0;  // a missing messageType counts as JoinRequest
  if (const auto* value = Find(envelope, "messageType"); value && !value->is_null()) {
    if (value->is_string()) {
      const std::string_view name = value->get_string();
      type = -1;
      for (size_t i = 0; i < kTypeNames.size(); ++i) {
        if (AsciiIEquals(kTypeNames[i], name)) type = static_cast<int64_t>(i);
      }
      if (type < 0) {
        decoder.Fail(fmt::format("Unknown messageType '{}'.", name));
        return message;
      }
    } else if (!decoder.ReadInteger(envelope, "messageType", std::numeric_limits<int32_t>::min(),
                                    std::numeric_limits<int32_t>::max(), type)) {
      return message;
    }
  }

  switch (type) {
    case static_cast<int>(MessageType::kJoinRequest): {
      const auto* join = decoder.Payload(envelope, "joinRequest");
      if (join == nullptr) return message;
      if (decoder.ReadString(*join, "documentId", message.document_id) &&
          decoder.ReadString(*join, "documentType", message.document_type) &&
          decoder.ReadInteger(*join, "clientProtoVersion", std::numeric_limits<int32_t>::min(),
                              std::numeric_limits<int32_t>::max(), message.protocol_version)) {
        message.kind = InboundMessage::Kind::kJoin;
      }
      return message;
    }
    case static_cast<int>(MessageType::kOpRequest): {
      const auto* op = decoder.Payload(envelope, "opRequest");
      if (op == nullptr) return message;
      std::string payload_base64;
      if (!decoder.ReadString(*op, "documentId", message.document_id) ||
          !decoder.ReadString(*op, "payload", payload_base64) ||
          !decoder.ReadInteger(*op, "baseRevision", std::numeric_limits<int64_t>::min(),
                               std::numeric_limits<int64_t>::max(), message.base_revision)) {
        return message;
      }
      if (!Base64Decode(payload_base64, message.payload)) {
        decoder.Fail("'payload' is not valid base64.");
        return message;
      }
      message.kind = InboundMessage::Kind::kOp;
      return message;
    }
    case static_cast<int>(MessageType::kAwarenessRequest): {
      const auto* awareness = decoder.Payload(envelope, "awarenessRequest");
      if (awareness == nullptr) return message;
      if (!decoder.ReadString(*awareness, "documentId", message.document_id)) return message;
      const auto* data = Find(*awareness, "dataJson");
      if (data == nullptr || data->is_null()) {
        decoder.Fail("'dataJson' is required.");
        return message;
      }
      if (!data->is_string()) {
        decoder.Fail("'dataJson' must be a string containing JSON text.");
        return message;
      }
      message.data_json = data->get_string();
      message.kind = InboundMessage::Kind::kAwareness;
      return message;
    }
    default:
      if (type >= static_cast<int>(MessageType::kCreateComment) &&
          type <= static_cast<int>(MessageType::kListOpenComments)) {
        message.kind = InboundMessage::Kind::kComment;
      }
      return message;  // unknown or server-to-client types are ignored
  }
}

void EncodeJoinResponse(const session::JoinResponse& response, std::string_view peer_id, std::string& out) {
  AppendCorrelation(response.correlation, out);
  out += fmt::format(",\"messageType\":1,\"joinResponse\":{{\"revision\":{},\"snapshot\":\"", response.revision);
  Base64Encode(response.snapshot, out);
  out += "\",\"awareness\":[";
  for (size_t i = 0; i < response.awareness.size(); ++i) {
    if (i > 0) out += ',';
    AppendAwarenessState(response.awareness[i], out);
  }
  // OP-23: the peer id is an extra property that existing clients ignore.
  out += "],\"peerId\":";
  AppendString(peer_id, out);
  out += "}}";
}

void EncodeOpResponse(const session::OpResponse& response, std::string& out) {
  AppendCorrelation(response.correlation, out);
  fmt::format_to(std::back_inserter(out),
                 ",\"messageType\":3,\"opResponse\":{{\"success\":{},\"newRevision\":{},\"errorMessage\":",
                 response.success ? "true" : "false", response.new_revision);
  if (response.error) {
    AppendString(*response.error, out);
  } else {
    out += "null";
  }
  out += "}}";
}

void EncodeErrorResponse(const session::ErrorResponse& response, std::string& out) {
  AppendCorrelation(response.correlation, out);
  out += ",\"messageType\":8,\"errorMessage\":";
  AppendString(response.message, out);
  out += '}';
}

// Events carry the document id inside the payload object (OP-10), which clients ignore.
void EncodeOpEvent(const session::OpEvent& event, std::string& out) {
  out.reserve(out.size() + 96 + event.payload.size() * 4 / 3 + event.document_id.size());
  out += "{\"correlationId\":null,\"messageType\":5,\"receiveOpEvent\":{\"payload\":\"";
  Base64Encode(event.payload, out);
  fmt::format_to(std::back_inserter(out), "\",\"newRevision\":{},\"documentId\":", event.revision);
  AppendString(event.document_id, out);
  out += "}}";
}

void EncodeAwarenessEvent(const session::AwarenessEvent& event, std::string& out) {
  out += "{\"correlationId\":null,\"messageType\":6,\"receiveAwarenessEvent\":{\"awareness\":[";
  AppendAwarenessState(event.state, out);
  out += "],\"documentId\":";
  AppendString(event.document_id, out);
  out += "}}";
}

void EncodePeerLeftEvent(const session::PeerLeftEvent& event, std::string& out) {
  out += "{\"correlationId\":null,\"messageType\":7,\"peerDisconnectedEvent\":{\"peerId\":";
  AppendString(event.peer_id, out);
  out += ",\"documentId\":";
  AppendString(event.document_id, out);
  out += "}}";
}

}  // namespace opstream::transports::websocket
