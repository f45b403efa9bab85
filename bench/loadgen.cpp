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
//   opstream-loadgen clients --n N --ops M [--warmup 1000] [--documents D]
//   opstream-loadgen fanout  --readers R --ops M [--warmup 200]
//   opstream-loadgen idle    --conns K [--join 1|0] [--src-addrs 8] [--hold-s 2]
// Common: --transport raw|signalr --host 127.0.0.1 --ports 8080[,8081...] --path /collab-ws|/collab
//         --server-pid PID
//         --time-limit-s 120 --seed 42 --inflight 128 (handshakes in flight)
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
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
  std::string transport = "raw";  // raw (/collab-ws) or signalr (/collab, JSON hub protocol)
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
               "  [--warmup W] [--transport raw|signalr] [--host 127.0.0.1] [--ports P1,P2]\n"
               "  [--path /collab-ws|/collab] [--server-pid PID]\n"
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
  if (o.transport != "raw" && o.transport != "signalr") Usage("unknown transport");
  if (o.path.empty()) o.path = o.transport == "signalr" ? "/collab" : "/collab-ws";
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

struct Conn {
  explicit Conn(asio::io_context& io) : ws(io) {}
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
  }

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
    size_t c = json.find("\"content\":\"");
    if (c == std::string::npos) return 0;
    c += 11;
    size_t ce = json.find('"', c);
    return ce == std::string::npos ? 0 : int64_t(ce - c);
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
      if (!sr_)
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
      OnAck(c, s, rev, now);
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

  // The op of `c` was acknowledged with revision `rev`; `s` is the ack message.
  void OnAck(Conn* c, std::string_view s, int64_t rev, Clock::time_point now) {
    if (s.find("\"success\":true") == std::string_view::npos) {
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
      OnAck(c, s, rev, now);
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
    Report();
    // Close quickly: the sockets are closed by the OS when the process exits.
    std::fflush(stdout);
    std::_Exit(exit_code_ ? exit_code_ : (timed_out_ || errors_ || failed_ ? 1 : 0));
  }

  void Report() {
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
      double secs = std::chrono::duration<double>(t_end - t0_).count();
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
    j += "}\n";
    std::fputs(j.c_str(), stdout);
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
