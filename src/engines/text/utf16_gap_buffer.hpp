#pragma once
// UTF-16 text with a movable gap at the editing position. Edits near the previous one (typing,
// backspacing) cost O(1) plus the distance moved, which makes small in-place ops on large
// documents cheap.
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace opstream::engines {

class Utf16GapBuffer {
 public:
  Utf16GapBuffer() = default;
  explicit Utf16GapBuffer(std::u16string_view text) { Assign(text); }
  Utf16GapBuffer(const Utf16GapBuffer& other) { *this = other; }
  Utf16GapBuffer& operator=(const Utf16GapBuffer& other);
  Utf16GapBuffer(Utf16GapBuffer&&) noexcept = default;
  Utf16GapBuffer& operator=(Utf16GapBuffer&&) noexcept = default;

  size_t size() const noexcept { return capacity_ - (gap_end_ - gap_begin_); }
  bool empty() const noexcept { return size() == 0; }
  char16_t at(size_t pos) const noexcept { return pos < gap_begin_ ? data_[pos] : data_[pos + gap_end_ - gap_begin_]; }

  // The text is before() followed by after().
  std::u16string_view before() const noexcept { return {data_.get(), gap_begin_}; }
  std::u16string_view after() const noexcept { return {data_.get() + gap_end_, capacity_ - gap_end_}; }
  std::u16string Text() const;
  // Appends units [pos, pos + count) (clipped to the text) to `out`.
  void CopyTo(size_t pos, size_t count, std::u16string& out) const;
  bool Equals(std::u16string_view text) const noexcept;

  void Assign(std::u16string_view text);
  // Ensures `extra` more units fit without reallocating. May throw std::bad_alloc; callers reserve
  // before they start modifying so that a failure leaves the text untouched.
  void Reserve(size_t extra) {
    if (gap_end_ - gap_begin_ < extra) Grow(extra);
  }
  // Inserts at `pos` (<= size()). Requires Reserve(count) beforehand.
  void Insert(size_t pos, const char16_t* units, size_t count) noexcept {
    if (count == 0) return;
    MoveGapTo(pos);
    CopyUnits(data_.get() + gap_begin_, units, count);
    gap_begin_ += count;
  }
  // Removes [pos, pos + count), which must lie inside the text.
  void Erase(size_t pos, size_t count) noexcept {
    if (count == 0) return;
    if (pos + count == gap_begin_) {  // backspace: the removed range ends at the gap
      gap_begin_ = pos;
      return;
    }
    MoveGapTo(pos);
    gap_end_ += count;
  }

 private:
  void Grow(size_t extra);
  // Typing moves the gap by a few units and inserts one, where a library call costs more than the
  // copy itself. The source and destination of each move do not overlap (the gap lies between).
  static void CopyUnits(char16_t* destination, const char16_t* source, size_t count) noexcept {
    if (count <= 8) {
      for (size_t i = 0; i < count; ++i) destination[i] = source[i];
    } else {
      std::memmove(destination, source, count * sizeof(char16_t));
    }
  }
  void MoveGapTo(size_t pos) noexcept {
    if (pos < gap_begin_) {
      const size_t count = gap_begin_ - pos;
      if (count <= gap_end_ - gap_begin_) {
        CopyUnits(data_.get() + gap_end_ - count, data_.get() + pos, count);
      } else {
        std::memmove(data_.get() + gap_end_ - count, data_.get() + pos, count * sizeof(char16_t));
      }
      gap_begin_ = pos;
      gap_end_ -= count;
    } else if (pos > gap_begin_) {
      const size_t count = pos - gap_begin_;
      if (count <= gap_end_ - gap_begin_) {
        CopyUnits(data_.get() + gap_begin_, data_.get() + gap_end_, count);
      } else {
        std::memmove(data_.get() + gap_begin_, data_.get() + gap_end_, count * sizeof(char16_t));
      }
      gap_begin_ += count;
      gap_end_ += count;
    }
  }

  std::unique_ptr<char16_t[]> data_;
  size_t capacity_ = 0;
  size_t gap_begin_ = 0;
  size_t gap_end_ = 0;
};

}  // namespace opstream::engines
