// The MessagePack hub protocol (`{"protocol":"messagepack","version":1}`, as implemented by the
// official `@microsoft/signalr-protocol-msgpack` client): after the JSON handshake every message
// is a MessagePack array prefixed with its length as a varint. Byte strings (op payloads,
// snapshots) travel as MessagePack binary, as a .NET server would write `byte[]`; awareness `data`
// is converted between JSON and MessagePack; timestamps are the same ISO strings as in JSON.
#include "common/clock.hpp"
#include "transports/signalr/hub_protocol.hpp"
#include "transports/signalr/msgpack_codec.hpp"

namespace opstream::transports::signalr {

namespace {

namespace mp = msgpack;

// Completion result kinds of the MessagePack protocol.
constexpr int64_t kErrorResult = 1;
constexpr int64_t kVoidResult = 2;
constexpr int64_t kNonVoidResult = 3;

void Frame(std::string_view body, std::string& out) {
  AppendLengthPrefix(body.size(), out);
  out.append(body);
}

void BeginCompletion(std::string& body, std::string_view invocation_id, int64_t kind) {
  mp::AppendArrayHeader(body, kind == kVoidResult ? 4 : 5);
  mp::AppendInt(body, 3);
  mp::AppendMapHeader(body, 0);
  mp::AppendString(body, invocation_id);
  mp::AppendInt(body, kind);
}

void BeginEvent(std::string& body, std::string_view target, uint32_t argument_count) {
  mp::AppendArrayHeader(body, 5);
  mp::AppendInt(body, 1);
  mp::AppendMapHeader(body, 0);
  mp::AppendNil(body);
  mp::AppendString(body, target);
  mp::AppendArrayHeader(body, argument_count);
}

void AppendAwarenessState(std::string& body, const session::AwarenessState& state) {
  mp::AppendMapHeader(body, 3);
  mp::AppendString(body, "peerId");
  mp::AppendString(body, state.peer_id);
  mp::AppendString(body, "data");
  if (!mp::AppendJson(body, state.data_json)) mp::AppendNil(body);
  mp::AppendString(body, "lastUpdated");
  mp::AppendString(body, FormatIsoTimestamp(state.last_updated));
}

class MessagePackProtocol final : public HubProtocol {
 public:
  std::string_view name() const override { return "messagepack"; }
  int64_t version() const override { return 1; }
  Framing framing() const override { return Framing::kLengthPrefixed; }
  bool is_text() const override { return false; }
  session::TransportKind cache_slot() const override { return session::TransportKind::kSignalRMessagePack; }

  Status Parse(std::string_view record, HubMessage& out) const override {
    mp::Reader reader(record);
    uint32_t count = 0;
    if (!reader.ReadArrayHeader(count) || count == 0) return Status::Error("Message is not a MessagePack array.");
    if (!reader.ReadInteger(out.type)) return Status::Error("Message type is not an integer.");
    switch (static_cast<HubMessageType>(out.type)) {
      case HubMessageType::kInvocation:
      case HubMessageType::kStreamInvocation: {
        if (count < 5) return Status::Error("Invalid payload for Invocation message.");
        std::string id;
        bool id_nil = false;
        bool target_nil = false;
        uint32_t arguments = 0;
        if (!reader.Skip() || !reader.ReadStringOrNil(id, id_nil) || !reader.ReadStringOrNil(out.target, target_nil) ||
            target_nil || !reader.ReadArrayHeader(arguments)) {
          return Status::Error("Invalid payload for Invocation message.");
        }
        if (!id_nil) out.invocation_id = std::move(id);
        if (out.type == static_cast<int64_t>(HubMessageType::kStreamInvocation) && !out.invocation_id) {
          return Status::Error("Invalid payload for StreamInvocation message.");
        }
        // Every argument takes at least one byte: a larger count is a lie, not an allocation.
        if (arguments > record.size()) return Status::Error("Invalid argument count in Invocation message.");
        out.arguments.resize(arguments);
        for (auto& argument : out.arguments) {
          if (!reader.ReadValue(argument)) return Status::Error("Invalid argument in Invocation message.");
        }
        return Status::Ok();
      }
      case HubMessageType::kCancelInvocation: {
        std::string id;
        bool id_nil = false;
        if (count < 3 || !reader.Skip() || !reader.ReadStringOrNil(id, id_nil) || id_nil) {
          return Status::Error("Invalid payload for CancelInvocation message.");
        }
        out.invocation_id = std::move(id);
        return Status::Ok();
      }
      case HubMessageType::kClose: {
        if (count >= 2) {
          std::string error;
          bool error_nil = false;
          if (!reader.ReadStringOrNil(error, error_nil)) return Status::Error("Invalid payload for Close message.");
          if (!error_nil) out.error = std::move(error);
        }
        if (count >= 3 && !reader.ReadBool(out.allow_reconnect)) {
          return Status::Error("Invalid payload for Close message.");
        }
        return Status::Ok();
      }
      default:
        return Status::Ok();  // the rest is not needed (and future types are ignored)
    }
  }

  void WritePing(std::string& out) const override {
    std::string body;
    mp::AppendArrayHeader(body, 1);
    mp::AppendInt(body, 6);
    Frame(body, out);
  }

  void WriteClose(const std::optional<std::string>& error, bool allow_reconnect, std::string& out) const override {
    std::string body;
    mp::AppendArrayHeader(body, 3);
    mp::AppendInt(body, 7);
    if (error) {
      mp::AppendString(body, *error);
    } else {
      mp::AppendNil(body);
    }
    mp::AppendBool(body, allow_reconnect);
    Frame(body, out);
  }

  void WriteCompletionError(std::string_view invocation_id, std::string_view error, std::string& out) const override {
    std::string body;
    BeginCompletion(body, invocation_id, kErrorResult);
    mp::AppendString(body, error);
    Frame(body, out);
  }

  void WriteCompletionNull(std::string_view invocation_id, std::string& out) const override {
    std::string body;
    BeginCompletion(body, invocation_id, kVoidResult);
    Frame(body, out);
  }

  void WriteCompletionJson(std::string_view invocation_id, std::string_view result_json,
                           std::string& out) const override {
    std::string body;
    BeginCompletion(body, invocation_id, kNonVoidResult);
    if (!mp::AppendJson(body, result_json)) mp::AppendNil(body);
    Frame(body, out);
  }

  void WriteJoinResult(std::string_view invocation_id, const session::JoinResponse& response,
                       std::string& out) const override {
    std::string body;
    body.reserve(response.snapshot.size() + 128);
    BeginCompletion(body, invocation_id, kNonVoidResult);
    mp::AppendMapHeader(body, 4);
    mp::AppendString(body, "revision");
    mp::AppendInt(body, response.revision);
    mp::AppendString(body, "snapshot");
    mp::AppendBinary(body, response.snapshot);
    mp::AppendString(body, "pendingOps");
    mp::AppendArrayHeader(body, 0);
    mp::AppendString(body, "currentAwareness");
    mp::AppendArrayHeader(body, static_cast<uint32_t>(response.awareness.size()));
    for (const auto& state : response.awareness) AppendAwarenessState(body, state);
    Frame(body, out);
  }

  void WriteOpResult(std::string_view invocation_id, const session::OpResponse& response,
                     std::string& out) const override {
    std::string body;
    BeginCompletion(body, invocation_id, kNonVoidResult);
    mp::AppendMapHeader(body, 3);
    mp::AppendString(body, "success");
    mp::AppendBool(body, response.success);
    mp::AppendString(body, "newRevision");
    mp::AppendInt(body, response.new_revision);
    mp::AppendString(body, "errorMessage");
    if (response.error) {
      mp::AppendString(body, *response.error);
    } else {
      mp::AppendNil(body);
    }
    Frame(body, out);
  }

  void WriteOpEvent(const session::OpEvent& event, std::string& out) const override {
    std::string body;
    body.reserve(event.payload.size() + 32);
    BeginEvent(body, "ReceiveOp", 2);
    mp::AppendBinary(body, event.payload);
    mp::AppendInt(body, event.revision);
    Frame(body, out);
  }

  void WriteAwarenessEvent(const session::AwarenessEvent& event, std::string& out) const override {
    std::string body;
    BeginEvent(body, "ReceiveAwarenessUpdate", 1);
    AppendAwarenessState(body, event.state);
    Frame(body, out);
  }

  void WritePeerLeftEvent(const session::PeerLeftEvent& event, std::string& out) const override {
    std::string body;
    BeginEvent(body, "PeerDisconnected", 1);
    mp::AppendString(body, event.peer_id);
    Frame(body, out);
  }
};

}  // namespace

const HubProtocol& MessagePackHubProtocol() {
  static const MessagePackProtocol protocol;
  return protocol;
}

}  // namespace opstream::transports::signalr
