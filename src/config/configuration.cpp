#include "config/configuration.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

namespace opstream::config {

namespace {

char FoldAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool StartsWithIgnoringCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (FoldAscii(s[i]) != FoldAscii(prefix[i])) return false;
  }
  return true;
}

// String.Replace("__", ":") as the environment provider applies it: left to right, non-overlapping,
// so `A___B` becomes `A:_B`.
std::string NormalizeEnvironmentName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '_' && i + 1 < name.size() && name[i + 1] == '_') {
      out.push_back(':');
      ++i;
    } else {
      out.push_back(name[i]);
    }
  }
  return out;
}

// SAX handler that flattens a document exactly like .NET's JsonConfigurationFileParser.
class JsonFlattener {
 public:
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);

  using error_code = boost::json::error_code;
  using string_view = boost::json::string_view;

  ConfigurationData data;
  // A semantic failure (duplicate key) found while parsing; the parse is stopped when it is set.
  std::string semantic_error;
  // .NET parses the whole document before checking the top-level kind, so a syntax error later in the
  // file wins over this one; it is therefore reported only after a clean parse.
  std::string top_level_kind;

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }

  bool on_object_begin(error_code&) { return BeginContainer("Object", /*is_array=*/false); }
  bool on_object_end(std::size_t members, error_code&) { return EndContainer(members); }
  bool on_array_begin(error_code&) { return BeginContainer("Array", /*is_array=*/true); }
  bool on_array_end(std::size_t elements, error_code&) { return EndContainer(elements); }

  bool on_key_part(string_view s, std::size_t, error_code&) {
    if (!ignoring_) key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(string_view s, std::size_t, error_code&) {
    if (ignoring_) return true;
    key_.append(s.data(), s.size());
    EnterContext(key_);
    key_.clear();
    return true;
  }

  bool on_string_part(string_view s, std::size_t, error_code&) {
    if (!ignoring_) text_.append(s.data(), s.size());
    return true;
  }
  bool on_string(string_view s, std::size_t, error_code& ec) {
    text_.append(s.data(), s.size());
    return Leaf("String", ec);
  }

  // Numbers keep their source spelling (JsonElement.ToString() returns the raw token): `1e3` stays `1e3`.
  bool on_number_part(string_view s, error_code&) {
    if (!ignoring_) text_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t, string_view s, error_code& ec) { return Number(s, ec); }
  bool on_uint64(std::uint64_t, string_view s, error_code& ec) { return Number(s, ec); }
  bool on_double(double, string_view s, error_code& ec) { return Number(s, ec); }

  // bool.ToString() in .NET is capitalised.
  bool on_bool(bool b, error_code& ec) {
    text_ = b ? "True" : "False";
    return Leaf(b ? "True" : "False", ec);
  }
  bool on_null(error_code& ec) {
    text_.clear();
    return Leaf("Null", ec);
  }

  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }

 private:
  struct Frame {
    bool is_array;
    size_t next_index;
  };

  // Mirrors JsonConfigurationFileParser.EnterContext: each path is the full key of the current value.
  void EnterContext(std::string_view segment) {
    if (paths_.empty()) {
      paths_.emplace_back(segment);
    } else {
      std::string path = paths_.back();
      path.push_back(':');
      path.append(segment);
      paths_.push_back(std::move(path));
    }
  }

  // An array element's key is its index; an object member's key was entered by on_key.
  void BeginMember() {
    Frame& parent = frames_.back();
    if (parent.is_array) EnterContext(std::to_string(parent.next_index++));
  }

  bool BeginContainer(const char* kind, bool is_array) {
    if (ignoring_) return true;
    if (frames_.empty()) {
      if (is_array) return IgnoreNonObjectRoot(kind);
      frames_.push_back({false, 0});
      return true;
    }
    BeginMember();
    frames_.push_back({is_array, 0});
    return true;
  }

  bool EndContainer(std::size_t size) {
    if (ignoring_) return true;
    frames_.pop_back();
    if (frames_.empty()) return true;  // the root object closed
    // SetNullIfElementIsEmpty: assigned without a duplicate check, exactly as in .NET.
    if (size == 0) data[paths_.back()] = std::nullopt;
    paths_.pop_back();
    return true;
  }

  bool Number(string_view last_part, error_code& ec) {
    if (!ignoring_) text_.append(last_part.data(), last_part.size());
    return Leaf("Number", ec);
  }

  bool Leaf(const char* kind, error_code& ec) {
    std::string value = std::move(text_);
    text_.clear();
    if (ignoring_) return true;
    if (frames_.empty()) return IgnoreNonObjectRoot(kind);
    BeginMember();
    const std::string& key = paths_.back();
    if (data.contains(key)) {
      semantic_error = "A duplicate key '" + key + "' was found.";
      ec = boost::json::make_error_code(boost::json::error::exception);
      return false;
    }
    data[key] = std::move(value);
    paths_.pop_back();
    return true;
  }

  bool IgnoreNonObjectRoot(const char* kind) {
    top_level_kind = kind;
    ignoring_ = true;
    return true;
  }

  std::vector<Frame> frames_;
  std::vector<std::string> paths_;
  std::string key_;
  std::string text_;
  bool ignoring_ = false;
};

std::string DescribePosition(std::string_view text, size_t offset) {
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(offset - line_start + 1);
}

}  // namespace

bool KeyLess::operator()(std::string_view a, std::string_view b) const noexcept {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const char x = FoldAscii(a[i]);
    const char y = FoldAscii(b[i]);
    if (x != y) return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
  }
  return a.size() < b.size();
}

void Configuration::AddLayer(std::string source_name, ConfigurationData data) {
  layers_.push_back({std::move(source_name), std::move(data)});
}

const Configuration::Layer* Configuration::Find(std::string_view key) const {
  for (auto layer = layers_.rbegin(); layer != layers_.rend(); ++layer) {
    if (layer->data.find(key) != layer->data.end()) return &*layer;
  }
  return nullptr;
}

std::optional<std::string> Configuration::Get(std::string_view key) const {
  const Layer* layer = Find(key);
  if (layer == nullptr) return std::nullopt;
  return layer->data.find(key)->second;
}

std::optional<std::string> Configuration::SourceOf(std::string_view key) const {
  const Layer* layer = Find(key);
  if (layer == nullptr) return std::nullopt;
  return layer->source_name;
}

std::vector<std::string> Configuration::Keys() const {
  std::set<std::string, KeyLess> keys;
  for (const Layer& layer : layers_) {
    for (const auto& [key, value] : layer.data) keys.insert(key);
  }
  std::vector<std::string> out;
  for (const std::string& key : keys) {
    if (Get(key).has_value()) out.push_back(key);
  }
  return out;
}

Status ParseJsonConfiguration(std::string_view json, ConfigurationData& out) {
  // JsonDocument.Parse(Stream) skips a UTF-8 byte order mark; editors on Windows like to write one.
  constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
  if (json.starts_with(kUtf8Bom)) json.remove_prefix(kUtf8Bom.size());

  // The .NET provider parses with comments skipped, trailing commas allowed and the default depth of 64.
  boost::json::parse_options options;
  options.allow_comments = true;
  options.allow_trailing_commas = true;
  options.max_depth = 64;
  boost::json::basic_parser<JsonFlattener> parser(options);

  boost::json::error_code ec;
  const size_t consumed = parser.write_some(/*more=*/false, json.data(), json.size(), ec);
  const JsonFlattener& result = parser.handler();
  if (!result.semantic_error.empty()) return Status::Error(result.semantic_error);
  if (ec) {
    return Status::Error("invalid JSON (" + ec.message() + ") at " + DescribePosition(json, consumed) + ".");
  }
  if (consumed < json.size()) {
    return Status::Error("invalid JSON (unexpected data after the top-level value) at " +
                         DescribePosition(json, consumed) + ".");
  }
  if (!result.top_level_kind.empty()) {
    return Status::Error("Top-level JSON element must be an object. Instead, '" + result.top_level_kind +
                         "' was found.");
  }
  out = result.data;
  return Status::Ok();
}

Status LoadJsonConfigurationFile(const std::filesystem::path& file, ConfigurationData& out) {
  out.clear();
  std::error_code ec;
  // PhysicalFileProvider reports a directory as a missing file, and these files are optional.
  if (!std::filesystem::is_regular_file(file, ec)) return Status::Ok();

  const std::string failed = "Failed to load configuration from file '" + file.string() + "': ";
  std::ifstream stream(file, std::ios::binary);
  if (!stream) return Status::Error(failed + "the file cannot be opened.");
  std::ostringstream contents;
  contents << stream.rdbuf();
  if (stream.bad()) return Status::Error(failed + "the file cannot be read.");

  Status parsed = ParseJsonConfiguration(contents.str(), out);
  if (!parsed.ok()) return Status::Error(failed + parsed.message());
  return Status::Ok();
}

ConfigurationData EnvironmentVariablesData(const std::map<std::string, std::string>& environment,
                                           std::string_view prefix) {
  const std::string normalized_prefix = NormalizeEnvironmentName(prefix);
  ConfigurationData data;
  for (const auto& [name, value] : environment) {
    std::string key = NormalizeEnvironmentName(name);
    if (!StartsWithIgnoringCase(key, normalized_prefix)) continue;
    key.erase(0, normalized_prefix.size());
    // ConfigurationData's comparator is case-insensitive, so a later name differing only in case wins.
    data.insert_or_assign(std::move(key), value);
  }
  return data;
}

Status CommandLineData(const std::vector<std::string>& args, ConfigurationData& out) {
  ConfigurationData data;
  for (auto it = args.begin(); it != args.end(); ++it) {
    std::string arg = *it;
    size_t key_start = 0;
    if (arg.starts_with("--")) {
      key_start = 2;
    } else if (arg.starts_with("-")) {
      key_start = 1;
    } else if (arg.starts_with("/")) {
      // .NET rewrites "/Key" to "--Key" before interpreting it.
      arg = "--" + arg.substr(1);
      key_start = 2;
    }

    std::string key;
    std::string value;
    const size_t separator = arg.find('=');
    if (separator == std::string::npos) {
      // A bare word, or a single-dash switch without a mapping, is ignored by .NET.
      if (key_start == 0 || key_start == 1) continue;
      key = arg.substr(key_start);
      if (std::next(it) == args.end()) continue;  // a trailing "--Key" without a value is ignored
      value = *++it;
    } else {
      if (key_start == 1) {
        return Status::Error("The short switch '" + arg +
                             "' is not defined in the switch mappings. Write settings as --Key=value.");
      }
      key = arg.substr(key_start, separator - key_start);
      value = arg.substr(separator + 1);
    }
    data.insert_or_assign(std::move(key), std::move(value));
  }
  out = std::move(data);
  return Status::Ok();
}

}  // namespace opstream::config
