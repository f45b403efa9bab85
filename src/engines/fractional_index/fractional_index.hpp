#pragma once
// Fractional indexes: the position strings of tree siblings and table rows/columns (engines.md §10).
//
// The server only stores positions and compares them ordinally; this is the generator clients use
// (and server-side helpers may use), reproduced digit for digit so that two peers computing the same
// gap get the same key. Keys are strings of UTF-16 code units (§1.1); the alphabet is printable ASCII
// '!' (0x21) to '~' (0x7E), and a missing bound is open.
#include <optional>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace opstream::engines {

inline constexpr char16_t kFractionalIndexMinDigit = u'!';
inline constexpr char16_t kFractionalIndexMaxDigit = u'~';

// A key strictly between `left` and `right` (std::nullopt = open bound). Fails, as the reference
// throws ArgumentException, when left >= right or when no key exists between them (e.g. ("a", "a!")
// or (open, "!")). On failure `out` is left unchanged.
Status FractionalIndexBetween(std::optional<std::u16string_view> left, std::optional<std::u16string_view> right,
                              std::u16string& out);

// Same over UTF-8 strings (converted to UTF-16 code units and back).
Status FractionalIndexBetweenUtf8(std::optional<std::string_view> left, std::optional<std::string_view> right,
                                  std::string& out);

}  // namespace opstream::engines
