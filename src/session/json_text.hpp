#pragma once
// Presence values are opaque JSON: validated, kept as compact text, compared structurally.
#include <string>
#include <string_view>

namespace opstream::session {

// Validates `json` and writes it without insignificant whitespace, keeping every token verbatim
// (numbers and escapes exactly as sent). Returns false with a parser message on invalid input.
bool CompactJson(std::string_view json, std::string& out, std::string& error);

}  // namespace opstream::session
