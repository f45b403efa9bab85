#pragma once
// A SignalR hub protocol (wire-protocol §3.2–§3.4): parses client records into protocol-neutral
// hub messages and writes the server's records, each complete with its framing (the JSON
// protocol's 0x1E separator). Pure functions over bytes; the connection owns all state.
//
// Only the messages this server sends have writers. Events shared by many peers are written once
// per protocol by the caller through the event's EncodingCache, in the slot `cache_slot()`.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "session/connection.hpp"
#include "transports/signalr/record_reader.hpp"

namespace opstream::transports::signalr {

enum class HubMessageType : int64_t {
  kInvocation = 1,
  kStreamItem = 2,
  kCompletion = 3,
  kStreamInvocation = 4,
  kCancelInvocation = 5,
  kPing = 6,
  kClose = 7,
  kAck = 8,
  kSequence = 9,
};

// One invocation argument. Method binding (hub_binder.hpp) decides which kinds a parameter takes.
struct HubValue {
  enum class Kind { kNull, kBool, kInteger, kNumber, kString, kBinary, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  int64_t integer = 0;
  std::string text;  // kString: the unescaped UTF-8 content; kBinary: the bytes
  std::string json;  // the value as JSON text (for parameters that take any JSON value)
};

struct HubMessage {
  int64_t type = 0;
  std::optional<std::string> invocation_id;
  std::string target;
  std::vector<HubValue> arguments;
  std::optional<std::string> error;  // Close
  bool allow_reconnect = false;      // Close
};

struct HandshakeRequest {
  std::string protocol;
  int64_t version = 0;
};

// The handshake is JSON for every hub protocol. The error texts are shown to clients.
Status ParseHandshake(std::string_view record, HandshakeRequest& out);
void WriteHandshakeResponse(const std::optional<std::string>& error, std::string& out);

class HubProtocol {
 public:
  virtual ~HubProtocol() = default;
  virtual std::string_view name() const = 0;
  virtual int64_t version() const = 0;
  virtual Framing framing() const = 0;
  // True when the records are text (JSON): SSE can carry them and WebSocket frames are Text.
  virtual bool is_text() const = 0;
  virtual session::TransportKind cache_slot() const = 0;

  // A malformed record is a protocol error: the message says why (for the log).
  virtual Status Parse(std::string_view record, HubMessage& out) const = 0;

  virtual void WritePing(std::string& out) const = 0;
  virtual void WriteClose(const std::optional<std::string>& error, bool allow_reconnect, std::string& out) const = 0;
  virtual void WriteCompletionError(std::string_view invocation_id, std::string_view error, std::string& out) const = 0;
  virtual void WriteCompletionNull(std::string_view invocation_id, std::string& out) const = 0;
  // `result_json` is a JSON value (management results).
  virtual void WriteCompletionJson(std::string_view invocation_id, std::string_view result_json,
                                   std::string& out) const = 0;
  virtual void WriteJoinResult(std::string_view invocation_id, const session::JoinResponse& response,
                               std::string& out) const = 0;
  virtual void WriteOpResult(std::string_view invocation_id, const session::OpResponse& response,
                             std::string& out) const = 0;
  virtual void WriteOpEvent(const session::OpEvent& event, std::string& out) const = 0;
  virtual void WriteAwarenessEvent(const session::AwarenessEvent& event, std::string& out) const = 0;
  virtual void WritePeerLeftEvent(const session::PeerLeftEvent& event, std::string& out) const = 0;
};

const HubProtocol& JsonHubProtocol();
const HubProtocol& MessagePackHubProtocol();
// Null when this build has no such protocol (name compared ordinally, as the reference does).
const HubProtocol* FindHubProtocol(std::string_view name);

}  // namespace opstream::transports::signalr
