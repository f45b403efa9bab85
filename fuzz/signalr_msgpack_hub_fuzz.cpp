// Fuzz target for the SignalR MessagePack hub protocol and its MessagePack reader.
//
// Input: byte 0 selects (even) a whole hub record or (odd) a single MessagePack value, whose JSON
// value must survive JSON → MessagePack → JSON (awareness data travels that way).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "hub_value_check.hpp"
#include "transports/signalr/hub_protocol.hpp"
#include "transports/signalr/msgpack_codec.hpp"

namespace sr = opstream::transports::signalr;
using opstream::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    sr::HubMessage message;
    const auto status = sr::MessagePackHubProtocol().Parse(rest, message);
    if (status.ok()) {
      opstream::fuzz::CheckHubMessage(message);
    } else {
      Check(!status.message().empty(), "hub message error without text");
    }
    return 0;
  }
  sr::msgpack::Reader reader(rest);
  sr::HubValue value;
  if (!reader.ReadValue(value)) return 0;
  opstream::fuzz::CheckValidJson(value.json);
  std::string packed;
  Check(sr::msgpack::AppendJson(packed, value.json), "JSON text of a MessagePack value cannot be packed", value.json);
  sr::msgpack::Reader again(packed);
  sr::HubValue reread;
  Check(again.ReadValue(reread) && again.AtEnd(), "packed JSON does not read back", value.json);
  // Equal as JSON values: the text may differ (a binary becomes a base64 string written without
  // the escaping of a string), the numbers, strings and structure may not.
  boost::json::parse_options options;
  options.max_depth = 1000;
  boost::system::error_code ec1;
  boost::system::error_code ec2;
  const auto before = boost::json::parse(value.json, ec1, {}, options);
  const auto after = boost::json::parse(reread.json, ec2, {}, options);
  Check(!ec1 && !ec2 && before == after, "JSON -> MessagePack -> JSON changes the value",
        value.json + " != " + reread.json);
  return 0;
}
