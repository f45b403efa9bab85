#pragma once
// Checks shared by the hub protocol targets: every argument's JSON text is handed on as JSON
// (awareness data, management results), so it must be valid JSON, whatever the record contained.
#include <boost/json.hpp>
#include <string>

#include "fuzz_check.hpp"
#include "transports/signalr/hub_binder.hpp"
#include "transports/signalr/hub_protocol.hpp"

namespace opstream::fuzz {

inline void CheckValidJson(const std::string& text) {
  boost::json::parse_options options;
  options.max_depth = 1000;
  boost::system::error_code ec;
  (void)boost::json::parse(text, ec, {}, options);
  // JSON puts no limit on exponents; Boost.JSON does (an argument like 1E99999 is still valid).
  Check(!ec || ec == boost::json::error::exponent_overflow, "argument JSON text is not valid JSON", text);
}

// Also binds the arguments as each hub method's parameter list would (the binder moves them out,
// so each binding works on a copy).
inline void CheckHubMessage(const transports::signalr::HubMessage& message) {
  using transports::signalr::ParamKind;
  for (const auto& argument : message.arguments) CheckValidJson(argument.json);
  const std::initializer_list<ParamKind> signatures[] = {
      {ParamKind::kString, ParamKind::kString, ParamKind::kInt32},
      {ParamKind::kString, ParamKind::kBytes, ParamKind::kInt64},
      {ParamKind::kString, ParamKind::kJson},
      {ParamKind::kString, ParamKind::kObject},
      {ParamKind::kNullableInt32, ParamKind::kBool, ParamKind::kString},
  };
  for (const auto& params : signatures) {
    auto arguments = message.arguments;
    std::vector<transports::signalr::BoundArgument> bound;
    if (!transports::signalr::BindArguments(params, arguments, bound)) continue;
    Check(bound.size() == params.size(), "bound argument count differs from the parameters");
    size_t i = 0;
    for (const auto kind : params) {
      if ((kind == ParamKind::kJson || kind == ParamKind::kObject) && !bound[i].is_null) CheckValidJson(bound[i].text);
      ++i;
    }
  }
}

}  // namespace opstream::fuzz
