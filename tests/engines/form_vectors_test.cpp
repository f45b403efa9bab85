// Every `form` case of engine-vectors.json (engines.md §15), one test each: apply (exact snapshot
// bytes), invert (with the state after the inverse), converge (both orders), restamp. Invert and
// restamp vectors use timestamps near 9·10^15, so the wall clock (§1.7) cannot change the result.
#include "engines/form/form_engine.hpp"
#include "json_crdt_vector_support.hpp"

namespace opstream::engines::testing {
namespace {

// The vector file has 11 form cases.
[[maybe_unused]] const bool kRegistered = RegisterCrdtVectorTests("FormVectors", "form", MakeFormEngine(), 11);

}  // namespace
}  // namespace opstream::engines::testing
