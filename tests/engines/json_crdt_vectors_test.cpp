// Every `json` case of engine-vectors.json (engines.md §15), one test each: apply (exact snapshot
// bytes), apply-sequence, compose, invert (with the state after the inverse), converge (both
// orders; bytes of a-then-b, maps of b-then-a), restamp.
//
// Documented decisions (docs/engines/json-and-form.md):
// * json-apply-020 (set without "value"): the reference fails when re-serializing; the C++ engine
//   rejects at parse time (§6.9). json-apply-021/022 are rejected at parse time as in the reference.
// * json-converge-003: the register order differs between the two orders and the vector gives
//   no b-then-a bytes, so b-then-a is compared as a map.
#include "engines/json_crdt/json_crdt_engine.hpp"
#include "json_crdt_vector_support.hpp"

namespace opstream::engines::testing {
namespace {

// The vector file has 43 json cases.
[[maybe_unused]] const bool kRegistered = RegisterCrdtVectorTests("JsonCrdtVectors", "json", MakeJsonCrdtEngine(), 43);

}  // namespace
}  // namespace opstream::engines::testing
