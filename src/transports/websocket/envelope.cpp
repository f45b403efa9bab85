#include "transports/websocket/envelope.hpp"

#include <fmt/format.h>

#include <array>
#include <boost/json/parser.hpp>
#include <boost/json/value.hpp>
#include <limits>

#include "common/base64.hpp"
#include "common/text.hpp"
#include "engines/json/json_reader.hpp"

namespace opstream::transports::websocket {
namespace json = boost::json;
namespace dom = simdjson::dom;

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

// Reads the envelope from simdjson's DOM (parsed by a reused per-thread parser, so a request
// costs no allocation for its JSON). Properties bind case-insensitively and the last duplicate
// wins, as System.Text.Json binds.
struct Decoder {
  InboundMessage& message;

  bool Fail(std::string reason) {
    message.kind = InboundMessage::Kind::kInvalid;
    message.error = "InvalidMessage: " + reason;
    return false;
  }

  // False with `value` untouched when the property is absent or null.
  static bool Find(dom::object object, std::string_view name, dom::element& value) {
    return engines::json::FindMemberIgnoreCase(object, name, value) && !value.is_null();
  }

  // `out` points into the parser's DOM: valid until the thread's next parse.
  bool ReadStringView(dom::object object, std::string_view name, std::string_view& out) {
    dom::element value;
    if (!Find(object, name, value)) return true;
    if (value.get_string().get(out) != simdjson::SUCCESS) return Fail(fmt::format("'{}' must be a string.", name));
    return true;
  }

  bool ReadString(dom::object object, std::string_view name, std::string& out) {
    std::string_view text;
    if (!ReadStringView(object, name, text)) return false;
    if (text.data() != nullptr) out.assign(text);
    return true;
  }

  bool ReadInteger(dom::element value, std::string_view name, int64_t min, int64_t max, int64_t& out) {
    int64_t signed_value = 0;
    uint64_t unsigned_value = 0;
    if (value.is_int64() && value.get_int64().get(signed_value) == simdjson::SUCCESS && signed_value >= min &&
        signed_value <= max) {
      out = signed_value;
      return true;
    }
    if (value.is_uint64() && value.get_uint64().get(unsigned_value) == simdjson::SUCCESS &&
        unsigned_value <= static_cast<uint64_t>(max)) {
      out = static_cast<int64_t>(unsigned_value);
      return true;
    }
    return Fail(fmt::format("'{}' must be an integer.", name));
  }

  bool ReadInteger(dom::object object, std::string_view name, int64_t min, int64_t max, int64_t& out) {
    dom::element value;
    if (!Find(object, name, value)) return true;
    return ReadInteger(value, name, min, max, out);
  }

  // Null or absent payload objects are ignored, like the reference (wire-protocol §4.5).
  bool Payload(dom::object envelope, std::string_view name, dom::object& payload) {
    dom::element value;
    if (!Find(envelope, name, value)) {
      message.kind = InboundMessage::Kind::kIgnored;
      return false;
    }
    if (value.get_object().get(payload) != simdjson::SUCCESS) return Fail(fmt::format("'{}' must be an object.", name));
    return true;
  }
};

// The message for text simdjson refuses: Boost.JSON's wording, which clients have seen since the
// first release (simdjson's own, for the rare text only one of them refuses).
std::string MalformedJsonReason(std::string_view text, const Status& simdjson_status) {
  json::parse_options options;
  options.max_depth = 64;
  json::parser parser({}, options);
  boost::system::error_code ec;
  parser.write(text.data(), text.size(), ec);
  if (ec) return fmt::format("Malformed JSON: {}.", ec.message());
  std::string_view detail = simdjson_status.message();
  if (detail.starts_with("Invalid JSON: ")) detail.remove_prefix(14);
  return fmt::format("Malformed JSON: {}", detail);
}

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
  dom::element root;
  if (const Status parsed = engines::json::StrictJsonParser::ForCurrentThread().Parse(text, root); !parsed.ok()) {
    decoder.Fail(MalformedJsonReason(text, parsed));
    return message;
  }
  if (root.is_null()) return message;  // ignored (wire-protocol §4.5)
  dom::object envelope;
  if (root.get_object().get(envelope) != simdjson::SUCCESS) {
    decoder.Fail("Message must be a JSON object.");
    return message;
  }

  dom::element value;
  if (Decoder::Find(envelope, "correlationId", value)) {
    std::string_view correlation;
    if (value.get_string().get(correlation) != simdjson::SUCCESS) {
      decoder.Fail("'correlationId' must be a string or null.");
      return message;
    }
    message.correlation = std::string(correlation);
  }

  int64_t type = 0;  // a missing messageType counts as JoinRequest
  if (Decoder::Find(envelope, "messageType", value)) {
    if (std::string_view name; value.get_string().get(name) == simdjson::SUCCESS) {
      type = -1;
      for (size_t i = 0; i < kTypeNames.size(); ++i) {
        if (AsciiIEquals(kTypeNames[i], name)) type = static_cast<int64_t>(i);
      }
      if (type < 0) {
        decoder.Fail(fmt::format("Unknown messageType '{}'.", name));
        return message;
      }
    } else if (!decoder.ReadInteger(value, "messageType", std::numeric_limits<int32_t>::min(),
                                    std::numeric_limits<int32_t>::max(), type)) {
      return message;
    }
  }

  dom::object payload;
  switch (type) {
    case static_cast<int>(MessageType::kJoinRequest): {
      if (!decoder.Payload(envelope, "joinRequest", payload)) return message;
      if (decoder.ReadString(payload, "documentId", message.document_id) &&
          decoder.ReadString(payload, "documentType", message.document_type) &&
          decoder.ReadInteger(payload, "clientProtoVersion", std::numeric_limits<int32_t>::min(),
                              std::numeric_limits<int32_t>::max(), message.protocol_version)) {
        message.kind = InboundMessage::Kind::kJoin;
      }
      return message;
    }
    case static_cast<int>(MessageType::kOpRequest): {
      if (!decoder.Payload(envelope, "opRequest", payload)) return message;
      std::string_view payload_base64;
      if (!decoder.ReadString(payload, "documentId", message.document_id) ||
          !decoder.ReadStringView(payload, "payload", payload_base64) ||
          !decoder.ReadInteger(payload, "baseRevision", std::numeric_limits<int64_t>::min(),
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
      if (!decoder.Payload(envelope, "awarenessRequest", payload)) return message;
      if (!decoder.ReadString(payload, "documentId", message.document_id)) return message;
      if (!Decoder::Find(payload, "dataJson", value)) {
        decoder.Fail("'dataJson' is required.");
        return message;
      }
      std::string_view data;
      if (value.get_string().get(data) != simdjson::SUCCESS) {
        decoder.Fail("'dataJson' must be a string containing JSON text.");
        return message;
      }
      message.data_json = data;
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
