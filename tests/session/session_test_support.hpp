#pragma once
// An in-process peer and a small world (io_context, engines, store, router) for driving the real
// session layer without any network.
#include <boost/asio/io_context.hpp>
#include <mutex>
#include <variant>
#include <vector>

#include "backplane/local_backplane.hpp"
#include "common/ids.hpp"
#include "engines/engine_registry.hpp"
#include "engines/text/text_engine.hpp"
#include "session/document_router.hpp"
#include "storage/memory_store.hpp"

namespace opstream::session::testing {

class TestConnection final : public Connection {
 public:
  TestConnection() : Connection(NewUuid(), TransportKind::kWebSocket) {}
  void Send(Outbound message) override {
    std::lock_guard lock(mutex_);
    inbox_.push_back(std::move(message));
  }
  std::vector<Outbound> Take() {
    std::lock_guard lock(mutex_);
    return std::exchange(inbox_, {});
  }

 private:
  std::mutex mutex_;
  std::vector<Outbound> inbox_;
};

template <typename T>
std::vector<T> Only(const std::vector<Outbound>& messages) {
  std::vector<T> out;
  for (const auto& m : messages) {
    if (const auto* typed = std::get_if<T>(&m)) out.push_back(*typed);
  }
  return out;
}

struct World {
  explicit World(SessionOptions options = {}, storage::DocumentStore* custom_store = nullptr)
      : store(custom_store ? *custom_store : memory_store), router(io, MakeEngines(), store, backplane, options) {}

  static const engines::EngineRegistry& MakeEngines() {
    static const engines::EngineRegistry registry = [] {
      engines::EngineRegistry r;
      r.Register(engines::MakeTextEngine());
      return r;
    }();
    return registry;
  }

  // Runs every ready handler (timers that are not due yet do not block). The io_context stops
  // whenever it runs out of work (also inside a test's own poll_one), so restart it first.
  void Drain() {
    io.restart();
    while (io.poll() > 0) {
    }
  }

  bool Join(const std::shared_ptr<TestConnection>& c, const std::string& doc, const std::string& type = "text") {
    bool result = false;
    router.Join(c, std::string("join"), doc, type, 1, [&](bool ok) { result = ok; });
    Drain();
    return result;
  }

  void Submit(const std::shared_ptr<TestConnection>& c, const std::string& doc, std::string payload, int64_t base,
              std::string correlation = "op") {
    router.SubmitOp(c, std::move(correlation), doc, std::move(payload), base, [](bool) {});
  }

  boost::asio::io_context io;
  storage::MemoryDocumentStore memory_store;
  storage::DocumentStore& store;
  backplane::LocalBackplane backplane;
  DocumentRouter router;
};

inline std::string InsertOp(int64_t position, std::string_view text) {
  std::string out;
  auto op = engines::TextOp::InsertAt(position, {});
  op.Clear();
  if (position > 0) op.AppendRetain(position);
  op.AppendInsertUtf8(text);
  engines::SerializeTextOp(op, out);
  return out;
}

inline std::string DeleteOp(int64_t position, int64_t count) {
  std::string out;
  engines::SerializeTextOp(engines::TextOp::DeleteAt(position, count), out);
  return out;
}

}  // namespace opstream::session::testing
