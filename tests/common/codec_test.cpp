// Base64 and timestamp texts used on the wire and in storage.
#include <gtest/gtest.h>

#include "common/base64.hpp"
#include "common/clock.hpp"
#include "common/ids.hpp"

namespace opstream {
namespace {

TEST(Base64, RoundTripsAndRejectsMalformedText) {
  for (std::string s : std::initializer_list<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar",
                                                          std::string("\0\xff\x10", 3)}) {
    std::string decoded;
    ASSERT_TRUE(Base64Decode(Base64Encode(s), decoded));
    EXPECT_EQ(decoded, s);
  }
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  std::string out;
  EXPECT_FALSE(Base64Decode("Zm8", out));       // length
  EXPECT_FALSE(Base64Decode("Zm=8", out));      // data after padding
  EXPECT_FALSE(Base64Decode("Zm9v$mFy", out));  // alphabet
  EXPECT_FALSE(Base64Decode("Zg==Zg==", out));  // padding in the middle
}

TEST(Timestamps, ReferenceFormatsWithTrimmedTicks) {
  using namespace std::chrono;
  const Timestamp base = sys_days{2025y / 6 / 2} + 9h + 15min + 4s;
  EXPECT_EQ(FormatIsoTimestamp(base + nanoseconds(512031800)), "2025-06-02T09:15:04.5120318+00:00");
  EXPECT_EQ(FormatIsoTimestamp(base + milliseconds(500)), "2025-06-02T09:15:04.5+00:00");
  EXPECT_EQ(FormatIsoTimestamp(base), "2025-06-02T09:15:04+00:00");
  EXPECT_EQ(FormatSqliteTimestamp(base + milliseconds(123)), "2025-06-02 09:15:04.123+00:00");
  EXPECT_EQ(ParseTimestamp("2025-06-02T09:15:04.5120318+00:00"), base + nanoseconds(512031800));
  EXPECT_EQ(ParseTimestamp("2025-06-02 11:15:04+02:00"), base);
  EXPECT_EQ(ParseTimestamp("2025-06-02T09:15:04Z"), base);
  EXPECT_FALSE(ParseTimestamp("2025-06-02").has_value());
  EXPECT_FALSE(ParseTimestamp("2025-13-02T09:15:04Z").has_value());
}

TEST(PeerIds, AreLowercaseHyphenatedVersion4Uuids) {
  const auto id = NewUuid();
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[8], '-');
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(NewUuid(), id);
  for (char c : id) EXPECT_TRUE(c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
}

}  // namespace
}  // namespace opstream
