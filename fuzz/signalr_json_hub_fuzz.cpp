// Fuzz target for the SignalR JSON hub protocol: the handshake (JSON for every protocol) and the
// hub message records of the "json" protocol.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hub_value_check.hpp"
#include "transports/signalr/hub_protocol.hpp"

namespace sr = opstream::transports::signalr;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view record(reinterpret_cast<const char*>(data), size);
  sr::HandshakeRequest handshake;
  const auto handshake_status = sr::ParseHandshake(record, handshake);
  opstream::fuzz::Check(handshake_status.ok() || !handshake_status.message().empty(), "handshake error without text");
  sr::HubMessage message;
  const auto status = sr::JsonHubProtocol().Parse(record, message);
  if (status.ok()) {
    opstream::fuzz::CheckHubMessage(message);
  } else {
    opstream::fuzz::Check(!status.message().empty(), "hub message error without text");
  }
  return 0;
}
