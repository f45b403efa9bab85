#pragma once
// Small ASCII and UTF helpers shared by configuration, validation and the protocols.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace opstream {

std::string AsciiLower(std::string_view s);
bool AsciiIEquals(std::string_view a, std::string_view b);
std::string_view TrimWhitespace(std::string_view s);
// True for empty or whitespace-only strings (.NET string.IsNullOrWhiteSpace on ASCII and UTF-8 spaces).
bool IsBlank(std::string_view s);
std::vector<std::string_view> Split(std::string_view s, char separator);

// Number of UTF-16 code units needed for the UTF-8 text (a .NET string's Length).
// Invalid UTF-8 sequences count one unit per byte.
size_t Utf16Length(std::string_view utf8);
// True if the UTF-8 text contains a code point in U+0000–U+001F or U+007F–U+009F.
bool ContainsControlCharacters(std::string_view utf8);
bool IsValidUtf8(std::string_view s);

}  // namespace opstream
