#pragma once
// `opstream-server --probe URL`: a built-in health check for container HEALTHCHECKs (SV-29), so the
// runtime image needs no wget or curl.
#include <chrono>
#include <string>

namespace opstream::net {

// GETs an http:// URL; returns 0 on a 2xx answer, 1 otherwise (and writes why to stderr).
int RunProbe(const std::string& url, std::chrono::milliseconds timeout);

}  // namespace opstream::net
