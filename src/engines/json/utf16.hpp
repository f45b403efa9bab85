#pragma once
// UTF-8 <-> UTF-16 conversion for engines that count in UTF-16 code units (engines.md §1.1).
//
// Inputs normally come out of a validated JSON parse, so they are well formed. Malformed input is
// still handled without overflow: every byte of an invalid UTF-8 sequence becomes one U+FFFD, and
// a lone surrogate in UTF-16 becomes U+FFFD in UTF-8.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace opstream::engines::json {

// Number of UTF-16 code units Utf8ToUtf16 writes for `utf8`. Never more than utf8.size().
size_t Utf16LengthOfUtf8(std::string_view utf8) noexcept;

// Converts `utf8` into `out`, which must have room for Utf16LengthOfUtf8(utf8) units (utf8.size()
// is always enough). Returns the number of units written.
size_t Utf8ToUtf16(std::string_view utf8, char16_t* out) noexcept;

void AppendUtf8AsUtf16(std::string_view utf8, std::u16string& out);
std::u16string Utf8ToUtf16(std::string_view utf8);

void AppendUtf16AsUtf8(std::u16string_view utf16, std::string& out);
std::string Utf16ToUtf8(std::u16string_view utf16);

// Decodes the well-formed multi-byte UTF-8 sequence at utf8[i] (utf8[i] >= 0x80). Returns its length
// in bytes, or 0 when it is malformed (overlong, encoded surrogate, truncated, above U+10FFFF).
// Appends one code point (U+0000–U+10FFFF) encoded as UTF-8.
void AppendCodePointAsUtf8(uint32_t code_point, std::string& out);

size_t DecodeUtf8Sequence(std::string_view utf8, size_t i, uint32_t& code_point) noexcept;

inline bool IsHighSurrogate(char16_t unit) noexcept { return unit >= 0xD800 && unit <= 0xDBFF; }
inline bool IsLowSurrogate(char16_t unit) noexcept { return unit >= 0xDC00 && unit <= 0xDFFF; }

}  // namespace opstream::engines::json
