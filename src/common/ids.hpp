#pragma once
#include <string>

namespace opstream {

// Random version-4 UUID, lowercase and hyphenated: the peer id of WebSocket and gRPC connections.
std::string NewUuid();

}  // namespace opstream
