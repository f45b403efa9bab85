#include "engines/json/json_writer.hpp"

#include <array>
#include <charconv>
#include <cstring>

#include "engines/json/raw_json.hpp"
#include "engines/json/utf16.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace opstream::engines::json {
namespace {

// For each ASCII character: 0 when written as itself, otherwise the escape letter ('u' means \u00XX).
constexpr std::array<char, 128> MakeAsciiEscapes() {
  std::array<char, 128> table{};
  for (int c = 0; c < 0x20; ++c) table[c] = 'u';
  table['\b'] = 'b';
  table['\t'] = 't';
  table['\n'] = 'n';
  table['\f'] = 'f';
  table['\r'] = 'r';
  table['\\'] = '\\';
  for (char c : {'"', '&', '\'', '+', '<', '>', '`'}) table[static_cast<unsigned char>(c)] = 'u';
  table[0x7F] = 'u';
  return table;
}
constexpr std::array<char, 128> kAsciiEscapes = MakeAsciiEscapes();

constexpr char kHexDigits[] = "0123456789ABCDEF";

inline bool IsPlainByte(unsigned char c) noexcept { return c < 0x80 && kAsciiEscapes[c] == 0; }

#if defined(__SSE2__)
// Bit i is set when byte i of `v` must be escaped (or starts a non-ASCII sequence).
inline int EscapeMask(__m128i v) noexcept {
  // Signed compare: bytes >= 0x80 are negative, so this also flags every non-ASCII byte.
  __m128i bad = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
  bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F)));
  bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
  bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
  bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8('+')));
  bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8('`')));
  // '&' 0x26 and '\'' 0x27 differ in bit 0; '<' 0x3C and '>' 0x3E differ in bit 1.
  bad =
      _mm_or_si128(bad, _mm_cmpeq_epi8(_mm_and_si128(v, _mm_set1_epi8(static_cast<char>(0xFE))), _mm_set1_epi8(0x26)));
  bad =
      _mm_or_si128(bad, _mm_cmpeq_epi8(_mm_and_si128(v, _mm_set1_epi8(static_cast<char>(0xFD))), _mm_set1_epi8(0x3C)));
  return _mm_movemask_epi8(bad);
}
#endif

// Length of the prefix of `s` that is written unchanged.
inline size_t PlainPrefixLength(const char* s, size_t n) noexcept {
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= n; i += 16) {
    const int mask = EscapeMask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)));
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  while (i < n && IsPlainByte(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}

inline size_t PlainPrefixLength(const char16_t* s, size_t n) noexcept {
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= n; i += 16) {
    const __m128i low = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    const __m128i high = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 8));
    // Signed saturation: units 0x0100–0x7FFF become 0xFF and units >= 0x8000 become 0x00, both
    // of which are flagged, so the packed bytes are plain exactly when the units are.
    const int mask = EscapeMask(_mm_packus_epi16(low, high));
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  while (i < n && s[i] < 0x80 && kAsciiEscapes[s[i]] == 0) ++i;
  return i;
}

inline void AppendUnitEscape(std::string& out, uint32_t unit) {
  const char escape[6] = {'\\',
                          'u',
                          kHexDigits[(unit >> 12) & 0xF],
                          kHexDigits[(unit >> 8) & 0xF],
                          kHexDigits[(unit >> 4) & 0xF],
                          kHexDigits[unit & 0xF]};
  out.append(escape, sizeof escape);
}

inline void AppendAsciiEscape(std::string& out, unsigned char c) {
  const char letter = kAsciiEscapes[c];
  if (letter == 'u') {
    AppendUnitEscape(out, c);
  } else {
    const char escape[2] = {'\\', letter};
    out.append(escape, 2);
  }
}

inline void AppendCodePointEscape(std::string& out, uint32_t code_point) {
  if (code_point >= 0x10000) {
    code_point -= 0x10000;
    AppendUnitEscape(out, 0xD800 + (code_point >> 10));
    AppendUnitEscape(out, 0xDC00 + (code_point & 0x3FF));
  } else {
    AppendUnitEscape(out, code_point);
  }
}

// Narrowing copy of plain ASCII units (the caller checked they are all < 0x80).
inline void AppendNarrowed(std::string& out, const char16_t* s, size_t n) {
  const size_t old_size = out.size();
  out.resize(old_size + n);
  char* dst = out.data() + old_size;
  for (size_t k = 0; k < n; ++k) dst[k] = static_cast<char>(s[k]);
}

}  // namespace

void AppendEscapedUtf8(std::string& out, std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t plain = PlainPrefixLength(s.data() + i, s.size() - i);
    out.append(s.data() + i, plain);
    i += plain;
    if (i >= s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      AppendAsciiEscape(out, c);
      ++i;
      continue;
    }
    uint32_t code_point = 0;
    const size_t length = DecodeUtf8Sequence(s, i, code_point);
    if (length == 0) {
      AppendUnitEscape(out, 0xFFFD);
      ++i;
    } else {
      AppendCodePointEscape(out, code_point);
      i += length;
    }
  }
}

void AppendEscapedUtf16(std::string& out, std::u16string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t plain = PlainPrefixLength(s.data() + i, s.size() - i);
    AppendNarrowed(out, s.data() + i, plain);
    i += plain;
    if (i >= s.size()) break;
    const char16_t unit = s[i];
    if (unit < 0x80) {
      AppendAsciiEscape(out, static_cast<unsigned char>(unit));
      ++i;
    } else if (IsHighSurrogate(unit) && i + 1 < s.size() && IsLowSurrogate(s[i + 1])) {
      AppendUnitEscape(out, unit);
      AppendUnitEscape(out, s[i + 1]);
      i += 2;
    } else if (IsHighSurrogate(unit) || IsLowSurrogate(unit)) {
      AppendUnitEscape(out, 0xFFFD);
      ++i;
    } else {
      AppendUnitEscape(out, unit);
      ++i;
    }
  }
}

void AppendJsonString(std::string& out, std::string_view utf8) {
  out.reserve(out.size() + utf8.size() + 2);
  out.push_back('"');
  AppendEscapedUtf8(out, utf8);
  out.push_back('"');
}

void AppendJsonString(std::string& out, std::u16string_view utf16) {
  out.reserve(out.size() + utf16.size() + 2);
  out.push_back('"');
  AppendEscapedUtf16(out, utf16);
  out.push_back('"');
}

void AppendJsonString(std::string& out, std::u16string_view first, std::u16string_view second) {
  out.reserve(out.size() + first.size() + second.size() + 2);
  out.push_back('"');
  if (!first.empty() && !second.empty() && IsHighSurrogate(first.back()) && IsLowSurrogate(second.front())) {
    AppendEscapedUtf16(out, first.substr(0, first.size() - 1));
    AppendUnitEscape(out, first.back());
    AppendUnitEscape(out, second.front());
    AppendEscapedUtf16(out, second.substr(1));
  } else {
    AppendEscapedUtf16(out, first);
    AppendEscapedUtf16(out, second);
  }
  out.push_back('"');
}

void AppendJsonInt(std::string& out, int64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

void JsonWriter::ReserializedValue(std::string_view validated_json) {
  Separate();
  AppendReserializedValidated(validated_json, out_);
}

}  // namespace opstream::engines::json
