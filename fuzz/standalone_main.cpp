// Driver for the fuzz targets without libFuzzer (GCC builds): runs every file of the corpus
// folders or files named on the command line, then OPSTREAM_FUZZ_RUNS (default 20000) random
// mutations of them. Each mutation is generated from (OPSTREAM_FUZZ_SEED, iteration) alone, so a
// failure is replayed with the printed seed and OPSTREAM_FUZZ_ITERATION; OPSTREAM_FUZZ_DUMP=file
// writes each input to `file` before it runs.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

// The sanitizer runtime reports its own crashes and then exits: it calls back to print the context.
#if defined(__SANITIZE_ADDRESS__)
#define OPSTREAM_HAVE_DEATH_CALLBACK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OPSTREAM_HAVE_DEATH_CALLBACK 1
#endif
#endif
#ifdef OPSTREAM_HAVE_DEATH_CALLBACK
#include <sanitizer/common_interface_defs.h>
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// Tokens that reach the interesting branches of JSON and MessagePack decoders faster than bytes.
constexpr std::array<std::string_view, 24> kTokens = {"0",
                                                      "-1",
                                                      "-0",
                                                      "1e308",
                                                      "4294967296",
                                                      "9223372036854775807",
                                                      "-9223372036854775808",
                                                      "1.5",
                                                      "\"\"",
                                                      "null",
                                                      "true",
                                                      "{}",
                                                      "[]",
                                                      "\\u0000",
                                                      "\\ud800",
                                                      "\\\"",
                                                      "\xff",
                                                      "\xc0\x80",
                                                      "\x1e",
                                                      "\xdc\xff\xff",
                                                      "\xdd\xff\xff\xff\xff",
                                                      "\xcf\xff\xff\xff\xff\xff\xff\xff\xff",
                                                      "\x7f",
                                                      "\x80"};

// What the crash reporter prints (no allocation in a signal handler).
char g_context[160] = "while replaying the corpus";

void ReportContext() {
  const char prefix[] = "\nfuzz: failed ";
  (void)!write(STDERR_FILENO, prefix, sizeof prefix - 1);
  (void)!write(STDERR_FILENO, g_context, std::strlen(g_context));
  (void)!write(STDERR_FILENO, "\n", 1);
}

void OnFatalSignal(int signal) {
  ReportContext();
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : fallback;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void Run(const std::string& input) {
  if (const char* dump = std::getenv("OPSTREAM_FUZZ_DUMP"); dump != nullptr && *dump != '\0') {
    std::ofstream(dump, std::ios::binary | std::ios::trunc)
        .write(input.data(), static_cast<std::streamsize>(input.size()));
  }
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

std::string Mutate(const std::vector<std::string>& corpus, std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  std::string data = corpus[pick(corpus.size())];
  const auto steps = 1 + pick(4);
  for (size_t step = 0; step < steps; ++step) {
    const size_t pos = pick(data.size() + 1);
    switch (rng() % 8) {
      case 0:  // flip a bit
        if (!data.empty()) data[pick(data.size())] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:  // random byte
        if (!data.empty()) data[pick(data.size())] = static_cast<char>(rng());
        break;
      case 2:  // insert a byte
        data.insert(pos, 1, static_cast<char>(rng()));
        break;
      case 3:  // erase a range
        if (!data.empty()) data.erase(pick(data.size()), 1 + pick(8));
        break;
      case 4: {  // duplicate a range
        if (data.empty()) break;
        const size_t from = pick(data.size());
        data.insert(pos, data.substr(from, 1 + pick(16)));
        break;
      }
      case 5: {  // splice in a range of another input
        const auto& other = corpus[pick(corpus.size())];
        if (other.empty()) break;
        const size_t from = pick(other.size());
        data.insert(pos, other.substr(from, 1 + pick(64)));
        break;
      }
      case 6: {  // replace a digit run or insert a token
        const auto token = kTokens[pick(kTokens.size())];
        size_t end = pos;
        while (end < data.size() && (std::isdigit(static_cast<unsigned char>(data[end])) != 0)) ++end;
        data.replace(pos, end - pos, token);
        break;
      }
      default:  // truncate
        data.resize(pick(data.size() + 1));
        break;
    }
  }
  if (data.size() > 65536) data.resize(65536);
  return data;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path path(argv[i]);
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') files.push_back(entry.path());
      }
    } else {
      files.push_back(path);
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE... (no inputs found)\n", argv[0]);
    return 2;
  }

  for (const int signal : {SIGABRT, SIGSEGV, SIGILL, SIGFPE, SIGBUS}) std::signal(signal, OnFatalSignal);
#ifdef OPSTREAM_HAVE_DEATH_CALLBACK
  __sanitizer_set_death_callback(ReportContext);
#endif

  std::vector<std::string> corpus;
  corpus.reserve(files.size());
  const bool replay_one = std::getenv("OPSTREAM_FUZZ_ITERATION") != nullptr;
  for (const auto& file : files) {
    corpus.push_back(ReadFile(file));
    if (replay_one) continue;
    std::snprintf(g_context, sizeof g_context, "on corpus file %s", file.filename().c_str());
    Run(corpus.back());
  }

  const uint64_t seed = EnvNumber("OPSTREAM_FUZZ_SEED", 1);
  const uint64_t runs = EnvNumber("OPSTREAM_FUZZ_RUNS", 20000);
  uint64_t first = 0;
  uint64_t last = runs;
  if (replay_one) {
    first = EnvNumber("OPSTREAM_FUZZ_ITERATION", 0);
    last = first + 1;
  }
  for (uint64_t i = first; i < last; ++i) {
    std::snprintf(
        g_context, sizeof g_context, "on mutation %llu (replay: OPSTREAM_FUZZ_SEED=%llu OPSTREAM_FUZZ_ITERATION=%llu)",
        static_cast<unsigned long long>(i), static_cast<unsigned long long>(seed), static_cast<unsigned long long>(i));
    std::seed_seq sequence{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(i),
                           static_cast<uint32_t>(i >> 32)};
    std::mt19937_64 rng(sequence);
    Run(Mutate(corpus, rng));
  }
  std::printf("fuzz: %zu corpus inputs and %llu mutations (seed %llu) passed\n", corpus.size(),
              static_cast<unsigned long long>(last - first), static_cast<unsigned long long>(seed));
  return 0;
}
