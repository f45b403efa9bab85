#include "engines/json/ordinal.hpp"

#include <cstdint>

#include "engines/json/utf16.hpp"

namespace opstream::engines::json {
namespace {

inline bool IsContinuation(unsigned char c) noexcept { return (c & 0xC0) == 0x80; }

// A key whose order is the UTF-16 order of the first unit(s): BMP characters above the surrogate
// block move past every supplementary character.
inline uint32_t Utf16SortKey(uint32_t code_point) noexcept {
  return code_point >= 0xE000 && code_point <= 0xFFFF ? code_point + 0x110000 : code_point;
}

}  // namespace

int CompareOrdinalUtf16(std::string_view a, std::string_view b) noexcept {
  const size_t common = a.size() < b.size() ? a.size() : b.size();
  size_t i = 0;
  while (i < common && a[i] == b[i]) ++i;
  if (i == common) return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
  const auto byte_a = static_cast<unsigned char>(a[i]);
  const auto byte_b = static_cast<unsigned char>(b[i]);
  // Both differing bytes are ASCII or lead bytes below 0xEE: byte order is already UTF-16 order.
  if (byte_a < 0xEE && byte_b < 0xEE && !IsContinuation(byte_a) && !IsContinuation(byte_b)) {
    return byte_a < byte_b ? -1 : 1;
  }
  size_t start = i;
  while (start > 0 && IsContinuation(static_cast<unsigned char>(a[start]))) --start;
  uint32_t cp_a = 0, cp_b = 0;
  const bool ok_a = static_cast<unsigned char>(a[start]) < 0x80 ? (cp_a = static_cast<unsigned char>(a[start]), true)
                                                                : DecodeUtf8Sequence(a, start, cp_a) != 0;
  const bool ok_b = static_cast<unsigned char>(b[start]) < 0x80 ? (cp_b = static_cast<unsigned char>(b[start]), true)
                                                                : DecodeUtf8Sequence(b, start, cp_b) != 0;
  if (!ok_a || !ok_b || cp_a == cp_b) return byte_a < byte_b ? -1 : 1;
  return Utf16SortKey(cp_a) < Utf16SortKey(cp_b) ? -1 : 1;
}

}  // namespace opstream::engines::json
