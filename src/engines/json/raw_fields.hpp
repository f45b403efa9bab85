#pragma once
// Reading typed fields out of a RawJsonTree (raw_json.hpp) under the binder's rules (engines.md
// §1.3): for engines whose ops carry opaque values, one token-level parse gives both the exact
// value slices and the scalar fields around them.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.hpp"
#include "engines/json/raw_json.hpp"

namespace opstream::engines::json {

// A JSON integer literal (no fraction, no exponent) that fits in int64 (§1.3 item 5).
bool ParseInt64Literal(std::string_view token, int64_t& out) noexcept;

// The unescaped name of an object member (node whose raw_key is set).
std::string MemberName(const RawJsonNode& member);
// True when the member's name equals `name` exactly (ordinal, after unescaping).
bool MemberNameIs(const RawJsonNode& member, std::string_view name);
// Same, ASCII case-insensitively (the binder's property-name matching).
bool MemberNameIsIgnoreCase(const RawJsonNode& member, std::string_view name);

// `what` names the field in error messages.
Status ReadInt64Field(const RawJsonNode& value, std::string_view what, int64_t& out);
// A string (unescaped into `out`); a JSON null sets `is_null`. Anything else fails.
Status ReadNullableStringField(const RawJsonNode& value, std::string_view what, std::string& out, bool& is_null);
Status ReadBoolField(const RawJsonNode& value, std::string_view what, bool& out);

// "an object", "a string", ... for messages.
std::string_view KindArticle(JsonKind kind) noexcept;

}  // namespace opstream::engines::json
