#pragma once
// RFC 6455 framing for the server side of a WebSocket, after the opening handshake.
//
// Outgoing frames are always unmasked and unfragmented, so a broadcast's complete frame (header
// included) is identical for every receiver and is built once. Incoming frames must be masked;
// MessageReader reassembles fragmented messages, unmasks in place and returns complete messages
// without copying when a frame arrived whole in one read.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace opstream::net::websocket {

enum class Opcode : uint8_t { kContinuation = 0x0, kText = 0x1, kBinary = 0x2, kClose = 0x8, kPing = 0x9, kPong = 0xA };

// Close codes used by the server (RFC 6455 §7.4.1).
enum class CloseCode : uint16_t {
  kNormal = 1000,
  kGoingAway = 1001,
  kProtocolError = 1002,
  kUnsupportedData = 1003,
  kInvalidPayload = 1007,
  kPolicyViolation = 1008,
  kTooBig = 1009,
  kInternalError = 1011,
};

// Largest header of a server frame: 2 bytes + 8 bytes of extended length.
inline constexpr size_t kMaxServerHeaderBytes = 10;

// Appends the header of a final, unmasked frame carrying `payload_size` bytes.
void AppendFrameHeader(std::string& out, Opcode opcode, size_t payload_size);
// Appends a complete frame.
void AppendFrame(std::string& out, Opcode opcode, std::string_view payload);
// Appends a close frame; the reason is cut to the 123 bytes a control frame can carry, on a
// UTF-8 character boundary.
void AppendCloseFrame(std::string& out, CloseCode code, std::string_view reason);

struct FrameHeader;

class MessageReader {
 public:
  enum class Event {
    kNeedMore,  // every byte was consumed; the next frame is incomplete
    kMessage,   // a complete text or binary message: payload(), is_text()
    kPing,      // payload() holds the ping data to echo
    kPong,
    kClose,  // the peer's close frame: close_code() (1005 when absent), payload() is the reason
    kError,  // a protocol violation: close with close_code(), reason(); input after it is ignored
  };

  explicit MessageReader(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  // Consumes bytes from the front of `input` until one event is complete. Unmasks in place, so
  // `input` must be writable. Views returned by payload() stay valid until the next call and
  // while the input buffer is unchanged.
  Event Next(char*& input, size_t& size);

  std::string_view payload() const noexcept { return payload_; }
  bool is_text() const noexcept { return message_opcode_ == Opcode::kText; }
  uint16_t close_code() const noexcept { return close_code_; }
  std::string_view reason() const noexcept { return reason_; }
  // Frees buffers kept from a large message so that an idle connection holds no input memory.
  void ReleaseMemory();
  // After kError: true when the byte stream is unusable (close at once), false after a message
  // over the size limit (keep reading for the peer's close frame).
  bool fatal() const noexcept { return fatal_; }
  // Bytes buffered for an incomplete frame or message.
  size_t buffered_bytes() const noexcept { return partial_.size() + message_.size(); }

 private:
  enum class SizeCheck { kAccept, kSkip, kTooBig };
  Event Fail(CloseCode code, std::string_view reason);
  Event FailHeader(int header_result);
  SizeCheck CheckSize(const FrameHeader& header);
  Event OnFrame(const FrameHeader& header, std::string_view payload);

  const size_t max_message_bytes_;
  std::string partial_;        // bytes of an incomplete frame (header and payload)
  std::string message_;        // payload of the fragments received so far of a fragmented message
  bool partial_done_ = false;  // `partial_` holds a frame already returned: clear on the next call
  bool message_done_ = false;  // likewise for `message_`
  Opcode message_opcode_ = Opcode::kText;
  bool in_fragmented_message_ = false;
  bool draining_ = false;  // after a too-big message: data frames are discarded
  bool fatal_ = false;     // after a protocol violation: all input is discarded
  uint64_t skip_remaining_ = 0;
  uint16_t close_code_ = 0;
  std::string_view reason_;
  std::string_view payload_;
};

}  // namespace opstream::net::websocket
