#pragma once
// The MessagePack subset the SignalR MessagePack hub protocol needs (msgpack.org spec): a bounded
// reader that turns any value into a HubValue (with its JSON text, for parameters that take any
// JSON value) and a writer, including JSON text to MessagePack for awareness data.
//
// Hand-written because Debian 12's libmsgpack-cxx-dev depends on Boost 1.74, which conflicts with
// the Boost 1.81 this project builds with.
#include <cstdint>
#include <string>
#include <string_view>

#include "transports/signalr/hub_protocol.hpp"

namespace opstream::transports::signalr::msgpack {

// Nesting limit of decoded values (System.Text.Json's default depth, as for JSON records).
inline constexpr int kMaxDepth = 64;

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool ReadArrayHeader(uint32_t& count);
  bool ReadMapHeader(uint32_t& count);
  bool ReadNil();  // consumes a nil if the next value is one
  bool ReadInteger(int64_t& value);
  bool ReadBool(bool& value);
  // A str, or nil (then `is_nil` is set).
  bool ReadStringOrNil(std::string& value, bool& is_nil);
  bool ReadValue(HubValue& value, int depth = 0);
  bool Skip(int depth = 0);
  bool AtEnd() const noexcept { return pos_ == data_.size(); }

 private:
  bool Take(size_t n, std::string_view& out);
  bool ReadBigEndian(size_t n, uint64_t& out);
  // Appends the value as JSON text; `value` receives the kind and scalar contents for the top level.
  bool ReadInto(HubValue* value, std::string& json, int depth);

  std::string_view data_;
  size_t pos_ = 0;
};

void AppendNil(std::string& out);
void AppendBool(std::string& out, bool value);
void AppendInt(std::string& out, int64_t value);
void AppendDouble(std::string& out, double value);
void AppendString(std::string& out, std::string_view utf8);
void AppendBinary(std::string& out, std::string_view bytes);
void AppendArrayHeader(std::string& out, uint32_t count);
void AppendMapHeader(std::string& out, uint32_t count);
// `json` must be valid JSON (a validated text): its value as MessagePack. False if it is not.
bool AppendJson(std::string& out, std::string_view json);

}  // namespace opstream::transports::signalr::msgpack
