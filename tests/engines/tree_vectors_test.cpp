// Every `tree` case of engine-vectors.json (engines.md §9): apply, apply-sequence, converge and
// invert, with exact snapshot bytes.
#include "engines/tree/tree_engine.hpp"
#include "table_tree_vector_support.hpp"

namespace opstream::engines {
namespace {

const TreeEngine kEngine;

[[maybe_unused]] const bool kRegistered = vectors::RegisterEngineVectors(
    "TreeVectors", "tree", 10,
    [](vectors::VectorCase c) -> ::testing::Test* { return new vectors::CrdtVectorTest(kEngine, std::move(c)); });

}  // namespace
}  // namespace opstream::engines
