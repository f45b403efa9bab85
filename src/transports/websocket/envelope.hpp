#pragma once
// The raw WebSocket envelope `WebSocketMessage` (wire-protocol §4.3): decoding of client requests
// and encoding of every server message. Input is read leniently (OP-19): property names are
// case-insensitive, `messageType` may be a number or its PascalCase name, and any malformed field
// becomes an `InvalidMessage: …` error instead of a dropped socket.
#include <cstdint>
#include <string>
#include <string_view>

#include "session/connection.hpp"

namespace opstream::transports::websocket {

enum class MessageType : int {
  kJoinRequest = 0,
  kJoinResponse = 1,
  kOpRequest = 2,
  kOpResponse = 3,
  kAwarenessRequest = 4,
  kReceiveOpEvent = 5,
  kReceiveAwarenessEvent = 6,
  kPeerDisconnectedEvent = 7,
  kErrorResponse = 8,
  kCreateComment = 9,
  kListOpenComments = 13,
  kReceiveCommentDeleted = 16,
};

struct InboundMessage {
  enum class Kind { kIgnored, kInvalid, kJoin, kOp, kAwareness, kComment };
  Kind kind = Kind::kIgnored;
  session::CorrelationId correlation;
  std::string error;  // kInvalid: full error text
  std::string document_id;
  std::string document_type;     // join
  int64_t protocol_version = 0;  // join
  std::string payload;           // op: decoded bytes
  int64_t base_revision = 0;     // op
  std::string data_json;         // awareness: the JSON text
};

InboundMessage DecodeInbound(std::string_view text);

// Each appends one complete envelope to `out`.
void EncodeJoinResponse(const session::JoinResponse& response, std::string_view peer_id, std::string& out);
void EncodeOpResponse(const session::OpResponse& response, std::string& out);
void EncodeErrorResponse(const session::ErrorResponse& response, std::string& out);
void EncodeOpEvent(const session::OpEvent& event, std::string& out);
void EncodeAwarenessEvent(const session::AwarenessEvent& event, std::string& out);
void EncodePeerLeftEvent(const session::PeerLeftEvent& event, std::string& out);

}  // namespace opstream::transports::websocket
