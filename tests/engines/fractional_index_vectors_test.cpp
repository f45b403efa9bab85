// Every `fractional-index` case of engine-vectors.json (engines.md §10), plus the generator's
// invariants on chains of keys.
#include <random>

#include "engines/fractional_index/fractional_index.hpp"
#include "table_tree_vector_support.hpp"

namespace opstream::engines {
namespace {

using vectors::VectorCase;
using vectors::bj::value;

std::optional<std::string> Bound(const value* v) {
  if (v == nullptr || v->is_null()) return std::nullopt;
  return std::string(v->as_string());
}

class FractionalIndexVectorTest : public ::testing::Test {
 public:
  explicit FractionalIndexVectorTest(VectorCase c) : case_(std::move(c)) {}
  void TestBody() override {
    SCOPED_TRACE(case_.id + ": " + case_.Note());
    ASSERT_EQ(case_.kind, "between");
    const auto left = Bound(case_.Find("left"));
    const auto right = Bound(case_.Find("right"));
    const value* expected = case_.Find("expected");
    ASSERT_NE(expected, nullptr);
    std::string key = "untouched";
    const Status status = FractionalIndexBetweenUtf8(left, right, key);
    if (expected->is_object()) {
      EXPECT_FALSE(status.ok()) << "expected a failure, got key " << key;
      EXPECT_EQ(key, "untouched");
      EXPECT_FALSE(status.message().empty());
    } else {
      ASSERT_TRUE(status.ok()) << status.message();
      EXPECT_EQ(key, std::string(expected->as_string()));
    }
  }

 private:
  VectorCase case_;
};

[[maybe_unused]] const bool kRegistered = vectors::RegisterEngineVectors(
    "FractionalIndexVectors", "fractional-index", 13,
    [](VectorCase c) -> ::testing::Test* { return new FractionalIndexVectorTest(std::move(c)); });

// Repeated insertion at random gaps keeps every key strictly between its neighbours and the list
// sorted; a failure prints the seed (OPSTREAM_PROP_SEED replays it).
TEST(FractionalIndex, RandomInsertionsStayStrictlyOrdered) {
  const char* env = std::getenv("OPSTREAM_PROP_SEED");
  const uint64_t seed = env ? std::strtoull(env, nullptr, 10) : 20261126u;
  std::mt19937_64 rng(seed);
  std::vector<std::u16string> keys;
  for (int step = 0; step < 2000; ++step) {
    const size_t gap = rng() % (keys.size() + 1);
    std::optional<std::u16string_view> left, right;
    if (gap > 0) left = keys[gap - 1];
    if (gap < keys.size()) right = keys[gap];
    std::u16string key;
    ASSERT_TRUE(FractionalIndexBetween(left, right, key).ok()) << "seed " << seed << " step " << step;
    if (left) {
      ASSERT_LT(*left, key) << "seed " << seed;
    }
    if (right) {
      ASSERT_LT(key, *right) << "seed " << seed;
    }
    for (char16_t c : key) {
      ASSERT_TRUE(c >= u'!' && c <= u'~') << "seed " << seed;
    }
    keys.insert(keys.begin() + static_cast<std::ptrdiff_t>(gap), key);
  }
}

TEST(FractionalIndex, RejectsBoundsOutsideTheAlphabetInsteadOfMisordering) {
  std::u16string key;
  // 0x7F sorts after '~': the walk finds no room and the result check refuses.
  EXPECT_FALSE(FractionalIndexBetween(std::u16string_view(u"\x7F"), std::nullopt, key).ok());
  EXPECT_TRUE(key.empty());
  // Ordinal over UTF-16 units: a supplementary character (high surrogate 0xD83D) sorts before U+E000.
  EXPECT_FALSE(FractionalIndexBetween(std::u16string_view(u"\xE000"), std::u16string_view(u"\xD83D\xDE00"), key).ok());
}

}  // namespace
}  // namespace opstream::engines
