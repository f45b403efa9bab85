// Load generator for the raw WebSocket transport (/collab-ws, wire-protocol.md §4) and the SignalR
// collaboration hub over WebSockets (/collab, §3, --transport signalr).
//
// One thread, one io_context, completion handlers. Beast performs the handshake and the join;
// the op phase writes masked frames with one non-blocking send and parses the server's frames
// straight from each socket's read buffer, so that the generator costs less per message than the
// server (it must not be the bottleneck). Frames are built into per-connection strings with
// std::to_chars; incoming frames are read by scanning for
// "messageType" / "newRevision" / "revision" (no JSON DOM). Every scenario is bounded by its op or
// connection count and by --time-limit-s, and prints one JSON line.
//
// SignalR mode: the upgrade carries no `id` (skipNegotiation, §3.1), the handshake record and the
// JoinDocument invocation go out in one frame, and from then on the same raw frame path is used;
// incoming data frames are treated as one byte stream split on 0x1E (§3.3), so records packed
// into one message or split across messages (Beast fragments large messages) are both handled.
// Acks are SendOp completions, broadcasts are ReceiveOp invocations.
//
// gRPC mode (--transport grpc, §5): one HTTP/2 cleartext connection (prior knowledge) per client,
// driven by a libnghttp2 client session over the same non-blocking Asio socket and event loop,
// with one long-lived opstream.OpStreamService/Connect stream. Requests are opstream_proto
// ClientMessages (one reused object per connection) with the 5-byte gRPC prefix; replies are
// parsed into a ServerMessage on an arena with a fixed first block that is reset after every
// message, except broadcasts, whose revision is read straight from the wire (EventRevision), so
// the steady state allocates nothing per message. The stream windows are opened wide
// (16 MiB) so flow control never paces the readers. At the end every stream is half-closed and
// its trailers awaited (`grpc_closed_ok` counts grpc-status 0), then GOAWAY: a run that leaves a
// stream hanging reports it and exits non-zero.
//
//   opstream-loadgen clients --n N --ops M [--warmup 1000] [--documents D]
//   opstream-loadgen fanout  --readers R --ops M [--warmup 200]
//   opstream-loadgen idle    --conns K [--join 1|0] [--src-addrs 8] [--hold-s 2]
// Common: --transport raw|signalr|grpc --host 127.0.0.1 --ports 8080[,8081...]
//         --path /collab-ws|/collab|/opstream.OpStreamService/Connect (default per transport)
//         --server-pid PID
//         --time-limit-s 120 --seed 42 --inflight 128 (handshakes in flight)
#include <google/protobuf/arena.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/base64.hpp"
#include "opstream.pb.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ws = boost::beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// ---------------------------------------------------------------------------------------------
// Options

struct Options {
  std::string scenario;
  std::string host = "127.0.0.1";
  std::vector<uint16_t> ports{8080};
  std::string transport = "raw";  // raw (/collab-ws), signalr (/collab, JSON hub protocol) or grpc
  std::string path;               // default per transport
  int n = 1;                      // clients (clients) or readers (fanout) or conns (idle)
  long ops = 20000;
  long warmup = -1;  // default per scenario
  int server_pid = 0;
  double time_limit_s = 120;
  uint64_t seed = 42;
  int inflight = 128;
  int join = 1;       // idle: join a document per connection
  int src_addrs = 0;  // idle: bind to 127.0.0.2.. (0 = let the kernel choose)
  double hold_s = 2;  // idle: settle time before the RSS reading
  std::string doc;    // document id (default: random per run)
  int documents = 1;  // clients: spread round-robin over this many documents
};

[[noreturn]] void Usage(const char* msg) {
  std::fprintf(stderr, "opstream-loadgen: %s\n", msg);
  std::fprintf(stderr,
               "usage: opstream-loadgen clients|fanout|idle [--n N] [--readers R] [--conns K] [--ops M]\n"
               "  [--warmup W] [--transport raw|signalr|grpc] [--host 127.0.0.1] [--ports P1,P2]\n"
               "  [--path /collab-ws|/collab|/opstream.OpStreamService/Connect] [--server-pid PID]\n"
               "  [--time-limit-s S] [--seed S] [--inflight H] [--join 1|0] [--src-addrs A] [--hold-s S]\n"
               "  [--documents D]\n");
  std::exit(2);
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  if (argc < 2) Usage("missing scenario");
  o.scenario = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) Usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    if (a == "--n" || a == "--readers" || a == "--conns")
      o.n = std::stoi(v);
    else if (a == "--ops")
      o.ops = std::stol(v);
    else if (a == "--warmup")
      o.warmup = std::stol(v);
    else if (a == "--host")
      o.host = v;
    else if (a == "--transport")
      o.transport = v;
    else if (a == "--port" || a == "--ports") {
      o.ports.clear();
      std::stringstream ss(v);
      std::string p;
      while (std::getline(ss, p, ',')) o.ports.push_back(static_cast<uint16_t>(std::stoi(p)));
    } else if (a == "--path")
      o.path = v;
    else if (a == "--server-pid")
      o.server_pid = std::stoi(v);
    else if (a == "--time-limit-s")
      o.time_limit_s = std::stod(v);
    else if (a == "--seed")
      o.seed = std::stoull(v);
    else if (a == "--inflight")
      o.inflight = std::stoi(v);
    else if (a == "--join")
      o.join = std::stoi(v);
    else if (a == "--src-addrs")
      o.src_addrs = std::stoi(v);
    else if (a == "--hold-s")
      o.hold_s = std::stod(v);
    else if (a == "--doc")
      o.doc = v;
    else if (a == "--documents")
      o.documents = std::stoi(v);
    else
      Usage(("unknown option " + a).c_str());
  }
  if (o.scenario != "clients" && o.scenario != "fanout" && o.scenario != "idle") Usage("unknown scenario");
  if (o.host.rfind("127.", 0) != 0 && o.host != "localhost") Usage("only loopback targets are allowed");
  if (o.ports.empty()) Usage("no port");
  if (o.transport != "raw" && o.transport != "signalr" && o.transport != "grpc") Usage("unknown transport");
  if (o.path.empty())
    o.path = o.transport == "signalr" ? "/collab"
             : o.transport == "grpc"  ? "/opstream.OpStreamService/Connect"
                                      : "/collab-ws";
  if (o.warmup < 0) o.warmup = o.scenario == "fanout" ? 200 : 1000;
  if (o.documents < 1 || (o.documents > 1 && (o.scenario != "clients" || o.documents > o.n)))
    Usage("--documents D needs the clients scenario and 1 <= D <= N");
  return o;
}

// ---------------------------------------------------------------------------------------------
// /proc and rusage

// utime+stime of a process, in seconds; -1 if unreadable.
double ProcCpuS(int pid) {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto rp = s.rfind(')');
  if (rp == std::string::npos) return -1;
  std::istringstream is(s.substr(rp + 2));
  std::string field;
  // Fields after ")": state(3) ... utime(14) stime(15); index 0 here is field 3.
  unsigned long long ut = 0, st = 0;
  for (int i = 3; i <= 15 && is >> field; ++i) {
    if (i == 14) ut = std::stoull(field);
    if (i == 15) st = std::stoull(field);
  }
  return double(ut + st) / double(sysconf(_SC_CLK_TCK));
}

// VmRSS / VmHWM in KiB; -1 if unreadable.
long ProcStatusKiB(int pid, const char* key) {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  size_t kl = std::strlen(key);
  while (std::getline(f, line))
    if (line.compare(0, kl, key) == 0 && line.size() > kl && line[kl] == ':') return std::atol(line.c_str() + kl + 1);
  return -1;
}

double SelfCpuS() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void RaiseNofile() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rlimit want{1048576, 1048576};
  if (setrlimit(RLIMIT_NOFILE, &want) != 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

long NofileLimit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  return long(rl.rlim_cur);
}

// ---------------------------------------------------------------------------------------------
// Cheap frame scanning

// Integer after `"key":` (optional spaces); returns false if the key is absent.
bool FindInt(std::string_view s, std::string_view key, int64_t& out) {
  size_t p = s.find(key);
  if (p == std::string_view::npos) return false;
  p += key.size();
  while (p < s.size() && (s[p] == ' ' || s[p] == ':')) ++p;
  auto r = std::from_chars(s.data() + p, s.data() + s.size(), out);
  return r.ec == std::errc();
}

struct Pct {
  std::vector<double> v;
  void Add(double x) { v.push_back(x); }
  double At(double q) {
    if (v.empty()) return -1;
    size_t k = std::min(v.size() - 1, size_t(std::ceil(q * double(v.size()))) - (q > 0 ? 1 : 0));
    std::nth_element(v.begin(), v.begin() + long(k), v.end());
    return v[k];
  }
  double Max() { return v.empty() ? -1 : *std::max_element(v.begin(), v.end()); }
};

std::string Fmt(double x, int prec = 3) {
  if (x < 0 || !std::isfinite(x)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, x);
  return b;
}

// ---------------------------------------------------------------------------------------------
// Connections

class Runner;

struct Conn {
  explicit Conn(asio::io_context& io) : ws(io) {}
  ~Conn() {
    if (h2 != nullptr) nghttp2_session_del(h2);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ws::stream<tcp::socket> ws;
  beast::flat_buffer buf;
  std::string out;
  // Op phase: raw frames on the socket (Beast only for the handshake and the join), so that the
  // load generator spends as little as possible per message.
  std::vector<char> rbuf;
  size_t rlen = 0;
  int id = 0;
  int doc = 0;  // document index (clients spread round-robin over --documents)
  bool joined = false;
  int64_t join_rev = 0;
  int64_t rev = 0;       // latest revision seen (ack or event)
  int64_t join_len = 0;  // content length at join (text snapshot)
  Clock::time_point sent_at{};
  bool in_flight = false;
  uint64_t corr = 0;
  bool settled = false;  // counted as ready or failed
  bool failed = false;
  bool stop_reading = false;
  // SignalR: bytes of an unfinished record (a record may span frames).
  std::string records;
  bool handshake_done = false;
  // gRPC: the HTTP/2 session on ws.next_layer() (Beast is not used in this mode).
  Runner* runner = nullptr;
  nghttp2_session* h2 = nullptr;
  int32_t stream_id = -1;
  opstream::ClientMessage request;  // reused for every op
  std::string gout;                 // framed requests not yet taken by nghttp2
  size_t gout_off = 0;
  bool deferred = false;    // the request body's data provider is waiting for bytes
  bool half_close = false;  // end the request body once gout is drained
  std::string wbuf;         // HTTP/2 bytes the socket did not take yet
  size_t woff = 0;
  bool wait_writable = false;
  bool stream_closed = false;
  int http_status = 0;
  int grpc_status = -1;
  std::string grpc_message;
};

struct RevRec {
  Clock::time_point send{};
  Clock::time_point last_recv{};
  int received = 0;
  bool acked = false;
  bool measured = false;
  bool done = false;
};

class Runner {
 public:
  explicit Runner(Options o) : o_(std::move(o)), rng_(o_.seed), deadline_(io_) {
    if (o_.doc.empty()) {
      std::uniform_int_distribution<uint64_t> d;
      std::mt19937_64 r(std::random_device{}());
      o_.doc = "bench-" + std::to_string(d(r) % 1000000000000ULL);
    }
    for (uint16_t p : o_.ports)
      eps_.emplace_back(asio::ip::make_address(o_.host == "localhost" ? "127.0.0.1" : o_.host), p);
    if (grpc_) {
      nghttp2_session_callbacks_new(&h2_callbacks_);
      nghttp2_session_callbacks_set_on_data_chunk_recv_callback(h2_callbacks_, &Runner::H2OnData);
      nghttp2_session_callbacks_set_on_header_callback(h2_callbacks_, &Runner::H2OnHeader);
      nghttp2_session_callbacks_set_on_stream_close_callback(h2_callbacks_, &Runner::H2OnStreamClose);
      nghttp2_session_callbacks_set_on_frame_recv_callback(h2_callbacks_, &Runner::H2OnFrame);
      google::protobuf::ArenaOptions ao;
      ao.initial_block = arena_block_.data();
      ao.initial_block_size = arena_block_.size();
      arena_ = std::make_unique<google::protobuf::Arena>(ao);
    }
  }
  ~Runner() {
    if (h2_callbacks_ != nullptr) nghttp2_session_callbacks_del(h2_callbacks_);
  }
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  int Run() {
    deadline_.expires_after(std::chrono::milliseconds(long(o_.time_limit_s * 1000)));
    deadline_.async_wait([this](beast::error_code ec) {
      if (ec) return;
      timed_out_ = true;
      Finish();
    });
    t_start_ = Clock::now();
    if (o_.scenario == "idle")
      StartIdle();
    else
      StartOps();
    io_.run();
    return exit_code_;
  }

 private:
  // ----- connection setup (shared) -----
  void OpenConnections(int count, std::function<void()> all_ready) {
    target_ = count;
    all_ready_ = std::move(all_ready);
    conns_.reserve(size_t(count));
    for (int i = 0; i < count; ++i) {
      conns_.push_back(std::make_unique<Conn>(io_));
      conns_.back()->id = i;
      conns_.back()->doc = i % o_.documents;
    }
    int first = std::min(count, std::max(1, o_.inflight));
    for (int i = 0; i < first; ++i) ConnectNext();
  }

  void ConnectNext() {
    if (next_connect_ >= target_ || finished_) return;
    Conn* c = conns_[size_t(next_connect_++)].get();
    auto& ep = eps_[size_t(c->id) % eps_.size()];
    auto& sock = c->ws.next_layer();
    beast::error_code ec;
    sock.open(tcp::v4(), ec);
    if (!ec && o_.src_addrs > 0) {
      // 127.0.0.2 + (id % src_addrs); IP_BIND_ADDRESS_NO_PORT lets the port be chosen at
      // connect time per (src, dst) pair instead of per source address.
      int one = 1;
      ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      uint32_t a = 0x7f000002u + uint32_t(c->id / int(eps_.size()) % o_.src_addrs);
      sock.bind(tcp::endpoint(asio::ip::address_v4(a), 0), ec);
    }
    if (ec) return ConnFailed(c, ec, "open/bind");
    sock.async_connect(ep, [this, c](beast::error_code ec) {
      if (ec) return ConnFailed(c, ec, "connect");
      c->ws.next_layer().set_option(tcp::no_delay(true));
      if (grpc_) return GrpcStart(c);
      c->ws.secure_prng(false);
      c->ws.auto_fragment(false);
      c->ws.text(true);
      std::string host = o_.host + ":" + std::to_string(eps_[size_t(c->id) % eps_.size()].port());
      c->ws.async_handshake(host, o_.path, [this, c](beast::error_code ec) {
        if (ec) return ConnFailed(c, ec, "handshake");
        if (sr_) return SrStart(c);
        if (o_.join)
          SendJoin(c);
        else
          ConnReady(c);
      });
    });
  }

  void ConnFailed(Conn* c, beast::error_code ec, const char* what) {
    if (c->settled) return;
    c->settled = true;
    c->failed = true;
    ++failed_;
    if (failed_ <= 5) std::fprintf(stderr, "conn %d %s: %s\n", c->id, what, ec.message().c_str());
    ++ready_;
    ConnectNext();
    CheckAllReady();
  }

  void SendJoin(Conn* c) {
    c->out.clear();
    c->out += R"({"correlationId":"j)";
    c->out += std::to_string(c->id);
    c->out += R"(","messageType":0,"joinRequest":{"documentId":")";
    c->out += o_.scenario == "idle" ? o_.doc + "-" + std::to_string(c->id) : DocId(c);
    c->out += R"(","documentType":"text","clientProtoVersion":1}})";
    c->ws.async_write(asio::buffer(c->out), [this, c](beast::error_code ec, size_t) {
      if (ec) return ConnFailed(c, ec, "join write");
      c->ws.async_read(c->buf, [this, c](beast::error_code ec, size_t) {
        if (ec) return ConnFailed(c, ec, "join read");
        std::string_view s(static_cast<const char*>(c->buf.data().data()), c->buf.size());
        int64_t mt = -1, rev = 0;
        FindInt(s, "\"messageType\"", mt);
        if (mt != 1 || !FindInt(s, "\"revision\"", rev)) {
          ++errors_;
          if (errors_ <= 5) std::fprintf(stderr, "join failed: %.*s\n", int(std::min<size_t>(s.size(), 300)), s.data());
          c->buf.consume(c->buf.size());
          return ConnFailed(c, {}, "join");
        }
        c->join_rev = c->rev = rev;
        c->join_len = SnapshotLen(s);
        c->joined = true;
        c->buf.consume(c->buf.size());
        if (o_.scenario == "idle") c->buf.shrink_to_fit();
        ConnReady(c);
      });
    });
  }

  // Length of "content" in the base64 snapshot (ASCII content assumed; the benchmark only inserts "x").
  static int64_t SnapshotLen(std::string_view s) {
    size_t p = s.find("\"snapshot\":\"");
    if (p == std::string_view::npos) return 0;
    p += 12;
    size_t e = s.find('"', p);
    std::string json;
    if (e == std::string_view::npos || !opstream::Base64Decode(s.substr(p, e - p), json)) return 0;
    return ContentLen(json);
  }

  // Length of "content" in a text snapshot's JSON (ASCII content assumed).
  static int64_t ContentLen(std::string_view json) {
    size_t c = json.find("\"content\":\"");
    if (c == std::string::npos) return 0;
    c += 11;
    size_t ce = json.find('"', c);
    return ce == std::string_view::npos ? 0 : int64_t(ce - c);
  }

  void ConnReady(Conn* c) {
    c->settled = true;
    ++ready_;
    ++ok_conns_;
    ConnectNext();
    CheckAllReady();
  }

  void CheckAllReady() {
    if (ready_ == target_ && all_ready_) {
      auto f = std::move(all_ready_);
      all_ready_ = nullptr;
      t_connected_ = Clock::now();
      f();
    }
  }

  // ----- ops scenarios (clients, fanout) -----
  void StartOps() {
    int count = o_.scenario == "fanout" ? o_.n + 1 : o_.n;
    writers_ = o_.scenario == "fanout" ? 1 : o_.n;
    receivers_ = count - 1;
    // Per document: its own revision sequence and its own receivers (the other clients of it).
    recs_.resize(size_t(o_.documents));
    doc_receivers_.assign(size_t(o_.documents), -1);
    for (int i = 0; i < count; ++i) ++doc_receivers_[size_t(i % o_.documents)];
    for (auto& r : recs_) r.resize(size_t(o_.warmup + o_.ops + count + 16));
    if (sr_) SrKeepAlive();
    OpenConnections(count, [this] {
      if (ok_conns_ != target_) {
        std::fprintf(stderr, "only %d of %d connections joined\n", ok_conns_, target_);
        exit_code_ = 1;
        return Finish();
      }
      if (!sr_ && !grpc_)  // SignalR and gRPC connections read from the start
        for (auto& c : conns_) Read(c.get());
      if (o_.warmup == 0) BeginMeasure();
      for (int i = 0; i < writers_; ++i) SendOp(conns_[size_t(i)].get());
    });
  }

  void BeginMeasure() {
    measuring_ = true;
    t0_ = Clock::now();
    srv_cpu0_ = ProcCpuS(o_.server_pid);
    self_cpu0_ = SelfCpuS();
  }

  void SendOp(Conn* c) {
    if (stop_sending_ || finished_) return;
    int64_t len = c->join_len + (c->rev - c->join_rev);
    int64_t pos = std::uniform_int_distribution<int64_t>(0, len)(rng_);
    char payload[128];
    int pl;
    if (pos > 0)
      pl = std::snprintf(payload, sizeof payload,
                         R"({"components":[{"type":"retain","count":%lld},{"type":"insert","text":"x"}]})",
                         static_cast<long long>(pos));
    else
      pl = std::snprintf(payload, sizeof payload, R"({"components":[{"type":"insert","text":"x"}]})");
    c->out.clear();
    char corr[24], base[24];
    const std::string_view corr_s(corr, size_t(std::to_chars(corr, corr + sizeof corr, ++c->corr).ptr - corr));
    const std::string_view base_s(base, size_t(std::to_chars(base, base + sizeof base, c->rev).ptr - base));
    const std::string_view op(payload, size_t(pl));
    if (grpc_) return GrpcSendOp(c, corr_s, base_s, op);
    if (sr_) {
      // §3.7 SendOp(documentId, payload: base64, baseRevision); the completion is the ack.
      c->out += R"({"type":1,"invocationId":")";
      c->out += corr_s;
      c->out += R"(","target":"SendOp","arguments":[")";
      c->out += DocId(c);
      c->out += R"(",")";
      opstream::Base64Encode(op, c->out);
      c->out += R"(",)";
      c->out += base_s;
      c->out += "]}\x1e";
    } else {
      c->out += R"({"correlationId":"o)";
      c->out += corr_s;
      c->out += R"(","messageType":2,"opRequest":{"documentId":")";
      c->out += DocId(c);
      c->out += R"(","payload":")";
      opstream::Base64Encode(op, c->out);
      c->out += R"(","baseRevision":)";
      c->out += base_s;
      c->out += "}}";
    }
    c->in_flight = true;
    c->sent_at = Clock::now();
    WriteFrame(c);
  }

  // Wraps c->out in a masked client frame (RFC 6455 §5.3) and writes it; a short frame normally
  // goes out with one non-blocking send.
  void WriteFrame(Conn* c) {
    const size_t n = c->out.size();
    char header[14];
    size_t h = 0;
    header[h++] = char(0x81);
    if (n < 126) {
      header[h++] = char(0x80 | n);
    } else if (n <= 0xFFFF) {
      header[h++] = char(0x80 | 126);
      header[h++] = char(n >> 8);
      header[h++] = char(n & 0xFF);
    } else {
      header[h++] = char(0x80 | 127);
      for (int shift = 56; shift >= 0; shift -= 8) header[h++] = char((uint64_t(n) >> shift) & 0xFF);
    }
    const uint32_t key = uint32_t(rng_());
    std::memcpy(header + h, &key, 4);
    const auto* k = reinterpret_cast<const unsigned char*>(header + h);
    h += 4;
    for (size_t i = 0; i < n; ++i) c->out[i] = char(c->out[i] ^ k[i & 3]);
    c->out.insert(0, header, h);
    auto& sock = c->ws.next_layer();
    const ssize_t sent = ::send(sock.native_handle(), c->out.data(), c->out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent == ssize_t(c->out.size())) return;
    const size_t done = sent > 0 ? size_t(sent) : 0;
    asio::async_write(sock, asio::buffer(c->out.data() + done, c->out.size() - done),
                      [this, c](beast::error_code ec, size_t) {
                        if (ec && !finished_) {
                          ++errors_;
                          std::fprintf(stderr, "write %d: %s\n", c->id, ec.message().c_str());
                          Finish();
                        }
                      });
  }

  // Reads server frames (unmasked, unfragmented: the server never fragments) from the socket.
  void Read(Conn* c) {
    // Idle SignalR connections read only their handshake and join: start small.
    if (c->rbuf.empty()) c->rbuf.resize(o_.scenario == "idle" ? 4096 : 64 * 1024);
    if (c->rlen == c->rbuf.size()) c->rbuf.resize(c->rbuf.size() * 2);
    c->ws.next_layer().async_read_some(asio::buffer(c->rbuf.data() + c->rlen, c->rbuf.size() - c->rlen),
                                       [this, c](beast::error_code ec, size_t n) {
                                         if (finished_) return;
                                         if (ec) {
                                           if (!c->settled) return ConnFailed(c, ec, "read");
                                           ++errors_;
                                           std::fprintf(stderr, "read %d: %s\n", c->id, ec.message().c_str());
                                           return Finish();
                                         }
                                         c->rlen += n;
                                         size_t pos = 0;
                                         while (c->rlen - pos >= 2) {
                                           const auto* b = reinterpret_cast<const unsigned char*>(c->rbuf.data() + pos);
                                           uint64_t len = b[1] & 0x7F;
                                           size_t off = 2;
                                           if (len == 126) {
                                             if (c->rlen - pos < 4) break;
                                             len = (uint64_t(b[2]) << 8) | b[3];
                                             off = 4;
                                           } else if (len == 127) {
                                             if (c->rlen - pos < 10) break;
                                             len = 0;
                                             for (int i = 2; i < 10; ++i) len = (len << 8) | b[i];
                                             off = 10;
                                           }
                                           if (c->rlen - pos < off + len) break;
                                           const int opcode = b[0] & 0x0F;
                                           if (sr_ && opcode <= 0x2) {
                                             SrData(c, std::string_view(c->rbuf.data() + pos + off, size_t(len)));
                                             if (finished_) return;
                                           } else if (opcode == 0x1 || opcode == 0x2) {
                                             OnMessage(c, std::string_view(c->rbuf.data() + pos + off, size_t(len)));
                                             if (finished_) return;
                                           } else if (opcode == 0x8) {
                                             ++errors_;
                                             std::fprintf(stderr, "conn %d closed by the server\n", c->id);
                                             return Finish();
                                           }
                                           pos += off + size_t(len);
                                         }
                                         if (pos > 0) {
                                           std::memmove(c->rbuf.data(), c->rbuf.data() + pos, c->rlen - pos);
                                           c->rlen -= pos;
                                         }
                                         if (c->stop_reading) {
                                           std::vector<char>().swap(c->rbuf);
                                           c->rlen = 0;
                                           return;
                                         }
                                         Read(c);
                                       });
  }

  // Document id of a client: the single --doc, or --doc-<index> when spread over documents.
  std::string DocId(const Conn* c) const { return o_.documents == 1 ? o_.doc : o_.doc + "-d" + std::to_string(c->doc); }

  // Conn `doc` is the first client of document `doc` (round-robin), so its join revision is the base.
  RevRec* Rec(int doc, int64_t rev) {
    auto& recs = recs_[size_t(doc)];
    int64_t i = rev - conns_[size_t(doc)]->join_rev;
    if (i < 0 || size_t(i) >= recs.size()) return nullptr;
    return &recs[size_t(i)];
  }

  void OnMessage(Conn* c, std::string_view s) {
    auto now = Clock::now();
    int64_t mt = -1, rev = 0;
    FindInt(s, "\"messageType\"", mt);
    if (mt == 5) {
      if (!FindInt(s, "\"newRevision\"", rev)) return Bad(s, "event without newRevision");
      OnEvent(c, rev, now);
    } else if (mt == 3) {
      if (!FindInt(s, "\"newRevision\"", rev)) return Bad(s, "ack without newRevision");
      OnAck(c, s.find("\"success\":true") != std::string_view::npos, s, rev, now);
    } else if (mt == 8) {
      Bad(s, "error response");
    } else if (mt == 6 || mt == 7) {
      // awareness / peer disconnected: not used here
    } else {
      Bad(s, "unexpected message");
    }
  }

  // A broadcast of revision `rev` reached `c`.
  void OnEvent(Conn* c, int64_t rev, Clock::time_point now) {
    if (rev <= c->rev) ++order_errors_;
    c->rev = std::max(c->rev, rev);
    ++delivered_;
    if (RevRec* r = Rec(c->doc, rev)) {
      ++r->received;
      r->last_recv = now;
      MaybeComplete(c->doc, r);
    }
  }

  // The op of `c` was acknowledged with revision `rev`; `s` is the ack message (for the log).
  void OnAck(Conn* c, bool success, std::string_view s, int64_t rev, Clock::time_point now) {
    if (!success) {
      ++rejected_;
      if (rejected_ <= 5) std::fprintf(stderr, "rejected: %.*s\n", int(std::min<size_t>(s.size(), 300)), s.data());
    }
    if (rev <= c->rev) ++order_errors_;
    c->rev = std::max(c->rev, rev);
    c->in_flight = false;
    double ack_us = std::chrono::duration<double, std::micro>(now - c->sent_at).count();
    ++committed_;
    if (measuring_) {
      ++measured_ops_;
      measured_deliveries_ += doc_receivers_[size_t(c->doc)];
      ack_lat_.Add(ack_us);
    }
    if (RevRec* r = Rec(c->doc, rev)) {
      r->acked = true;
      r->send = c->sent_at;
      // A client alone on its document: "received by every other client" is the ack.
      if (doc_receivers_[size_t(c->doc)] == 0) r->last_recv = now;
      r->measured = measuring_ && c->sent_at >= t0_;
      if (r->measured) ++measured_pending_;
      MaybeComplete(c->doc, r);
    }
    if (!measuring_ && committed_ >= o_.warmup) BeginMeasure();
    if (measuring_ && measured_ops_ >= o_.ops && !stop_sending_) {
      stop_sending_ = true;
      t_end_ops_ = now;
      srv_cpu_ops_ = ProcCpuS(o_.server_pid);
      self_cpu_ops_ = SelfCpuS();
      MaybeDrained();
      if (!finished_) {
        // Wait at most 5 s for the last deliveries.
        auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(5));
        t->async_wait([this, t](beast::error_code) { Finish(); });
      }
    }
    SendOp(c);
  }

  // ----- SignalR (wire-protocol.md §3) -----
  void SrStart(Conn* c) {
    c->out.assign("{\"protocol\":\"json\",\"version\":1}\x1e");
    if (o_.join) {
      c->out += R"({"type":1,"invocationId":"j","target":"JoinDocument","arguments":[")";
      c->out += o_.scenario == "idle" ? o_.doc + "-" + std::to_string(c->id) : DocId(c);
      c->out += R"(","text",1]})";
      c->out += '\x1e';
    }
    WriteFrame(c);
    Read(c);
  }

  // Payload of one data frame: part of the record stream.
  void SrData(Conn* c, std::string_view data) {
    if (c->records.empty()) {
      // Common case: the frame holds whole records; scan it in place.
      size_t start = 0;
      for (size_t e; (e = data.find('\x1e', start)) != std::string_view::npos; start = e + 1) {
        SrRecord(c, data.substr(start, e - start));
        if (finished_) return;
      }
      c->records.assign(data.substr(start));
      return;
    }
    c->records.append(data);
    size_t start = 0;
    for (size_t e; (e = c->records.find('\x1e', start)) != std::string::npos; start = e + 1) {
      SrRecord(c, std::string_view(c->records).substr(start, e - start));
      if (finished_) return;
    }
    c->records.erase(0, start);
  }

  void SrRecord(Conn* c, std::string_view s) {
    auto now = Clock::now();
    if (!c->handshake_done) {
      if (s != "{}") {
        Bad(s, "handshake failed");
        return ConnFailed(c, {}, "handshake response");
      }
      c->handshake_done = true;
      if (!o_.join) SrReady(c);
      return;
    }
    int64_t type = -1, rev = 0;
    FindInt(s, "\"type\"", type);  // the server writes `type` first
    if (type == 3) {
      if (s.find("\"error\"") != std::string_view::npos) {
        Bad(s, c->joined ? "SendOp failed" : "JoinDocument failed");
        if (!c->joined) return ConnFailed(c, {}, "join");
        return;
      }
      if (!c->joined) {
        if (!FindInt(s, "\"revision\"", rev)) {
          Bad(s, "join result without revision");
          return ConnFailed(c, {}, "join");
        }
        c->join_rev = c->rev = rev;
        c->join_len = SnapshotLen(s);
        c->joined = true;
        return SrReady(c);
      }
      if (!FindInt(s, "\"newRevision\"", rev)) return Bad(s, "ack without newRevision");
      OnAck(c, s.find("\"success\":true") != std::string_view::npos, s, rev, now);
    } else if (type == 1) {
      constexpr std::string_view kReceiveOp = R"("target":"ReceiveOp","arguments":[")";
      size_t p = s.find(kReceiveOp);
      if (p == std::string_view::npos) return;  // awareness / peer disconnected: not used here
      p = s.find('"', p + kReceiveOp.size());   // end of the base64 payload
      if (p == std::string_view::npos || p + 2 > s.size() || s[p + 1] != ',') return Bad(s, "malformed ReceiveOp");
      auto r = std::from_chars(s.data() + p + 2, s.data() + s.size(), rev);
      if (r.ec != std::errc()) return Bad(s, "ReceiveOp without revision");
      OnEvent(c, rev, now);
    } else if (type == 6) {
      // keep-alive
    } else if (type == 7) {
      Bad(s, "closed by the server");
      Finish();
    } else {
      Bad(s, "unexpected record");
    }
  }

  void SrReady(Conn* c) {
    // Idle connections stop reading (as in raw mode); the keep-alive timer pings for them.
    if (o_.scenario == "idle") c->stop_reading = true;
    ConnReady(c);
  }

  // The server drops a SignalR connection that sent nothing for 30 s (§3.5): idle connections and
  // fan-out readers ping like the real clients. Writers are skipped (their ops keep them alive,
  // and their output string may still be in a pending write).
  void SrKeepAlive() {
    auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(10));
    t->async_wait([this, t](beast::error_code ec) {
      if (ec || finished_) return;
      for (auto& c : conns_) {
        if (!c->settled || c->failed || c->id < writers_) continue;
        c->out.assign("{\"type\":6}\x1e");
        WriteFrame(c.get());
      }
      SrKeepAlive();
    });
  }

  // ----- gRPC (wire-protocol.md §5) -----
  static nghttp2_nv Nv(std::string_view name, std::string_view value) {
    return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
            reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
            NGHTTP2_NV_FLAG_NONE};
  }

  void GrpcStart(Conn* c) {
    if (finished_) return;  // connected after the end of the run: no stream to wait for
    c->runner = this;
    if (nghttp2_session_client_new(&c->h2, h2_callbacks_, c) != 0) return ConnFailed(c, {}, "nghttp2 session");
    // Wide windows: the benchmark measures the server, not HTTP/2 flow-control round trips.
    constexpr int32_t kWindow = 16 << 20;
    const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                               {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kWindow}};
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, kWindow);
    const std::string authority = o_.host + ":" + std::to_string(eps_[size_t(c->id) % eps_.size()].port());
    const nghttp2_nv headers[] = {Nv(":method", "POST"),
                                  Nv(":scheme", "http"),
                                  Nv(":path", o_.path),
                                  Nv(":authority", authority),
                                  Nv("content-type", "application/grpc"),
                                  Nv("te", "trailers"),
                                  Nv("user-agent", "opstream-loadgen")};
    nghttp2_data_provider body{};
    body.source.ptr = c;
    body.read_callback = &Runner::H2ReadBody;
    c->stream_id = nghttp2_submit_request(c->h2, nullptr, headers, std::size(headers), &body, c);
    if (c->stream_id < 0) return ConnFailed(c, {}, "nghttp2 request");
    ++grpc_streams_;
    auto& join = *c->request.mutable_join_request();
    join.set_document_id(o_.scenario == "idle" ? o_.doc + "-" + std::to_string(c->id) : DocId(c));
    join.set_document_type("text");
    join.set_client_proto_version(1);
    c->request.set_correlation_id("j");
    if (!o_.join) {
      // Upgrade-only idle connections: the stream is open, no document is joined.
      c->request.Clear();
      GrpcFlush(c);
      GrpcRead(c);
      return ConnReady(c);
    }
    GrpcQueue(c);
    GrpcRead(c);
  }

  // Frames c->request (gRPC length prefix, uncompressed) behind the queued bytes.
  void GrpcQueue(Conn* c) {
    const size_t n = c->request.ByteSizeLong();
    const size_t at = c->gout.size();
    c->gout.resize(at + 5 + n);
    auto* p = reinterpret_cast<uint8_t*>(c->gout.data() + at);
    p[0] = 0;
    p[1] = uint8_t(n >> 24);
    p[2] = uint8_t(n >> 16);
    p[3] = uint8_t(n >> 8);
    p[4] = uint8_t(n);
    c->request.SerializeWithCachedSizesToArray(p + 5);
    if (c->deferred) {
      c->deferred = false;
      nghttp2_session_resume_data(c->h2, c->stream_id);
    }
    GrpcFlush(c);
  }

  void GrpcSendOp(Conn* c, std::string_view corr, std::string_view base, std::string_view op) {
    auto& req = *c->request.mutable_op_request();  // the join's oneof member is dropped once
    if (req.document_id().empty()) req.set_document_id(DocId(c));
    req.mutable_payload()->assign(op.data(), op.size());
    int64_t rev = 0;
    std::from_chars(base.data(), base.data() + base.size(), rev);
    req.set_base_revision(rev);
    auto& id = *c->request.mutable_correlation_id();
    id.assign("o");
    id.append(corr.data(), corr.size());
    c->in_flight = true;
    c->sent_at = Clock::now();
    GrpcQueue(c);
  }

  // Moves nghttp2's pending output to the socket. Not re-entered from inside the same session's
  // mem_recv (nghttp2 forbids it): the read handler flushes once mem_recv returns.
  void GrpcFlush(Conn* c) {
    if (c->h2 == nullptr || c == in_recv_) return;
    for (;;) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(c->h2, &data);
      if (n < 0) return GrpcFail(c, nghttp2_strerror(int(n)));
      if (n == 0) break;
      size_t done = 0;
      if (c->wbuf.empty() && !c->wait_writable) {
        // Common case: nothing queued, the bytes go out without a copy.
        const ssize_t sent = ::send(c->ws.next_layer().native_handle(), data, size_t(n), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return GrpcFail(c, "send failed");
        done = sent > 0 ? size_t(sent) : 0;
      }
      if (done < size_t(n)) c->wbuf.append(reinterpret_cast<const char*>(data) + done, size_t(n) - done);
    }
    GrpcWrite(c);
  }

  void GrpcWrite(Conn* c) {
    if (c->wait_writable || c->woff == c->wbuf.size()) return;
    auto& sock = c->ws.next_layer();
    const ssize_t sent =
        ::send(sock.native_handle(), c->wbuf.data() + c->woff, c->wbuf.size() - c->woff, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return GrpcFail(c, "send failed");
    if (sent > 0) c->woff += size_t(sent);
    if (c->woff == c->wbuf.size()) {
      c->wbuf.clear();
      c->woff = 0;
      return;
    }
    c->wait_writable = true;
    sock.async_wait(tcp::socket::wait_write, [this, c](beast::error_code ec) {
      c->wait_writable = false;
      if (exiting_) return;
      if (ec) return GrpcFail(c, ec.message().c_str());
      GrpcWrite(c);
    });
  }

  void GrpcRead(Conn* c) {
    if (c->rbuf.empty()) c->rbuf.resize(o_.scenario == "idle" ? 4096 : 64 * 1024);
    c->ws.next_layer().async_read_some(asio::buffer(c->rbuf), [this, c](beast::error_code ec, size_t n) {
      if (exiting_) return;
      if (ec) return GrpcFail(c, ec.message().c_str());
      in_recv_ = c;
      const ssize_t r = nghttp2_session_mem_recv(c->h2, reinterpret_cast<const uint8_t*>(c->rbuf.data()), n);
      in_recv_ = nullptr;
      if (r < 0) return GrpcFail(c, nghttp2_strerror(int(r)));
      if (exiting_) return;
      GrpcFlush(c);
      GrpcRead(c);
    });
  }

  // A transport failure of one connection: before the run it fails the connection, during the run
  // it ends the run (as in the other modes), while closing it counts as an unclean end.
  void GrpcFail(Conn* c, const char* what) {
    if (!finished_) c->stream_closed = true;  // this stream cannot end cleanly any more
    if (!c->settled) {
      std::fprintf(stderr, "conn %d: %s\n", c->id, what);
      return ConnFailed(c, {}, "grpc");
    }
    if (finished_) {
      if (!c->stream_closed) {
        c->stream_closed = true;
        if (--grpc_open_ == 0) GrpcDone();
      }
      return;
    }
    ++errors_;
    if (errors_ <= 5) std::fprintf(stderr, "conn %d: %s\n", c->id, what);
    Finish();
  }

  static ssize_t H2ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                            nghttp2_data_source* source, void*) {
    auto* c = static_cast<Conn*>(source->ptr);
    const size_t avail = c->gout.size() - c->gout_off;
    if (avail == 0) {
      if (c->half_close) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return 0;
      }
      c->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    const size_t n = std::min(avail, length);
    std::memcpy(buf, c->gout.data() + c->gout_off, n);
    c->gout_off += n;
    if (c->gout_off == c->gout.size()) {
      c->gout.clear();
      c->gout_off = 0;
    }
    return ssize_t(n);
  }

  static int H2OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                        const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto* c = static_cast<Conn*>(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->hd.stream_id != c->stream_id) return 0;
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status")
      std::from_chars(v.data(), v.data() + v.size(), c->http_status);
    else if (n == "grpc-status")
      std::from_chars(v.data(), v.data() + v.size(), c->grpc_status);
    else if (n == "grpc-message")
      c->grpc_message.assign(v);
    return 0;
  }

  static int H2OnFrame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* c = static_cast<Conn*>(user);
    // The call ends with the server's END_STREAM (its status), even while the request side is
    // still open: a refused call must not wait for the run's time limit.
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 && frame->hd.stream_id == c->stream_id)
      c->runner->GrpcStreamClosed(c, NGHTTP2_NO_ERROR);
    if (frame->hd.type == NGHTTP2_GOAWAY && !c->runner->finished_) {
      c->runner->Bad("GOAWAY", "server ended the connection");
      c->runner->Finish();
    }
    return 0;
  }

  static int H2OnData(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len, void* user) {
    auto* c = static_cast<Conn*>(user);
    if (stream_id == c->stream_id && !c->runner->finished_)
      c->runner->GrpcData(c, std::string_view(reinterpret_cast<const char*>(data), len));
    return 0;
  }

  static int H2OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
    auto* c = static_cast<Conn*>(user);
    if (stream_id == c->stream_id) c->runner->GrpcStreamClosed(c, error_code);
    return 0;
  }

  void GrpcStreamClosed(Conn* c, uint32_t error_code) {
    if (c->stream_closed) return;
    c->stream_closed = true;
    if (!finished_) {
      char what[320];
      std::snprintf(what, sizeof what, "stream closed by the server (HTTP/2 error %u, :status %d, grpc-status %d %s)",
                    error_code, c->http_status, c->grpc_status, c->grpc_message.c_str());
      if (!c->settled) {
        std::fprintf(stderr, "conn %d: %s\n", c->id, what);
        return ConnFailed(c, {}, "grpc");
      }
      Bad(what, "grpc");
      return Finish();
    }
    if (error_code == NGHTTP2_NO_ERROR && c->http_status == 200 && c->grpc_status == 0)
      ++grpc_closed_ok_;
    else if (grpc_close_errors_++ < 5)
      std::fprintf(stderr, "conn %d ended with HTTP/2 error %u, :status %d, grpc-status %d %s\n", c->id, error_code,
                   c->http_status, c->grpc_status, c->grpc_message.c_str());
    if (--grpc_open_ == 0) GrpcDone();
  }

  // Bytes of the response body: gRPC messages, split anywhere by HTTP/2 framing.
  void GrpcData(Conn* c, std::string_view data) {
    if (c->records.empty()) {
      // Common case: the DATA frame holds whole messages; they are parsed in place.
      const size_t used = GrpcMessages(c, data);
      if (used < data.size() && !finished_) c->records.assign(data.substr(used));
      return;
    }
    c->records.append(data);
    const size_t used = GrpcMessages(c, c->records);
    if (!finished_) c->records.erase(0, used);
  }

  static bool ReadVarint(const uint8_t*& p, const uint8_t* end, uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
      const uint8_t b = *p++;
      v |= uint64_t(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }

  // Fast path for the message every receiver gets, a ServerMessage holding only
  // receive_op_event (field 4): its new_revision (field 2) read from the wire. Parsing it into a
  // ServerMessage would copy the payload into a heap string, one malloc per delivery, which is
  // the generator's hottest path in fan-out. Anything else returns false and is parsed in full.
  static bool EventRevision(const uint8_t* p, size_t n, int64_t& rev) {
    const uint8_t* end = p + n;
    uint64_t tag = 0, len = 0;
    if (!ReadVarint(p, end, tag) || tag != ((4 << 3) | 2) || !ReadVarint(p, end, len) || len != size_t(end - p))
      return false;
    bool found = false;
    while (p < end) {
      if (!ReadVarint(p, end, tag)) return false;
      uint64_t v = 0;
      if ((tag & 7) == 0) {
        if (!ReadVarint(p, end, v)) return false;
        if ((tag >> 3) == 2) {
          rev = int64_t(v);
          found = true;
        }
      } else if ((tag & 7) == 2) {
        if (!ReadVarint(p, end, v) || v > uint64_t(end - p)) return false;
        p += v;
      } else {
        return false;
      }
    }
    return found;
  }

  // Handles the whole messages at the start of `s`; returns the bytes used.
  size_t GrpcMessages(Conn* c, std::string_view s) {
    size_t pos = 0;
    while (s.size() - pos >= 5 && !finished_) {
      const auto* p = reinterpret_cast<const uint8_t*>(s.data() + pos);
      const size_t n = size_t(p[1]) << 24 | size_t(p[2]) << 16 | size_t(p[3]) << 8 | p[4];
      if (s.size() - pos - 5 < n) break;
      int64_t rev = 0;
      if (p[0] != 0) {
        Bad("compressed flag", "unexpected compressed message");
      } else if (EventRevision(p + 5, n, rev)) {
        OnEvent(c, rev, Clock::now());
      } else {
        auto* m = google::protobuf::Arena::CreateMessage<opstream::ServerMessage>(arena_.get());
        if (m->ParseFromArray(p + 5, int(n)))
          OnGrpcMessage(c, *m);
        else
          Bad("", "unparsable ServerMessage");
        arena_->Reset();
      }
      pos += 5 + n;
    }
    return pos;
  }

  void OnGrpcMessage(Conn* c, const opstream::ServerMessage& m) {
    const auto now = Clock::now();
    switch (m.message_type_case()) {
      case opstream::ServerMessage::kReceiveOpEvent:
        return OnEvent(c, m.receive_op_event().new_revision(), now);
      case opstream::ServerMessage::kOpResponse: {
        const auto& r = m.op_response();
        return OnAck(c, r.success(), r.error_message(), r.new_revision(), now);
      }
      case opstream::ServerMessage::kJoinResponse:
        if (c->joined) return Bad("join_response", "unexpected message");
        c->join_rev = c->rev = m.join_response().revision();
        c->join_len = ContentLen(m.join_response().snapshot());
        c->joined = true;
        return ConnReady(c);
      case opstream::ServerMessage::kErrorResponse:
        Bad(m.error_response().message(), "error response");
        if (!c->joined) ConnFailed(c, {}, "join");
        return;
      default:
        return;  // awareness / peer disconnected: not used here
    }
  }

  // End of the run: half-close every open Connect stream and wait (at most 5 s) for its trailers,
  // so that a stream the server does not end shows up in the report instead of being cut off.
  void GrpcClose() {
    close_t0_ = Clock::now();
    for (auto& c : conns_) {
      if (c->h2 == nullptr || c->stream_id < 0 || c->stream_closed) continue;
      ++grpc_open_;
      c->half_close = true;
      if (c->deferred) {
        c->deferred = false;
        nghttp2_session_resume_data(c->h2, c->stream_id);
      }
      GrpcFlush(c.get());
    }
    if (grpc_open_ == 0) return GrpcDone();
    auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(5));
    t->async_wait([this, t](beast::error_code) { GrpcDone(); });
  }

  void GrpcDone() {
    if (grpc_done_) return;
    grpc_done_ = true;
    // Leaves any nghttp2 callback first: the sessions are sent their GOAWAY from the loop.
    asio::post(io_, [this] {
      for (auto& c : conns_) {
        if (c->h2 == nullptr || c->failed) continue;
        nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
        GrpcFlush(c.get());
      }
      exiting_ = true;
      report_ += ",\"grpc_streams\":" + std::to_string(grpc_streams_);
      report_ += ",\"grpc_closed_ok\":" + std::to_string(grpc_closed_ok_);
      report_ +=
          ",\"grpc_close_ms\":" + Fmt(std::chrono::duration<double, std::milli>(Clock::now() - close_t0_).count(), 1);
      if (grpc_closed_ok_ != grpc_streams_ && exit_code_ == 0) exit_code_ = 1;
      Exit();
    });
  }

  void Bad(std::string_view s, const char* what) {
    ++errors_;
    if (errors_ <= 5) std::fprintf(stderr, "%s: %.*s\n", what, int(std::min<size_t>(s.size(), 300)), s.data());
  }

  void MaybeComplete(int doc, RevRec* r) {
    const int receivers = doc_receivers_[size_t(doc)];
    if (r->done || !r->acked || r->received < receivers) return;
    r->done = true;
    if (!r->measured) return;
    if (receivers > 0 || o_.documents > 1)
      all_lat_.Add(std::chrono::duration<double, std::micro>(r->last_recv - r->send).count());
    --measured_pending_;
    MaybeDrained();
  }

  void MaybeDrained() {
    if (stop_sending_ && measured_pending_ == 0 && !finished_) {
      t_drained_ = Clock::now();
      drained_ = true;
      Finish();
    }
  }

  // ----- idle -----
  void StartIdle() {
    rss0_ = ProcStatusKiB(o_.server_pid, "VmRSS");
    hwm0_ = ProcStatusKiB(o_.server_pid, "VmHWM");
    srv_cpu0_ = ProcCpuS(o_.server_pid);
    self_cpu0_ = SelfCpuS();
    if (sr_) SrKeepAlive();
    OpenConnections(o_.n, [this] {
      auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(long(o_.hold_s * 1000)));
      t->async_wait([this, t](beast::error_code) {
        rss1_ = ProcStatusKiB(o_.server_pid, "VmRSS");
        hwm1_ = ProcStatusKiB(o_.server_pid, "VmHWM");
        idle_done_ = true;
        Finish();
      });
    });
  }

  // ----- report -----
  void Finish() {
    if (finished_) return;
    finished_ = true;
    deadline_.cancel();
    // The figures are taken now, before any closing work adds to the CPU counters.
    report_ = Report();
    if (grpc_) return GrpcClose();
    Exit();
  }

  void Exit() {
    report_ += "}\n";
    std::fputs(report_.c_str(), stdout);
    // Close quickly: the sockets are closed by the OS when the process exits.
    std::fflush(stdout);
    std::_Exit(exit_code_ ? exit_code_ : (timed_out_ || errors_ || failed_ ? 1 : 0));
  }

  // The report's JSON object without its closing brace.
  std::string Report() {
    auto now = Clock::now();
    std::string j = "{";
    auto kv = [&](const char* k, const std::string& v) {
      if (j.size() > 1) j += ',';
      j += '"';
      j += k;
      j += "\":";
      j += v;
    };
    auto str = [](const std::string& s) { return "\"" + s + "\""; };
    kv("scenario", str(o_.scenario));
    kv("transport", str(o_.transport));
    kv("load_avg_1m", Fmt(LoadAvg(), 2));
    if (o_.scenario == "idle") {
      double connect_s = std::chrono::duration<double>(t_connected_ - t_start_).count();
      kv("conns", std::to_string(o_.n));
      kv("join", std::to_string(o_.join));
      kv("ok", std::to_string(ok_conns_));
      kv("failed", std::to_string(failed_));
      kv("held", idle_done_ && failed_ == 0 ? "true" : "false");
      kv("connect_s", Fmt(idle_done_ ? connect_s : -1, 2));
      kv("server_rss_before_kib", std::to_string(rss0_));
      kv("server_rss_after_kib", std::to_string(rss1_));
      kv("server_hwm_before_kib", std::to_string(hwm0_));
      kv("server_hwm_after_kib", std::to_string(hwm1_));
      kv("server_rss_bytes_per_conn",
         Fmt(rss1_ > 0 && ok_conns_ > 0 ? double(rss1_ - rss0_) * 1024.0 / ok_conns_ : -1, 0));
      kv("server_hwm_bytes_per_conn",
         Fmt(hwm1_ > 0 && ok_conns_ > 0 ? double(hwm1_ - hwm0_) * 1024.0 / ok_conns_ : -1, 0));
      kv("loadgen_rss_kib", std::to_string(ProcStatusKiB(getpid(), "VmRSS")));
      double srv = ProcCpuS(o_.server_pid) - srv_cpu0_;
      kv("server_cpu_us_per_conn", Fmt(o_.server_pid > 0 && ok_conns_ ? srv * 1e6 / ok_conns_ : -1, 1));
    } else {
      bool done = stop_sending_;
      auto t_end = done ? t_end_ops_ : now;
      double secs = measuring_ ? std::chrono::duration<double>(t_end - t0_).count() : 0;
      double secs_drain = std::chrono::duration<double>((drained_ ? t_drained_ : now) - t0_).count();
      double srv1 = done ? srv_cpu_ops_ : ProcCpuS(o_.server_pid);
      double self1 = done ? self_cpu_ops_ : SelfCpuS();
      double srv_cpu = srv1 - srv_cpu0_, self_cpu = self1 - self_cpu0_;
      double srv_drain = ProcCpuS(o_.server_pid) - srv_cpu0_;
      int64_t deliveries = measured_deliveries_;
      kv(o_.scenario == "fanout" ? "readers" : "n", std::to_string(o_.scenario == "fanout" ? o_.n : o_.n));
      kv("documents", std::to_string(o_.documents));
      kv("ops", std::to_string(measured_ops_));
      kv("warmup", std::to_string(o_.warmup));
      kv("completed", done && !timed_out_ ? "true" : "false");
      kv("seconds", Fmt(secs, 3));
      kv("ops_per_s", Fmt(measured_ops_ / secs, 0));
      if (receivers_ > 0) {
        kv("deliveries_per_s", Fmt(double(deliveries) / secs_drain, 0));
        kv("all_received_p50_ms", Fmt(all_lat_.At(0.5) / 1e3));
        kv("all_received_p90_ms", Fmt(all_lat_.At(0.9) / 1e3));
        kv("all_received_p99_ms", Fmt(all_lat_.At(0.99) / 1e3));
        kv("all_received_max_ms", Fmt(all_lat_.Max() / 1e3));
        kv("all_received_samples", std::to_string(all_lat_.v.size()));
      }
      kv("ack_p50_ms", Fmt(ack_lat_.At(0.5) / 1e3));
      kv("ack_p99_ms", Fmt(ack_lat_.At(0.99) / 1e3));
      if (o_.server_pid > 0) {
        kv("server_cpu_s", Fmt(srv_drain, 3));
        kv("server_cpu_pct", Fmt(100.0 * srv_cpu / secs, 1));
        kv("server_cpu_us_per_op", Fmt(srv_drain * 1e6 / double(measured_ops_), 2));
        if (receivers_ > 0) kv("server_cpu_us_per_delivery", Fmt(srv_drain * 1e6 / double(deliveries), 3));
        kv("server_hwm_kib", std::to_string(ProcStatusKiB(o_.server_pid, "VmHWM")));
      }
      kv("loadgen_cpu_pct", Fmt(100.0 * self_cpu / secs, 1));
      kv("delivered_total", std::to_string(delivered_));
      kv("missing_deliveries", std::to_string(measured_pending_));
      kv("order_errors", std::to_string(order_errors_));
      kv("rejected", std::to_string(rejected_));
    }
    kv("errors", std::to_string(errors_));
    kv("timed_out", timed_out_ ? "true" : "false");
    return j;
  }

  static double LoadAvg() {
    double l[1];
    return getloadavg(l, 1) == 1 ? l[0] : -1;
  }

  Options o_;
  bool sr_ = o_.transport == "signalr";
  asio::io_context io_{1};
  std::mt19937_64 rng_;
  asio::steady_timer deadline_;
  std::vector<tcp::endpoint> eps_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::function<void()> all_ready_;
  int target_ = 0, next_connect_ = 0, ready_ = 0, ok_conns_ = 0, failed_ = 0;
  int writers_ = 0, receivers_ = 0;
  std::vector<std::vector<RevRec>> recs_;  // per document, indexed by revision - its base
  std::vector<int> doc_receivers_;         // per document: its clients minus the sender
  int64_t measured_deliveries_ = 0;
  bool measuring_ = false, stop_sending_ = false, finished_ = false, drained_ = false, timed_out_ = false;
  bool idle_done_ = false;
  long committed_ = 0, measured_ops_ = 0, measured_pending_ = 0;
  long delivered_ = 0, order_errors_ = 0, rejected_ = 0, errors_ = 0;
  int exit_code_ = 0;
  Clock::time_point t_start_, t_connected_, t0_, t_end_ops_, t_drained_;
  double srv_cpu0_ = 0, self_cpu0_ = 0, srv_cpu_ops_ = 0, self_cpu_ops_ = 0;
  long rss0_ = -1, rss1_ = -1, hwm0_ = -1, hwm1_ = -1;
  Pct all_lat_, ack_lat_;
  std::string report_;
  // gRPC
  bool grpc_ = o_.transport == "grpc";
  nghttp2_session_callbacks* h2_callbacks_ = nullptr;
  Conn* in_recv_ = nullptr;  // the connection whose nghttp2_session_mem_recv is running
  std::array<char, 64 * 1024> arena_block_{};
  std::unique_ptr<google::protobuf::Arena> arena_;
  int grpc_streams_ = 0, grpc_open_ = 0, grpc_closed_ok_ = 0, grpc_close_errors_ = 0;
  bool grpc_done_ = false, exiting_ = false;
  Clock::time_point close_t0_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o = ParseArgs(argc, argv);
  RaiseNofile();
  long need = (o.scenario == "fanout" ? o.n + 1 : o.n) + 64;
  if (NofileLimit() < need) {
    std::fprintf(stderr, "RLIMIT_NOFILE %ld is below the %ld needed\n", NofileLimit(), need);
    return 2;
  }
  Runner r(std::move(o));
  return r.Run();
}
