// Awareness data helpers (engines.md §11): minifier, structural equality, coalescing and expiry.
#include "engines/awareness_data.hpp"

#include <gtest/gtest.h>

namespace opstream::engines {
namespace {

TEST(AwarenessData, MinifyKeepsTokensVerbatim) {
  std::string out;
  ASSERT_TRUE(
      MinifyJson(" { \"cursor\" : { \"x\" : 1.0 , \"y\" : 1e2 } , \"name\" : \"A\\u0041 b\" , \"tags\" : [ ] } ", out)
          .ok());
  EXPECT_EQ(out, R"({"cursor":{"x":1.0,"y":1e2},"name":"A\u0041 b","tags":[]})");
}

TEST(AwarenessData, MinifyRejectsInvalidJsonAndAppendsNothing) {
  for (const char* bad : {"{\"a\":1,}", "[1]/*c*/", "{\"s\":\"\\ud800\"}", "\"\xff\"", "", "{} {}"}) {
    std::string out = "kept";
    EXPECT_FALSE(MinifyJson(bad, out).ok()) << bad;
    EXPECT_EQ(out, "kept");
  }
}

TEST(AwarenessData, StructuralEquality) {
  struct EqualityCase {
    const char* a;
    const char* b;
    bool equal;
  };
  const EqualityCase cases[] = {
      {R"({"x":1,"y":2})", R"({ "y" : 2, "x" : 1 })", true},
      {R"([1,2])", R"([2,1])", false},
      {R"({"a":1})", R"({"a":1,"b":null})", false},
      {R"({"a":1})", R"({"b":1})", false},
      {"1", "1.0", true},
      {"1", "1e0", true},
      {"1", "10e-1", true},
      {"0.10", "0.1", true},
      {"-0", "0", true},
      {"0", "0.0e5", true},
      {"1", "2", false},
      {"1", "-1", false},
      {"1e28", "10000000000000000000000000000", true},
      {"79228162514264337593543950335", "7.9228162514264337593543950335e28", true},
      // Outside the decimal range: compared as doubles.
      {"1e30", "1000000000000000000000000000000.0", true},
      {"1e30", "1e31", false},
      // Not finite as doubles either: compared by raw text.
      {"1e400", "1e400", true},
      {"1e400", "1E400", false},
      {"1", "\"1\"", false},
      {"true", "true", true},
      {"true", "false", false},
      {"null", "null", true},
      {"null", "false", false},
      {"[]", "{}", false},
      {R"("\u0041")", R"("A")", true},
      {R"("\u00e9")", "\"\u00e9\"", true},
      {R"("a")", R"("A")", false},
      {R"({"k":[{"z":[1,{"q":"w"}]}]})", R"({"k":[{"z":[1.0,{"q":"\u0077"}]}]})", true},
      {R"({"k":[{"z":[1,{"q":"w"}]}]})", R"({"k":[{"z":[1,{"q":"W"}]}]})", false},
      // Names are matched after unescaping, ordinally.
      {R"({"\u0061":1})", R"({"a":1})", true},
      {R"({"a":1})", R"({"A":1})", false},
  };
  for (const EqualityCase& c : cases) {
    EXPECT_EQ(AwarenessDataEquals(c.a, c.b), c.equal) << c.a << " vs " << c.b;
    EXPECT_EQ(AwarenessDataEquals(c.b, c.a), c.equal) << c.b << " vs " << c.a;
  }
}

TEST(AwarenessData, AbsentAndInvalidData) {
  EXPECT_TRUE(AwarenessDataEquals("", ""));
  EXPECT_FALSE(AwarenessDataEquals("", "{}"));
  EXPECT_FALSE(AwarenessDataEquals("null", ""));
  EXPECT_FALSE(AwarenessDataEquals("[1,]", "[1,]"));
}

TEST(AwarenessData, DuplicateNamesUseTheLastValue) {
  // Each member of the first object is looked up in the second, where the last duplicate wins.
  EXPECT_TRUE(AwarenessDataEquals(R"({"x":2,"x":2})", R"({"x":1,"x":2})"));
  EXPECT_FALSE(AwarenessDataEquals(R"({"x":1,"x":2})", R"({"x":1,"x":2,"y":0})"));
}

TEST(AwarenessData, CoalescingNeedsTheSamePeer) {
  EXPECT_TRUE(IsAwarenessUpdateNoOp("p1", R"({"x":1})", "p1", R"({ "x" : 1.0 })"));
  EXPECT_FALSE(IsAwarenessUpdateNoOp("p1", R"({"x":1})", "p2", R"({"x":1})"));
  EXPECT_FALSE(IsAwarenessUpdateNoOp("p1", R"({"x":1})", "P1", R"({"x":1})"));
  EXPECT_FALSE(IsAwarenessUpdateNoOp("p1", R"({"x":1})", "p1", R"({"x":2})"));
}

TEST(AwarenessData, ExpiryIsStrict) {
  using std::chrono::milliseconds;
  using std::chrono::nanoseconds;
  using std::chrono::seconds;
  const auto now = std::chrono::system_clock::now();
  EXPECT_FALSE(IsAwarenessExpired(now - seconds(30), now));
  EXPECT_TRUE(IsAwarenessExpired(now - seconds(30) - nanoseconds(1000), now));
  EXPECT_FALSE(IsAwarenessExpired(now, now));
  EXPECT_FALSE(IsAwarenessExpired(now + seconds(5), now));  // clock skew: not stale
  EXPECT_TRUE(IsAwarenessExpired(now - milliseconds(1001), now, seconds(1)));
  EXPECT_FALSE(IsAwarenessExpired(now - milliseconds(1000), now, seconds(1)));
}

}  // namespace
}  // namespace opstream::engines
