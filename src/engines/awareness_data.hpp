#pragma once
// Helpers for awareness (presence) data, engines.md §11. Awareness is ephemeral: the session layer
// keeps one state per peer; these functions decide coalescing and expiry and normalize the opaque
// `data` JSON. Data texts are validated with the reader rules of §1.3 item 6.
#include <chrono>
#include <string>
#include <string_view>

#include "common/status.hpp"
#include "engines/json/raw_json.hpp"

namespace opstream::engines {

inline constexpr std::chrono::seconds kDefaultAwarenessTtl{30};

// Validates `json` and appends it without insignificant whitespace. Tokens are kept verbatim:
// numbers as written (1.0 stays 1.0) and strings with their original escapes. On failure nothing
// is appended.
Status MinifyJson(std::string_view json, std::string& out);

// Structural equality of two awareness data texts (§11):
// * same kind; true/false/null equal themselves;
// * objects: same number of members, and each member of `a` is found by name in `b` (ordinal,
//   last duplicate wins) with an equal value — member order is ignored;
// * arrays: same length, pairwise equal, in order;
// * strings: ordinal equality after unescaping ("\u0041" == "A");
// * numbers: equal as decimals when both are within the .NET decimal range (1 == 1.0 == 10e-1),
//   else as doubles when both are finite doubles, else by raw token text. Decimal comparison here is
//   exact; .NET rounds inputs with more than 28-29 significant digits first, so such inputs may
//   compare unequal here where the reference calls them equal.
// An empty text means absent data, equal only to absent data. Invalid JSON is equal to nothing.
bool AwarenessDataEquals(std::string_view a_json, std::string_view b_json);

// Same comparison on subtrees of already parsed texts.
bool JsonValuesEqual(const json::RawJsonTree& a, uint32_t a_index, const json::RawJsonTree& b, uint32_t b_index);

// Equality of two JSON number tokens as described above.
bool JsonNumbersEqual(std::string_view a_token, std::string_view b_token);

// Coalescing rule: an update is a no-op when the same peer sends data structurally equal to its
// stored data (different peers never coalesce; peer ids compare ordinally).
bool IsAwarenessUpdateNoOp(std::string_view existing_peer, std::string_view existing_data_json,
                           std::string_view incoming_peer, std::string_view incoming_data_json);

// Expiry: a state is stale when now - last_updated > ttl (strictly; exactly ttl is still live).
bool IsAwarenessExpired(std::chrono::system_clock::time_point last_updated, std::chrono::system_clock::time_point now,
                        std::chrono::nanoseconds ttl = kDefaultAwarenessTtl);

}  // namespace opstream::engines
