#include "session/json_text.hpp"

#include <boost/json/parser.hpp>

namespace opstream::session {

bool CompactJson(std::string_view json, std::string& out, std::string& error) {
  boost::json::parse_options options;
  options.max_depth = 64;
  boost::system::error_code ec;
  boost::json::parser parser({}, options);
  parser.write(json.data(), json.size(), ec);
  if (ec) {
    error = "Invalid JSON: " + ec.message() + ".";
    return false;
  }
  out.clear();
  out.reserve(json.size());
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < json.size()) {
        out += json[++i];
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      out += c;
    }
  }
  return true;
}

}  // namespace opstream::session
