#pragma once
// Reading op payloads and snapshots with simdjson's DOM under the reference binder's rules
// (engines.md §1.3):
//
// * StrictJsonParser rejects comments, trailing commas, invalid UTF-8, escaped lone surrogates,
//   NaN/Infinity, text after the value and nesting deeper than 64 containers. simdjson 3.0.1 does
//   all of that itself except the exact depth rule (see json_reader_test.cpp for each behaviour).
// * FindMemberIgnoreCase binds property names case-insensitively; the last duplicate wins.
// * ReadInt32/ReadInt64 accept integer literals only (no 5.0, 1e2, "5", null, no overflow).
//
// Opaque values need their source text (§1.3 item 7), which the DOM does not keep: use
// RawJsonTree (raw_json.hpp) on the same payload for those.
#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace opstream::engines::json {

class StrictJsonParser {
 public:
  StrictJsonParser();
  StrictJsonParser(const StrictJsonParser&) = delete;
  StrictJsonParser& operator=(const StrictJsonParser&) = delete;

  // Parses `json`. On success `root` is valid until the next Parse on this parser.
  //
  // simdjson refuses number tokens it cannot represent (integers beyond 64 bits, 1e400), which
  // System.Text.Json accepts inside opaque values. Such payloads are still accepted: those numbers
  // read as the double 0.0 in the DOM (so integer fields reject them) and their exact text is
  // available through RawJsonTree.
  Status Parse(std::string_view json, simdjson::dom::element& root);

  // A parser owned by the calling thread, reused so that steady-state parsing does not allocate.
  // The element from one Parse must not be used after another Parse on the same thread.
  static StrictJsonParser& ForCurrentThread();

 private:
  Status ParseWithOversizedNumbers(std::string_view json, simdjson::dom::element& root);
  Status CheckDepth(std::string_view json, simdjson::dom::element root) const;

  simdjson::dom::parser parser_;
};

// ASCII case-insensitive equality of property names. (Non-ASCII letters are compared exactly; the
// names engines bind are all ASCII.)
inline bool NameEqualsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    // Setting bit 5 lower-cases ASCII letters; the second test keeps e.g. '@' and '`' apart.
    const char x = a[i], y = b[i];
    if (x == y) continue;
    const char lower = static_cast<char>(x | 0x20);
    if (lower != static_cast<char>(y | 0x20) || lower < 'a' || lower > 'z') return false;
  }
  return true;
}

// Finds the last member of `object` whose name equals `name` ignoring ASCII case.
bool FindMemberIgnoreCase(simdjson::dom::object object, std::string_view name, simdjson::dom::element& value);

// `what` names the field in error messages, e.g. "components[2].count".
Status ReadInt32(simdjson::dom::element value, std::string_view what, int32_t& out);
Status ReadInt64(simdjson::dom::element value, std::string_view what, int64_t& out);

// "an object", "an array", "a string", "a number", "a boolean" or "null", for error messages.
std::string_view KindName(simdjson::dom::element value) noexcept;

}  // namespace opstream::engines::json
