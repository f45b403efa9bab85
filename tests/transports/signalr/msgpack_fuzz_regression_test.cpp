// Inputs found by fuzz/signalr_msgpack_hub_fuzz.cpp (docs/fuzzing.md).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "transports/signalr/hub_protocol.hpp"
#include "transports/signalr/msgpack_codec.hpp"

namespace opstream::transports::signalr {
namespace {

namespace mp = msgpack;

// Maps used as map keys, nested: each level used to escape the JSON text of the level below once
// more, so 60 levels (120 bytes) asked for exponentially long text and hung the connection.
TEST(MsgPackFuzzRegression, ContainerKeysAreRejectedNotEscapedPerLevel) {
  std::string bytes;
  for (int i = 0; i < 60; ++i) mp::AppendMapHeader(bytes, 1);
  mp::AppendInt(bytes, 1);
  for (int i = 0; i < 60; ++i) mp::AppendInt(bytes, 2);
  const auto start = std::chrono::steady_clock::now();
  mp::Reader reader(bytes);
  HubValue value;
  EXPECT_FALSE(reader.ReadValue(value));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));

  // The same as an invocation argument: a malformed record, not a hang.
  std::string record;
  mp::AppendArrayHeader(record, 5);
  mp::AppendInt(record, 1);
  mp::AppendMapHeader(record, 0);
  mp::AppendString(record, "1");
  mp::AppendString(record, "UpdateAwareness");
  mp::AppendArrayHeader(record, 2);
  mp::AppendString(record, "doc");
  record += bytes;
  HubMessage message;
  EXPECT_FALSE(MessagePackHubProtocol().Parse(record, message).ok());

  // An array key is a container too; scalar keys still become names.
  std::string array_key;
  mp::AppendMapHeader(array_key, 1);
  mp::AppendArrayHeader(array_key, 0);
  mp::AppendInt(array_key, 1);
  mp::Reader array_reader(array_key);
  EXPECT_FALSE(array_reader.ReadValue(value));
  std::string scalar_keys;
  mp::AppendMapHeader(scalar_keys, 2);
  mp::AppendBool(scalar_keys, true);
  mp::AppendInt(scalar_keys, 1);
  mp::AppendNil(scalar_keys);
  mp::AppendInt(scalar_keys, 2);
  mp::Reader scalar_reader(scalar_keys);
  ASSERT_TRUE(scalar_reader.ReadValue(value));
  EXPECT_EQ(value.json, R"({"true":1,"null":2})");
}

// A uint64 above INT64_MAX reads as a JSON number; packing that JSON again (awareness data sent to
// MessagePack peers) used to go through double and lose the low digits.
TEST(MsgPackFuzzRegression, LargeUnsignedIntegersSurviveJsonAndBack) {
  for (const char* json : {"10458806551105053989", "9223372036854775808", "18446744073709551615"}) {
    std::string packed;
    ASSERT_TRUE(mp::AppendJson(packed, json));
    EXPECT_EQ(static_cast<uint8_t>(packed[0]), 0xCF) << json;
    mp::Reader reader(packed);
    HubValue value;
    ASSERT_TRUE(reader.ReadValue(value));
    EXPECT_EQ(value.json, json);
  }
  // Beyond uint64 a number is still a double.
  std::string packed;
  ASSERT_TRUE(mp::AppendJson(packed, "18446744073709551616"));
  EXPECT_EQ(static_cast<uint8_t>(packed[0]), 0xCB);
}

}  // namespace
}  // namespace opstream::transports::signalr
