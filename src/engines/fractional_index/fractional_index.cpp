#include "engines/fractional_index/fractional_index.hpp"

#include "engines/json/utf16.hpp"

namespace opstream::engines {

Status FractionalIndexBetween(std::optional<std::u16string_view> left, std::optional<std::u16string_view> right,
                              std::u16string& out) {
  // std::u16string_view compares code unit by code unit with a proper prefix first: ordinal (§1.2).
  if (left && right && *left >= *right) {
    return Status::Error("FractionalIndex.Between: the left bound must sort strictly before the right bound.");
  }
  std::u16string key;
  // Each step either stops or consumes one digit of a bound, so the loop ends within
  // max(|left|, |right|) + 1 digits; `open_right` is the reference's "treat right as null".
  bool open_right = !right.has_value();
  for (size_t i = 0;; ++i) {
    const char16_t l = left && i < left->size() ? (*left)[i] : kFractionalIndexMinDigit;
    const char16_t r = !open_right && i < right->size() ? (*right)[i] : kFractionalIndexMaxDigit;
    if (l == r) {
      key.push_back(l);
      continue;
    }
    const auto mid = static_cast<char16_t>((static_cast<int>(l) + static_cast<int>(r)) / 2);
    if (mid != l) {
      key.push_back(mid);
      break;
    }
    key.push_back(l);
    open_right = true;
  }
  // The digit walk cannot always find room (bounds using digits outside the alphabet, or a right
  // bound made of minimum digits after the left one); the reference checks the result instead.
  if ((left && key <= *left) || (!open_right && right && key >= *right)) {
    return Status::Error("FractionalIndex.Between: there is no key between the given bounds.");
  }
  out = std::move(key);
  return Status::Ok();
}

Status FractionalIndexBetweenUtf8(std::optional<std::string_view> left, std::optional<std::string_view> right,
                                  std::string& out) {
  std::optional<std::u16string> left16, right16;
  if (left) left16 = json::Utf8ToUtf16(*left);
  if (right) right16 = json::Utf8ToUtf16(*right);
  std::u16string key;
  auto status = FractionalIndexBetween(left16 ? std::optional<std::u16string_view>(*left16) : std::nullopt,
                                       right16 ? std::optional<std::u16string_view>(*right16) : std::nullopt, key);
  if (status.ok()) out = json::Utf16ToUtf8(key);
  return status;
}

}  // namespace opstream::engines
