#include "config/command_line.hpp"

#include <algorithm>
#include <string_view>

#include "config/setting_catalog.hpp"

namespace opstream::config {

namespace {

constexpr size_t kTextWidth = 100;
constexpr std::string_view kDescriptionIndent = "      ";

// Greedy word wrap of `text` into lines of at most kTextWidth columns, each starting with `indent`.
void AppendWrapped(std::string& out, std::string_view text, std::string_view indent) {
  std::string line(indent);
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t space = text.find(' ', pos);
    const std::string_view word =
        text.substr(pos, space == std::string_view::npos ? std::string_view::npos : space - pos);
    pos = space == std::string_view::npos ? text.size() : space + 1;
    if (word.empty()) continue;
    if (line.size() > indent.size() && line.size() + 1 + word.size() > kTextWidth) {
      out.append(line).push_back('\n');
      line = std::string(indent);
    }
    if (line.size() > indent.size()) line.push_back(' ');
    line.append(word);
  }
  if (line.size() > indent.size()) out.append(line).push_back('\n');
}

std::string Padded(std::string_view text, size_t width) {
  std::string out(text);
  if (out.size() < width) out.append(width - out.size(), ' ');
  return out;
}

}  // namespace

Status ParseLaunchRequest(const std::vector<std::string>& args, LaunchRequest& out) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h" || arg == "-?" || arg == "/?") {
      out = {LaunchMode::kHelp, {}};
      return Status::Ok();
    }
    if (arg == "--version") {
      out = {LaunchMode::kVersion, {}};
      return Status::Ok();
    }
    if (arg == "--probe" || arg.starts_with("--probe=")) {
      std::string url = arg == "--probe" ? (i + 1 < args.size() ? args[i + 1] : "") : arg.substr(8);
      if (url.empty() || url.starts_with("-")) {
        return Status::Error("--probe needs a URL, for example: --probe http://localhost:8080/health/live");
      }
      out = {LaunchMode::kProbe, std::move(url)};
      return Status::Ok();
    }
  }
  out = {LaunchMode::kRun, {}};
  return Status::Ok();
}

std::string HelpText() {
  std::string out;
  out +=
      "Usage: opstream-server [--help | --version | --probe URL] [--Key=value ...]\n"
      "\n"
      "OpStream Server: real-time collaboration server, a drop-in replacement for the OpStream server image.\n"
      "\n"
      "Flags:\n"
      "  --help        Print this help and exit.\n"
      "  --version     Print the version and exit.\n"
      "  --probe URL   Built-in health probe for container health checks: GET URL, exit 0 on a 2xx answer\n"
      "                and 1 otherwise, e.g. --probe http://localhost:8080/health/live\n"
      "\n"
      "Configuration sources, lowest to highest precedence (as in ASP.NET Core):\n"
      "  1. appsettings.json in the working directory\n"
      "  2. appsettings.{Environment}.json (Environment: see ASPNETCORE_ENVIRONMENT below)\n"
      "  3. environment variables, '__' standing for ':' (OPSTREAM__STORAGE__PROVIDER = OpStream:Storage:Provider)\n"
      "  4. command-line arguments: --Key=value, --Key value, /Key=value or Key=value\n"
      "Keys are case-insensitive. An empty environment variable is a value (\"\"), not an absent one.\n"
      "Durations are in seconds and may have a fraction (0.5).\n";

  const auto catalog = SettingCatalog();
  size_t key_width = 0;
  for (const SettingInfo& info : catalog) key_width = std::max(key_width, info.key.size());

  std::string_view group;
  for (const SettingInfo& info : catalog) {
    if (info.group != group) {
      group = info.group;
      out.append("\n").append(group).append(":\n");
    }
    out.append("  ").append(Padded(info.key, key_width)).append("  ").append(info.environment).append("\n");
    std::string description = info.default_value == "(none)" ? std::string("No default.")
                                                             : "Default: " + std::string(info.default_value) + ".";
    description.append(" ").append(info.description);
    AppendWrapped(out, description, kDescriptionIndent);
  }
  return out;
}

}  // namespace opstream::config
