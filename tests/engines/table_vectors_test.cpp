// Every `table` case of engine-vectors.json (engines.md §7): apply, converge, invert, restamp, with
// exact snapshot bytes where given. Cells use the nested format §7.6 requires (D1), which is what
// the `cells_format: recommended-nested` vectors expect.
#include "engines/table/table_engine.hpp"
#include "table_tree_vector_support.hpp"

namespace opstream::engines {
namespace {

const TableEngine kEngine;

[[maybe_unused]] const bool kRegistered = vectors::RegisterEngineVectors(
    "TableVectors", "table", 13,
    [](vectors::VectorCase c) -> ::testing::Test* { return new vectors::CrdtVectorTest(kEngine, std::move(c)); });

}  // namespace
}  // namespace opstream::engines
