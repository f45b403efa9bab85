#include "storage/append_rules.hpp"

#include <fmt/format.h>

namespace opstream::storage {

Status ValidateAppendBatch(std::string_view document_id, const std::vector<StoredOp>& ops) {
  for (size_t i = 1; i < ops.size(); ++i) {
    if (ops[i].revision <= ops[i - 1].revision) {
      return Status::Error(fmt::format("Ops appended to document '{}' must have ascending revisions ({} follows {}).",
                                       document_id, ops[i].revision, ops[i - 1].revision));
    }
  }
  return Status::Ok();
}

Status DuplicateRevisionError(std::string_view document_id, int64_t revision) {
  return Status::Error(fmt::format("Revision {} of document '{}' already exists.", revision, document_id));
}

}  // namespace opstream::storage
