// gRPC message framing: prefixes and messages split anywhere, oversized and truncated input,
// compression flags, grpc-message encoding and grpc-timeout parsing.
#include "transports/grpc/framing.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <string>
#include <vector>

namespace opstream::transports::grpc {
namespace {

std::vector<std::string> FeedAll(MessageReader& reader, std::string_view bytes,
                                 std::optional<Status>* error = nullptr) {
  std::vector<std::string> messages;
  auto result = reader.Feed(bytes, [&](std::string m) { messages.push_back(std::move(m)); });
  if (error) *error = std::move(result);
  return messages;
}

std::string Frame(std::string_view message) {
  std::string out;
  AppendFrame(message, out);
  return out;
}

TEST(GrpcFraming, PrefixIsFlagAndBigEndianLength) {
  EXPECT_EQ(Frame("abc"), std::string("\0\0\0\0\3abc", 8));
  EXPECT_EQ(Frame(""), std::string("\0\0\0\0\0", 5));
  EXPECT_EQ(Frame(std::string(0x010203, 'x')).substr(0, 5), std::string("\0\0\x01\x02\x03", 5));
}

TEST(GrpcFraming, ReadsSeveralMessagesFromOneChunk) {
  MessageReader reader;
  const auto messages = FeedAll(reader, Frame("one") + Frame("") + Frame("three"));
  EXPECT_EQ(messages, (std::vector<std::string>{"one", "", "three"}));
  EXPECT_EQ(reader.Pending(), 0u);
  EXPECT_FALSE(reader.Finish());
}

TEST(GrpcFraming, ReadsAMessageSplitInsideThePrefix) {
  MessageReader reader;
  const std::string bytes = Frame("hello");
  EXPECT_TRUE(FeedAll(reader, bytes.substr(0, 2)).empty());
  EXPECT_TRUE(FeedAll(reader, bytes.substr(2, 4)).empty());
  EXPECT_EQ(FeedAll(reader, bytes.substr(6)), (std::vector<std::string>{"hello"}));
}

// Any split of any sequence of messages yields the same messages in order.
RC_GTEST_PROP(GrpcFraming, AnySplitYieldsTheSameMessages, (const std::vector<std::string>& messages)) {
  std::string bytes;
  for (const auto& m : messages) AppendFrame(m, bytes);
  const auto cuts = *rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(0, bytes.size() + 1));
  std::vector<size_t> points(cuts.begin(), cuts.end());
  points.push_back(0);
  points.push_back(bytes.size());
  std::sort(points.begin(), points.end());
  MessageReader reader;
  std::vector<std::string> got;
  for (size_t i = 0; i + 1 < points.size(); ++i) {
    const auto part = FeedAll(reader, std::string_view(bytes).substr(points[i], points[i + 1] - points[i]));
    got.insert(got.end(), part.begin(), part.end());
  }
  RC_ASSERT(got == messages);
  RC_ASSERT(!reader.Finish());
}

TEST(GrpcFraming, OversizedMessageIsRejectedFromItsPrefix) {
  MessageReader reader;
  std::optional<Status> error;
  // Only the prefix arrives: the limit is enforced before any body is buffered.
  const std::string prefix("\0\x00\x40\x00\x01", 5);  // 4 MiB + 1
  EXPECT_TRUE(FeedAll(reader, prefix, &error).empty());
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, StatusCode::kResourceExhausted);
  EXPECT_EQ(error->message, "Received message larger than max (4194305 vs. 4194304)");
  // The reader stays failed.
  EXPECT_TRUE(FeedAll(reader, Frame("x"), &error).empty());
  EXPECT_EQ(error->code, StatusCode::kResourceExhausted);
}

TEST(GrpcFraming, MessageOfExactlyTheLimitIsAccepted) {
  MessageReader reader;
  const std::string big(kMaxReceiveMessageBytes, 'a');
  std::optional<Status> error;
  const auto messages = FeedAll(reader, Frame(big), &error);
  EXPECT_FALSE(error);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].size(), kMaxReceiveMessageBytes);
}

TEST(GrpcFraming, TruncatedMessageFailsAtEndOfStream) {
  MessageReader reader;
  const std::string bytes = Frame("hello");
  EXPECT_TRUE(FeedAll(reader, bytes.substr(0, 7)).empty());
  const auto error = reader.Finish();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, StatusCode::kInternal);

  MessageReader prefix_only;
  EXPECT_TRUE(FeedAll(prefix_only, bytes.substr(0, 3)).empty());
  EXPECT_TRUE(prefix_only.Finish());
}

TEST(GrpcFraming, CompressedFlagWithoutGzipIsUnimplemented) {
  MessageReader reader(false);
  std::optional<Status> error;
  FeedAll(reader, std::string("\x01\0\0\0\1x", 6), &error);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, StatusCode::kUnimplemented);
}

TEST(GrpcFraming, InvalidFlagIsInternal) {
  MessageReader reader(true);
  std::optional<Status> error;
  FeedAll(reader, std::string("\x02\0\0\0\1x", 6), &error);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, StatusCode::kInternal);
}

std::string Gzip(std::string_view text) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, text.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST(GrpcFraming, GzipMessagesAreInflatedWithinTheLimit) {
  const std::string compressed = Gzip("hello hello hello");
  std::string bytes;
  AppendFrame(compressed, bytes);
  bytes[0] = '\x01';
  MessageReader reader(true);
  std::optional<Status> error;
  EXPECT_EQ(FeedAll(reader, bytes, &error), (std::vector<std::string>{"hello hello hello"}));
  EXPECT_FALSE(error);

  // A small compressed message that inflates past the limit (a "zip bomb") is refused.
  const std::string bomb = Gzip(std::string(kMaxReceiveMessageBytes + 1, 'z'));
  ASSERT_LT(bomb.size(), 64u * 1024);
  std::string bomb_bytes;
  AppendFrame(bomb, bomb_bytes);
  bomb_bytes[0] = '\x01';
  MessageReader bomb_reader(true);
  EXPECT_TRUE(FeedAll(bomb_reader, bomb_bytes, &error).empty());
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, StatusCode::kResourceExhausted);

  // Garbage flagged as compressed fails cleanly.
  std::string garbage;
  AppendFrame("not gzip at all", garbage);
  garbage[0] = '\x01';
  MessageReader garbage_reader(true);
  FeedAll(garbage_reader, garbage, &error);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, StatusCode::kInternal);
}

TEST(GrpcFraming, GrpcMessageIsPercentEncoded) {
  EXPECT_EQ(PercentEncode("Forbidden: Insufficient permissions for this operation."),
            "Forbidden: Insufficient permissions for this operation.");
  EXPECT_EQ(PercentEncode("50% done\n\xc3\xa9"), "50%25 done%0A%C3%A9");
  EXPECT_EQ(PercentDecode("50%25 done%0A%C3%A9"), "50% done\n\xc3\xa9");
  EXPECT_EQ(PercentDecode("bad %G1 %4"), "bad %G1 %4");
}

RC_GTEST_PROP(GrpcFraming, PercentEncodingRoundTrips, (const std::string& text)) {
  const auto encoded = PercentEncode(text);
  for (const char c : encoded) RC_ASSERT(c >= 0x20 && c <= 0x7e);
  RC_ASSERT(PercentDecode(encoded) == text);
}

TEST(GrpcFraming, TimeoutUnits) {
  using namespace std::chrono;
  EXPECT_EQ(ParseTimeout("1H"), nanoseconds(hours(1)));
  EXPECT_EQ(ParseTimeout("2M"), nanoseconds(minutes(2)));
  EXPECT_EQ(ParseTimeout("3S"), nanoseconds(seconds(3)));
  EXPECT_EQ(ParseTimeout("100m"), nanoseconds(milliseconds(100)));
  EXPECT_EQ(ParseTimeout("5u"), nanoseconds(microseconds(5)));
  EXPECT_EQ(ParseTimeout("99999999n"), nanoseconds(99999999));
  EXPECT_FALSE(ParseTimeout("123456789S"));  // more than 8 digits
  EXPECT_FALSE(ParseTimeout("S"));
  EXPECT_FALSE(ParseTimeout("10x"));
  EXPECT_FALSE(ParseTimeout("1.5S"));
  EXPECT_FALSE(ParseTimeout(""));
}

}  // namespace
}  // namespace opstream::transports::grpc
