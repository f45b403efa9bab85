// Record framing of SignalR (wire-protocol §3.3): 0x1E-separated JSON records and varint
// length-prefixed MessagePack records, delivered in arbitrary pieces.
#include "transports/signalr/record_reader.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace opstream::transports::signalr {
namespace {

std::vector<std::string> Drain(RecordReader& reader, RecordReader::Result* last = nullptr) {
  std::vector<std::string> records;
  std::string_view record;
  RecordReader::Result result;
  while ((result = reader.Next(record)) == RecordReader::Result::kRecord) records.emplace_back(record);
  if (last) *last = result;
  return records;
}

TEST(RecordReader, SplitsPackedRecords) {
  RecordReader reader(1024);
  reader.Append("{\"type\":6}\x1e{\"type\":1}\x1e");
  RecordReader::Result last;
  EXPECT_EQ(Drain(reader, &last), (std::vector<std::string>{"{\"type\":6}", "{\"type\":1}"}));
  EXPECT_EQ(last, RecordReader::Result::kNeedMore);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST(RecordReader, JoinsRecordSplitAcrossChunks) {
  RecordReader reader(1024);
  reader.Append("{\"ty");
  EXPECT_TRUE(Drain(reader).empty());
  reader.Append("pe\":6}");
  EXPECT_TRUE(Drain(reader).empty());
  reader.Append("\x1e{\"a\"");
  EXPECT_EQ(Drain(reader), std::vector<std::string>{"{\"type\":6}"});
  reader.Append(":1}\x1e");
  EXPECT_EQ(Drain(reader), std::vector<std::string>{"{\"a\":1}"});
}

TEST(RecordReader, EmptyRecordIsReturnedAsEmpty) {
  RecordReader reader(16);
  reader.Append("\x1e");
  EXPECT_EQ(Drain(reader), std::vector<std::string>{""});
}

TEST(RecordReader, RejectsRecordOverTheLimitBeforeItsSeparatorArrives) {
  RecordReader reader(8);
  reader.Append("12345678");  // exactly the limit, still incomplete
  RecordReader::Result last;
  EXPECT_TRUE(Drain(reader, &last).empty());
  EXPECT_EQ(last, RecordReader::Result::kNeedMore);
  reader.Append("9");
  EXPECT_TRUE(Drain(reader, &last).empty());
  EXPECT_EQ(last, RecordReader::Result::kTooLarge);
}

TEST(RecordReader, RejectsCompleteRecordOverTheLimit) {
  RecordReader reader(4);
  reader.Append(
      "abc\x1e"
      "abcdef\x1e");
  RecordReader::Result last;
  EXPECT_EQ(Drain(reader, &last), std::vector<std::string>{"abc"});
  EXPECT_EQ(last, RecordReader::Result::kTooLarge);
}

TEST(RecordReader, AcceptsRecordOfExactlyTheLimit) {
  RecordReader reader(4);
  reader.Append("abcd\x1e");
  EXPECT_EQ(Drain(reader), std::vector<std::string>{"abcd"});
}

TEST(RecordReader, SwitchesToLengthPrefixAfterHandshake) {
  RecordReader reader(1024);
  std::string bytes = "{\"protocol\":\"messagepack\",\"version\":1}\x1e";
  AppendLengthPrefix(3, bytes);
  bytes += "abc";
  AppendLengthPrefix(0, bytes);
  reader.Append(bytes);
  std::string_view record;
  ASSERT_EQ(reader.Next(record), RecordReader::Result::kRecord);
  EXPECT_EQ(record, "{\"protocol\":\"messagepack\",\"version\":1}");
  reader.SetFraming(Framing::kLengthPrefixed);
  EXPECT_EQ(Drain(reader), (std::vector<std::string>{"abc", ""}));
}

TEST(RecordReader, LengthPrefixUsesBase128) {
  std::string prefix;
  AppendLengthPrefix(300, prefix);
  EXPECT_EQ(prefix, std::string("\xAC\x02", 2));
  RecordReader reader(1024);
  reader.SetFraming(Framing::kLengthPrefixed);
  reader.Append(prefix);
  reader.Append(std::string(299, 'x'));
  RecordReader::Result last;
  EXPECT_TRUE(Drain(reader, &last).empty());
  EXPECT_EQ(last, RecordReader::Result::kNeedMore);
  reader.Append("y");
  const auto records = Drain(reader);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0], std::string(299, 'x') + "y");
}

TEST(RecordReader, RejectsOversizedOrOverlongLengthPrefix) {
  RecordReader reader(100);
  reader.SetFraming(Framing::kLengthPrefixed);
  std::string prefix;
  AppendLengthPrefix(101, prefix);
  reader.Append(prefix);
  std::string_view record;
  EXPECT_EQ(reader.Next(record), RecordReader::Result::kTooLarge);

  RecordReader garbage(100);
  garbage.SetFraming(Framing::kLengthPrefixed);
  garbage.Append(std::string(6, '\xFF'));
  EXPECT_EQ(garbage.Next(record), RecordReader::Result::kMalformed);
}

// Any way of cutting a stream into chunks yields the same records.
TEST(RecordReader, RandomChunkingPreservesRecords) {
  const char* env = std::getenv("OPSTREAM_TEST_SEED");
  const uint32_t seed = env ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10)) : std::random_device{}();
  SCOPED_TRACE("seed=" + std::to_string(seed) + " (replay with OPSTREAM_TEST_SEED)");
  std::mt19937 rng(seed);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> expected;
    std::string stream;
    const int count = std::uniform_int_distribution<int>(0, 20)(rng);
    for (int i = 0; i < count; ++i) {
      std::string record(std::uniform_int_distribution<size_t>(0, 300)(rng), 'a');
      for (auto& c : record) c = static_cast<char>(std::uniform_int_distribution<int>(0x20, 0x7E)(rng));
      stream += record;
      stream += kRecordSeparator;
      expected.push_back(std::move(record));
    }
    RecordReader reader(300);
    std::vector<std::string> got;
    for (size_t pos = 0; pos < stream.size();) {
      const size_t n = std::min(stream.size() - pos, std::uniform_int_distribution<size_t>(1, 64)(rng));
      reader.Append(std::string_view(stream).substr(pos, n));
      pos += n;
      RecordReader::Result last;
      for (auto& record : Drain(reader, &last)) got.push_back(std::move(record));
      ASSERT_EQ(last, RecordReader::Result::kNeedMore);
    }
    ASSERT_EQ(got, expected) << "round " << round;
  }
}

}  // namespace
}  // namespace opstream::transports::signalr
