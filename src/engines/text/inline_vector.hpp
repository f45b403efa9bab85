#pragma once
// A vector of trivially copyable values that keeps its first N elements inside the object, so the
// small ops that make up almost all traffic (a retain plus one insert or delete) need no heap
// allocation beyond the op object itself.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <type_traits>

namespace opstream::engines {

template <typename T, size_t N>
class InlineVector {
  static_assert(std::is_trivially_copyable_v<T>, "InlineVector copies elements with memcpy");
  static_assert(N > 0 && N <= UINT32_MAX);

 public:
  InlineVector() noexcept {}  // user-provided: the inline storage is left uninitialized on purpose
  InlineVector(const InlineVector& other) { Append(other.data(), other.size()); }
  InlineVector(InlineVector&& other) noexcept { TakeFrom(other); }
  InlineVector& operator=(const InlineVector& other) {
    if (this != &other) {
      clear();
      Append(other.data(), other.size());
    }
    return *this;
  }
  InlineVector& operator=(InlineVector&& other) noexcept {
    if (this != &other) {
      Release();
      TakeFrom(other);
    }
    return *this;
  }
  ~InlineVector() { Release(); }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }
  T& operator[](size_t i) noexcept { return data_[i]; }
  const T& operator[](size_t i) const noexcept { return data_[i]; }
  T& back() noexcept { return data_[size_ - 1]; }
  const T& back() const noexcept { return data_[size_ - 1]; }
  const T* begin() const noexcept { return data_; }
  const T* end() const noexcept { return data_ + size_; }

  void clear() noexcept { size_ = 0; }
  void reserve(size_t capacity) {
    if (capacity > capacity_) Grow(capacity);
  }
  void push_back(const T& value) {
    if (size_ == capacity_) Grow(size_ + 1);
    data_[size_++] = value;
  }
  void Append(const T* values, size_t count) {
    if (count == 0) return;
    if (size_ + count > capacity_) Grow(size_ + count);
    std::memcpy(data_ + size_, values, count * sizeof(T));
    size_ += static_cast<uint32_t>(count);
  }
  // Makes room for `count` more elements and returns where they go; finish with Commit.
  T* PrepareAppend(size_t count) {
    if (size_ + count > capacity_) Grow(size_ + count);
    return data_ + size_;
  }
  void Commit(size_t count) noexcept { size_ += static_cast<uint32_t>(count); }

 private:
  bool IsInline() const noexcept { return data_ == inline_; }

  void Grow(size_t minimum) {
    if (minimum > UINT32_MAX) throw std::length_error("InlineVector is limited to 2^32 - 1 elements");
    const size_t capacity = std::min<size_t>(std::max<size_t>(minimum, size_t{capacity_} * 2), UINT32_MAX);
    T* fresh = std::allocator<T>().allocate(capacity);
    std::memcpy(fresh, data_, size_ * sizeof(T));
    Release();
    data_ = fresh;
    capacity_ = static_cast<uint32_t>(capacity);
  }
  void Release() noexcept {
    if (!IsInline()) std::allocator<T>().deallocate(data_, capacity_);
    data_ = inline_;
    capacity_ = N;
  }
  void TakeFrom(InlineVector& other) noexcept {
    if (other.IsInline()) {
      std::memcpy(inline_, other.inline_, other.size_ * sizeof(T));
      data_ = inline_;
      capacity_ = N;
    } else {
      data_ = other.data_;
      capacity_ = other.capacity_;
      other.data_ = other.inline_;
      other.capacity_ = N;
    }
    size_ = other.size_;
    other.size_ = 0;
  }

  // 32-bit sizes keep small ops compact (an op is streamed through the cache once per apply).
  T* data_ = inline_;
  uint32_t size_ = 0;
  uint32_t capacity_ = N;
  T inline_[N];
};

}  // namespace opstream::engines
