#pragma once
// Binding of invocation arguments to a hub method's declared parameters (wire-protocol §3.4):
// the count must match exactly; `string` takes a string or null, `int`/`long` take integer
// numbers only (not numeric strings, not 5.0), `byte[]` takes a base64 string (or MessagePack
// binary) or null, `JsonElement` takes any value, objects take an object or null. A failure is
// answered with `Failed to invoke '{target}' due to an error on the server.` (§3.6).
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "transports/signalr/hub_protocol.hpp"

namespace opstream::transports::signalr {

enum class ParamKind { kString, kInt32, kNullableInt32, kInt64, kBool, kBytes, kJson, kObject };

struct BoundArgument {
  bool is_null = false;
  std::string text;  // kString: the string; kBytes: the decoded bytes; kJson/kObject: JSON text
  int64_t integer = 0;
  bool boolean = false;
};

// Moves the arguments' contents into `out` on success; on failure `out` is unspecified.
bool BindArguments(std::span<const ParamKind> params, std::vector<HubValue>& args, std::vector<BoundArgument>& out);
inline bool BindArguments(std::initializer_list<ParamKind> params, std::vector<HubValue>& args,
                          std::vector<BoundArgument>& out) {
  return BindArguments(std::span<const ParamKind>(params.begin(), params.size()), args, out);
}

}  // namespace opstream::transports::signalr
