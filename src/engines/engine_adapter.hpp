#pragma once
// The Engine methods are the boundary to the session layer, which expects no exceptions. Inside an
// engine the only thing that can throw is memory allocation (std::bad_alloc, or length_error for
// absurd sizes); these helpers turn it into a rejection or into nothing appended, the same way for
// every engine.
#include <exception>
#include <memory>
#include <string>
#include <string_view>
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
