#include "engines/text/utf16_gap_buffer.hpp"

#include <algorithm>

namespace opstream::engines {
namespace {
// Room left after growing, so a burst of typing does not reallocate each time.
constexpr size_t kMinimumGap = 256;
}  // namespace

Utf16GapBuffer& Utf16GapBuffer::operator=(const Utf16GapBuffer& other) {
  if (this == &other) return *this;
  Utf16GapBuffer copy;
  copy.capacity_ = other.size() + kMinimumGap;
  copy.data_ = std::make_unique_for_overwrite<char16_t[]>(copy.capacity_);
  const std::u16string_view first = other.before(), second = other.after();
  std::copy(first.begin(), first.end(), copy.data_.get());
  std::copy(second.begin(), second.end(), copy.data_.get() + first.size());
  copy.gap_begin_ = other.size();
  copy.gap_end_ = copy.capacity_;
  *this = std::move(copy);
  return *this;
}

std::u16string Utf16GapBuffer::Text() const {
  std::u16string text;
  text.reserve(size());
  text.append(before());
  text.append(after());
  return text;
}

void Utf16GapBuffer::CopyTo(size_t pos, size_t count, std::u16string& out) const {
  const size_t length = size();
  if (pos >= length) return;
  count = std::min(count, length - pos);
  const std::u16string_view first = before(), second = after();
  if (pos < first.size()) {
    const size_t from_first = std::min(count, first.size() - pos);
    out.append(first.substr(pos, from_first));
    count -= from_first;
    pos = first.size();
  }
  if (count > 0) out.append(second.substr(pos - first.size(), count));
}

bool Utf16GapBuffer::Equals(std::u16string_view text) const noexcept {
  const std::u16string_view first = before(), second = after();
  return text.size() == first.size() + second.size() && text.substr(0, first.size()) == first &&
         text.substr(first.size()) == second;
}

void Utf16GapBuffer::Assign(std::u16string_view text) {
  const size_t capacity = text.size() + kMinimumGap;
  auto data = std::make_unique_for_overwrite<char16_t[]>(capacity);
  std::copy(text.begin(), text.end(), data.get());
  data_ = std::move(data);
  capacity_ = capacity;
  gap_begin_ = text.size();
  gap_end_ = capacity;
}

void Utf16GapBuffer::Grow(size_t extra) {
  const size_t length = size();
  const size_t capacity = std::max(capacity_ * 2, length + extra + kMinimumGap);
  auto data = std::make_unique_for_overwrite<char16_t[]>(capacity);
  std::copy(data_.get(), data_.get() + gap_begin_, data.get());
  const size_t tail = capacity_ - gap_end_;
  std::copy(data_.get() + gap_end_, data_.get() + capacity_, data.get() + capacity - tail);
  data_ = std::move(data);
  gap_end_ = capacity - tail;
  capacity_ = capacity;
}

}  // namespace opstream::engines
