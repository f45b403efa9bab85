#include "transports/signalr/management_hub.hpp"

#include "common/text.hpp"
#include "net/await.hpp"
#include "transports/signalr/collab_hub.hpp"
#include "transports/signalr/hub_binder.hpp"

namespace opstream::transports::signalr {
namespace asio = boost::asio;

asio::awaitable<void> ManagementHub::Invoke(std::shared_ptr<HubConnection> connection, HubMessage message) {
  struct MethodInfo {
    std::string_view name;
    ManagementCommand command;
    std::vector<ParamKind> params;
  };
  static const MethodInfo kMethods[] = {
      {"MgmtListDocuments", ManagementCommand::kListDocuments, {ParamKind::kNullableInt32, ParamKind::kNullableInt32}},
      {"MgmtGetDocumentInfo", ManagementCommand::kGetDocumentInfo, {ParamKind::kString}},
      {"MgmtGetSnapshot", ManagementCommand::kGetSnapshot, {ParamKind::kString}},
      {"MgmtListMilestones", ManagementCommand::kListMilestones, {ParamKind::kString}},
      {"MgmtDeleteDocument", ManagementCommand::kDeleteDocument, {ParamKind::kString}},
      {"MgmtCompactDocument", ManagementCommand::kCompactDocument, {ParamKind::kString, ParamKind::kInt64}},
      {"MgmtPurgeHistory", ManagementCommand::kPurgeHistory, {ParamKind::kString, ParamKind::kInt64}},
      {"MgmtPurgeTenant", ManagementCommand::kPurgeTenant, {}},
  };
  const auto& id = message.invocation_id;
  const MethodInfo* method = nullptr;
  for (const auto& candidate : kMethods) {
    if (AsciiIEquals(candidate.name, message.target)) method = &candidate;
  }
  if (method == nullptr) {
    if (id) connection->CompleteError(*id, MethodDoesNotExist(message.target));
    co_return;
  }
  std::vector<BoundArgument> args;
  if (!BindArguments(method->params, message.arguments, args)) {
    if (id) connection->CompleteError(*id, BindingFailed(message.target));
    co_return;
  }
  ManagementRequest request;
  request.command = method->command;
  switch (method->command) {
    case ManagementCommand::kListDocuments:
      if (!args[0].is_null) request.skip = static_cast<int32_t>(args[0].integer);
      if (!args[1].is_null) request.take = static_cast<int32_t>(args[1].integer);
      break;
    case ManagementCommand::kPurgeTenant:
      break;
    default:
      if (!args[0].is_null) request.document_id = std::move(args[0].text);
      if (args.size() > 1) request.up_to_revision = args[1].integer;
      break;
  }
  auto result = co_await net::AwaitCallback<ManagementResult>(
      [&](std::function<void(ManagementResult)> done) { service_.Execute(std::move(request), std::move(done)); });
  if (!id) co_return;
  if (result.error) {
    connection->CompleteError(*id, HubError(message.target, *result.error));
  } else {
    connection->CompleteJson(*id, std::move(result.result_json));
  }
}

}  // namespace opstream::transports::signalr
