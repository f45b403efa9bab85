#pragma once
// Ordinal string comparison as .NET does it (engines.md §1.2): lexicographic over UTF-16 code
// units, a proper prefix first. Strings are kept as UTF-8 here, whose byte order is code-point
// order; the two differ only when U+E000–U+FFFF meets a supplementary character (UTF-16 puts the
// supplementary one first, since its high surrogate is below U+E000).
#include <optional>
#include <string>
#include <string_view>

namespace opstream::engines::json {

// <0, 0 or >0 like strcmp. Inputs are expected to be valid UTF-8; malformed bytes compare by byte.
int CompareOrdinalUtf16(std::string_view a, std::string_view b) noexcept;

// A null string (a property absent or null in the JSON) sorts before every string, "" included.
inline int CompareNullableOrdinalUtf16(const std::optional<std::string>& a,
                                       const std::optional<std::string>& b) noexcept {
  if (!a || !b) return a ? 1 : (b ? -1 : 0);
  return CompareOrdinalUtf16(std::string_view(*a), std::string_view(*b));
}

}  // namespace opstream::engines::json
