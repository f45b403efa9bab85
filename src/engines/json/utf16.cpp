#include "engines/json/utf16.hpp"

#include <cstdint>
#include <cstring>

namespace opstream::engines::json {
namespace {

constexpr char16_t kReplacement = 0xFFFD;

inline bool IsContinuation(unsigned char c) noexcept { return (c & 0xC0) == 0x80; }

inline size_t DecodeMultiByte(std::string_view s, size_t i, uint32_t& code_point) noexcept {
  const auto lead = static_cast<unsigned char>(s[i]);
  const size_t remaining = s.size() - i;
  if (lead >= 0xC2 && lead <= 0xDF) {
    if (remaining < 2 || !IsContinuation(static_cast<unsigned char>(s[i + 1]))) return 0;
    code_point = ((lead & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
    return 2;
  }
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (remaining < 3) return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    const auto b2 = static_cast<unsigned char>(s[i + 2]);
    if (!IsContinuation(b1) || !IsContinuation(b2)) return 0;
    code_point = ((lead & 0x0Fu) << 12) | ((b1 & 0x3Fu) << 6) | (b2 & 0x3Fu);
    if (code_point < 0x800 || (code_point >= 0xD800 && code_point <= 0xDFFF)) return 0;
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (remaining < 4) return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    const auto b2 = static_cast<unsigned char>(s[i + 2]);
    const auto b3 = static_cast<unsigned char>(s[i + 3]);
    if (!IsContinuation(b1) || !IsContinuation(b2) || !IsContinuation(b3)) return 0;
    code_point = ((lead & 0x07u) << 18) | ((b1 & 0x3Fu) << 12) | ((b2 & 0x3Fu) << 6) | (b3 & 0x3Fu);
    if (code_point < 0x10000 || code_point > 0x10FFFF) return 0;
    return 4;
  }
  return 0;
}

// Eight bytes at once: true when none has the high bit set.
inline bool EightAsciiBytes(const char* p) noexcept {
  uint64_t word;
  std::memcpy(&word, p, sizeof word);
  return (word & 0x8080808080808080ull) == 0;
}

}  // namespace

size_t DecodeUtf8Sequence(std::string_view utf8, size_t i, uint32_t& code_point) noexcept {
  return DecodeMultiByte(utf8, i, code_point);
}

size_t Utf16LengthOfUtf8(std::string_view utf8) noexcept {
  size_t units = 0;
  size_t i = 0;
  while (i < utf8.size()) {
    if (i + 8 <= utf8.size() && EightAsciiBytes(utf8.data() + i)) {
      units += 8;
      i += 8;
      continue;
    }
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      ++units;
      ++i;
      continue;
    }
    uint32_t code_point = 0;
    const size_t length = DecodeMultiByte(utf8, i, code_point);
    if (length == 0) {
      ++units;
      ++i;
    } else {
      units += code_point >= 0x10000 ? 2 : 1;
      i += length;
    }
  }
  return units;
}

size_t Utf8ToUtf16(std::string_view utf8, char16_t* out) noexcept {
  char16_t* const start = out;
  size_t i = 0;
  while (i < utf8.size()) {
    if (i + 8 <= utf8.size() && EightAsciiBytes(utf8.data() + i)) {
      for (size_t k = 0; k < 8; ++k) out[k] = static_cast<unsigned char>(utf8[i + k]);
      out += 8;
      i += 8;
      continue;
    }
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      *out++ = c;
      ++i;
      continue;
    }
    uint32_t code_point = 0;
    const size_t length = DecodeMultiByte(utf8, i, code_point);
    if (length == 0) {
      *out++ = kReplacement;
      ++i;
    } else if (code_point >= 0x10000) {
      code_point -= 0x10000;
      *out++ = static_cast<char16_t>(0xD800 + (code_point >> 10));
      *out++ = static_cast<char16_t>(0xDC00 + (code_point & 0x3FF));
      i += length;
    } else {
      *out++ = static_cast<char16_t>(code_point);
      i += length;
    }
  }
  return static_cast<size_t>(out - start);
}

void AppendUtf8AsUtf16(std::string_view utf8, std::u16string& out) {
  const size_t old_size = out.size();
  out.resize(old_size + utf8.size());  // upper bound: one unit per byte
  const size_t written = Utf8ToUtf16(utf8, out.data() + old_size);
  out.resize(old_size + written);
}

std::u16string Utf8ToUtf16(std::string_view utf8) {
  std::u16string out;
  AppendUtf8AsUtf16(utf8, out);
  return out;
}

void AppendUtf16AsUtf8(std::u16string_view utf16, std::string& out) {
  out.reserve(out.size() + utf16.size());
  for (size_t i = 0; i < utf16.size(); ++i) {
    uint32_t code_point = utf16[i];
    if (IsHighSurrogate(utf16[i]) && i + 1 < utf16.size() && IsLowSurrogate(utf16[i + 1])) {
      code_point = 0x10000 + ((code_point - 0xD800) << 10) + (utf16[i + 1] - 0xDC00u);
      ++i;
    } else if (IsHighSurrogate(utf16[i]) || IsLowSurrogate(utf16[i])) {
      code_point = kReplacement;
    }
    AppendCodePointAsUtf8(code_point, out);
  }
}

std::string Utf16ToUtf8(std::u16string_view utf16) {
  std::string out;
  AppendUtf16AsUtf8(utf16, out);
  return out;
}

void AppendCodePointAsUtf8(uint32_t code_point, std::string& out) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

}  // namespace opstream::engines::json
