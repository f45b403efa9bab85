// Fuzz target for the raw WebSocket envelope decoder: every text message a client sends on the
// raw WebSocket transport goes through DecodeInbound (wire-protocol §4.3).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "transports/websocket/envelope.hpp"

using opstream::fuzz::Check;
using opstream::transports::websocket::DecodeInbound;
using opstream::transports::websocket::InboundMessage;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto message = DecodeInbound(text);
  // Malformed input becomes a message for the client, never silence; other kinds carry no error.
  Check((message.kind == InboundMessage::Kind::kInvalid) == !message.error.empty(),
        "an error text exactly for invalid messages", message.error);
  if (message.kind == InboundMessage::Kind::kOp) {
    // Base64 of n bytes takes at least 4n/3 characters of the input.
    Check(message.payload.size() <= size, "decoded op payload longer than the message");
  }
  return 0;
}
