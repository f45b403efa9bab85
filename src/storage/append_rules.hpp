#pragma once
// Rules every provider applies to DocumentStore::Append, so that the memory and persistent
// stores refuse the same batches with the same messages.
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "storage/document_store.hpp"

namespace opstream::storage {

// A batch must carry strictly ascending revisions; anything else is a caller bug that would
// otherwise surface as a confusing duplicate error half-way through the batch.
Status ValidateAppendBatch(std::string_view document_id, const std::vector<StoredOp>& ops);

// The refusal that protects the one-writer invariant: `Revision 7 of document 'doc' already exists.`
Status DuplicateRevisionError(std::string_view document_id, int64_t revision);

}  // namespace opstream::storage
