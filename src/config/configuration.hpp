#pragma once
// A faithful model of the ASP.NET Core configuration stack the reference host reads (server spec §1.1):
// providers hold flat `Section:Key` entries, keys compare case-insensitively, and a lookup returns the
// value of the highest-precedence provider that has the key.
//
// The source readers below reproduce the .NET providers' parsing quirks on purpose (JSON flattening,
// `__` in environment variable names, the command-line switch grammar), because operators' existing
// configurations must mean the same thing to this server as to the reference.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace opstream::config {

// Orders keys the way .NET's StringComparer.OrdinalIgnoreCase compares them (ASCII letters only are
// folded; configuration keys are ASCII in practice).
struct KeyLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept;
};

// The data of one configuration provider. A key mapped to std::nullopt is what .NET stores for an
// empty JSON object or array: it still shadows lower providers, but reads as absent.
using ConfigurationData = std::map<std::string, std::optional<std::string>, KeyLess>;

class Configuration {
 public:
  // Layers are added lowest precedence first, like IConfigurationBuilder.Add.
  void AddLayer(std::string source_name, ConfigurationData data);

  // The value of the highest layer holding `key`; nullopt if no layer has it or that layer holds null.
  std::optional<std::string> Get(std::string_view key) const;
  // Name of the layer that answers Get(key) (for diagnostics); nullopt when no layer has the key.
  std::optional<std::string> SourceOf(std::string_view key) const;
  // Every key that currently reads as a value (not null), once, in case-insensitive order.
  std::vector<std::string> Keys() const;

 private:
  struct Layer {
    std::string source_name;
    ConfigurationData data;
  };
  const Layer* Find(std::string_view key) const;

  std::vector<Layer> layers_;
};

// Flattens a JSON configuration document like Microsoft.Extensions.Configuration.Json: nested objects
// join with ':', array elements get index keys (`Section:0`), strings are taken verbatim, numbers keep
// their source text, booleans become `True`/`False`, null becomes "", and an empty object or array
// becomes a null entry. Comments and trailing commas are accepted. The top level must be an object and
// a key may not repeat (case-insensitively). Error messages do not name a file.
Status ParseJsonConfiguration(std::string_view json, ConfigurationData& out);

// Reads an optional JSON file (a missing file, or a directory, yields no data). Any failure message
// names the file: `Failed to load configuration from file '<path>': <reason>`.
Status LoadJsonConfigurationFile(const std::filesystem::path& file, ConfigurationData& out);

// Environment variables as the EnvironmentVariablesConfigurationProvider sees them: `__` in a name
// becomes ':' and, with a prefix, only names starting with it (case-insensitively, after the `__`
// mapping) are kept, with the prefix removed. When two names differ only in case the later one in the
// map's order wins (.NET's order there is that of the OS environment block).
ConfigurationData EnvironmentVariablesData(const std::map<std::string, std::string>& environment,
                                           std::string_view prefix = {});

// Command-line arguments as the CommandLineConfigurationProvider (no switch mappings) reads them:
// `--Key=value`, `--Key value`, `/Key=value`, `/Key value`, `Key=value`. A lone `-x` is ignored,
// `-x=value` is an error, an argument that is neither is skipped, and the last duplicate wins.
// `args` excludes the program name.
Status CommandLineData(const std::vector<std::string>& args, ConfigurationData& out);

}  // namespace opstream::config
