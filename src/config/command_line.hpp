#pragma once
// The server's own command-line flags (everything else on the command line is configuration).
#include <string>
#include <vector>

#include "common/status.hpp"

namespace opstream::config {

enum class LaunchMode {
  kRun,      // start the server
  kHelp,     // print HelpText() and exit 0
  kVersion,  // print the version and exit 0
  kProbe,    // GET probe_url, exit 0 on a 2xx answer and 1 otherwise (container HEALTHCHECK)
};

struct LaunchRequest {
  LaunchMode mode = LaunchMode::kRun;
  std::string probe_url;
};

// Looks for `--help` (also `-h`, `-?`, `/?`), `--version` and `--probe URL` (or `--probe=URL`) among the
// arguments (program name excluded). The first flag found decides. `--probe` without a URL is an error.
Status ParseLaunchRequest(const std::vector<std::string>& args, LaunchRequest& out);

// Text printed by `opstream-server --help`: usage, flags, configuration sources and every setting with
// its configuration key, environment variable, default and description. Ends with a newline.
std::string HelpText();

}  // namespace opstream::config
