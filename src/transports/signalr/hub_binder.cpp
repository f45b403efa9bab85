#include "transports/signalr/hub_binder.hpp"

#include <limits>

#include "common/base64.hpp"

namespace opstream::transports::signalr {

namespace {

bool Bind(ParamKind kind, HubValue& value, BoundArgument& out) {
  using Kind = HubValue::Kind;
  const bool is_null = value.kind == Kind::kNull;
  switch (kind) {
    case ParamKind::kString:
      if (is_null) {
        out.is_null = true;
        return true;
      }
      if (value.kind != Kind::kString) return false;
      out.text = std::move(value.text);
      return true;
    case ParamKind::kNullableInt32:
      if (is_null) {
        out.is_null = true;
        return true;
      }
      [[fallthrough]];
    case ParamKind::kInt32:
      if (value.kind != Kind::kInteger || value.integer < std::numeric_limits<int32_t>::min() ||
          value.integer > std::numeric_limits<int32_t>::max()) {
        return false;
      }
      out.integer = value.integer;
      return true;
    case ParamKind::kInt64:
      if (value.kind != Kind::kInteger) return false;
      out.integer = value.integer;
      return true;
    case ParamKind::kBool:
      if (value.kind != Kind::kBool) return false;
      out.boolean = value.boolean;
      return true;
    case ParamKind::kBytes:
      if (is_null) {
        out.is_null = true;
        return true;
      }
      if (value.kind == Kind::kBinary) {
        out.text = std::move(value.text);
        return true;
      }
      return value.kind == Kind::kString && Base64Decode(value.text, out.text);
    case ParamKind::kJson:
      out.is_null = is_null;
      out.text = std::move(value.json);
      return true;
    case ParamKind::kObject:
      if (is_null) {
        out.is_null = true;
        return true;
      }
      if (value.kind != Kind::kObject) return false;
      out.text = std::move(value.json);
      return true;
  }
  return false;
}

}  // namespace

bool BindArguments(std::span<const ParamKind> params, std::vector<HubValue>& args, std::vector<BoundArgument>& out) {
  if (args.size() != params.size()) return false;
  out.clear();
  out.resize(params.size());
  size_t i = 0;
  for (const auto kind : params) {
    if (!Bind(kind, args[i], out[i])) return false;
    ++i;
  }
  return true;
}

}  // namespace opstream::transports::signalr
