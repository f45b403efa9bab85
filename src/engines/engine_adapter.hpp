#pragma once
// The Engine methods are the boundary to the session layer, which expects no exceptions. Inside an
// engine the only thing that can throw is memory allocation (std::bad_alloc, or length_error for
// absurd sizes); these helpers turn it into a rejection or into nothing appended, the same way for
// every engine.
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "common/status.hpp"

namespace opstream::engines {

// Parses `json` into a new T with `parse(json, T&)`; `out` is set only when that succeeds.
template <class T, class Base, class Parse>
Status ParseIntoNew(std::string_view json, std::unique_ptr<Base>& out, Parse&& parse, const char* out_of_memory) {
  try {
    auto value = std::make_unique<T>();
    Status status = parse(json, *value);
    if (status.ok()) out = std::move(value);
    return status;
  } catch (const std::exception&) {
    return Status::Error(out_of_memory);
  }
}

// The engine's own object behind an interface reference (a DocumentState or an Op), or null when it
// belongs to another engine. Constness follows the argument.
template <class T, class Base>
std::conditional_t<std::is_const_v<Base>, const T, T>* ExactCast(Base& value) noexcept {
  using Result = std::conditional_t<std::is_const_v<Base>, const T, T>;
  return typeid(value) == typeid(T) ? static_cast<Result*>(&value) : nullptr;
}

// A copy of `op` as a new op, or null when there is none or memory runs out.
template <class T, class Base>
std::unique_ptr<Base> CopyOrNull(const T* op) {
  if (op == nullptr) return nullptr;
  try {
    return std::make_unique<T>(*op);
  } catch (const std::exception&) {
    return nullptr;
  }
}

// Runs `append()`, which appends to `out`; if it throws, `out` is cut back to what it was.
template <class Append>
void AppendOrRollBack(std::string& out, Append&& append) {
  const size_t original_size = out.size();
  try {
    append();
  } catch (const std::exception&) {
    out.resize(original_size);
  }
}

}  // namespace opstream::engines
