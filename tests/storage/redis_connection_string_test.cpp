// StackExchange.Redis connection strings (server.md §3.5).
#include "storage/redis/redis_connection_string.hpp"

#include <gmock/gmock.h>

namespace opstream::redis {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

ConnectionOptions ParseOrFail(std::string_view text) {
  ConnectionOptions options;
  const Status status = ParseConnectionString(text, options);
  EXPECT_TRUE(status.ok()) << text << ": " << status.message();
  return options;
}

std::string ErrorOf(std::string_view text) {
  ConnectionOptions options;
  const Status status = ParseConnectionString(text, options);
  EXPECT_FALSE(status.ok()) << text;
  return status.message();
}

TEST(RedisConnectionStringTest, DefaultsMatchStackExchangeRedis) {
  const ConnectionOptions options = ParseOrFail("redis");
  ASSERT_EQ(options.endpoints.size(), 1u);
  EXPECT_EQ(options.endpoints[0].host, "redis");
  EXPECT_EQ(options.endpoints[0].port, 6379);
  EXPECT_EQ(options.database, 0);
  EXPECT_TRUE(options.abort_connect);
  EXPECT_EQ(options.connect_timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(options.command_timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(options.connect_retry, 3);
  EXPECT_TRUE(options.password.empty());
}

TEST(RedisConnectionStringTest, TheSpecsExampleParses) {
  const ConnectionOptions options = ParseOrFail(
      "host1:6379, host2:6380,password=secret,ssl=false,abortConnect=false,connectTimeout=2500,defaultDatabase=4,"
      "user=app,name=opstream,syncTimeout=1000,connectRetry=5,keepAlive=30,allowAdmin=true,channelPrefix=cp");
  ASSERT_EQ(options.endpoints.size(), 2u);
  EXPECT_EQ(options.endpoints[1].host, "host2");
  EXPECT_EQ(options.endpoints[1].port, 6380);
  EXPECT_EQ(options.password, "secret");
  EXPECT_EQ(options.user, "app");
  EXPECT_FALSE(options.abort_connect);
  EXPECT_EQ(options.connect_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(options.command_timeout, std::chrono::milliseconds(1000));
  EXPECT_EQ(options.database, 4);
  EXPECT_EQ(options.client_name, "opstream");
  EXPECT_EQ(options.connect_retry, 5);
  EXPECT_EQ(options.keep_alive, std::chrono::seconds(30));
  EXPECT_EQ(options.channel_prefix, "cp");
}

TEST(RedisConnectionStringTest, OptionNamesAreCaseInsensitiveAndValuesKeepTheirCase) {
  const ConnectionOptions options = ParseOrFail("h:1,PASSWORD=MiXeD=Case,AbortConnect=FALSE");
  EXPECT_EQ(options.password, "MiXeD=Case");
  EXPECT_FALSE(options.abort_connect);
}

TEST(RedisConnectionStringTest, Ipv6Endpoints) {
  const ConnectionOptions options = ParseOrFail("[::1]:7000,[fe80::1]");
  EXPECT_EQ(options.endpoints[0].host, "::1");
  EXPECT_EQ(options.endpoints[0].port, 7000);
  EXPECT_EQ(options.endpoints[1].port, 6379);
  EXPECT_THAT(ErrorOf("::1:6379"), HasSubstr("must be written as [address]:port"));
}

TEST(RedisConnectionStringTest, MalformedInputIsAClearError) {
  EXPECT_THAT(ErrorOf(""), HasSubstr("no endpoint given"));
  EXPECT_THAT(ErrorOf("password=x"), HasSubstr("no endpoint given"));
  EXPECT_THAT(ErrorOf("h:0"), HasSubstr("invalid port"));
  EXPECT_THAT(ErrorOf("h:65536"), HasSubstr("invalid port"));
  EXPECT_THAT(ErrorOf("h:abc"), HasSubstr("invalid port"));
  EXPECT_THAT(ErrorOf("h:"), HasSubstr("invalid port"));
  EXPECT_THAT(ErrorOf(":6379"), HasSubstr("has no host"));
  EXPECT_THAT(ErrorOf("h,=x"), HasSubstr("no name"));
  EXPECT_THAT(ErrorOf("h,abortConnect=maybe"), HasSubstr("'abortConnect' has the invalid value 'maybe'"));
  EXPECT_THAT(ErrorOf("h,defaultDatabase=-1"), HasSubstr("defaultDatabase"));
  EXPECT_THAT(ErrorOf("h,connectTimeout=5s"), HasSubstr("milliseconds expected"));
  EXPECT_THAT(ErrorOf("h,name=two words"), HasSubstr("without spaces"));
}

TEST(RedisConnectionStringTest, UnknownAndUnsupportedOptionsAreRefused) {
  EXPECT_THAT(ErrorOf("h,KeyPrefix=opstream:"), HasSubstr("unknown option 'KeyPrefix'"));
  EXPECT_THAT(ErrorOf("h,ssl=true"), HasSubstr("ssl=true is not supported"));
  EXPECT_THAT(ErrorOf("h,serviceName=mymaster"), HasSubstr("Sentinel"));
  EXPECT_THAT(ErrorOf("h,protocol=resp3"), HasSubstr("RESP2 only"));
  EXPECT_THAT(ErrorOf("h,proxy=Twemproxy"), HasSubstr("proxy=Twemproxy is not supported"));
  EXPECT_THAT(ErrorOf("h,$INFO="), HasSubstr("command renaming"));
}

TEST(RedisConnectionStringTest, PasswordNeverAppearsInErrorsOrDescriptions) {
  EXPECT_THAT(ErrorOf("h,password=hunter2,bogus=1"), Not(HasSubstr("hunter2")));
  const ConnectionOptions options = ParseOrFail("h:1,password=hunter2,user=u,defaultDatabase=2");
  EXPECT_EQ(options.Describe(), "h:1,defaultDatabase=2,user=u,password=*****");
  EXPECT_THAT(options.Describe(), Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace opstream::redis
