// The traffic engine of `logpipe generate`.
//
// Speed comes from doing almost nothing per line: every string (URLs, user names, agents) is
// built once, addresses are formatted from integers through a 256-entry octet table, the time
// prefix is formatted once per second of log time, popularity is sampled with alias tables
// (O(1)), probabilities are compared as 64-bit integer thresholds, and lines are written with
// memcpy into one reused buffer that the caller hands to the sink in large blocks.
//
// Realism comes from a pool of concurrent sessions: each base request picks a session at random
// and emits that visitor's next page, whose referer is the previous page of the same session, so
// click paths, session ids, agents and client addresses stay consistent within a visit.
#include "logpipe/generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>

#include "logpipe/error.h"
#include "logpipe/text.h"
#include "logpipe/timeutil.h"

namespace logpipe {
namespace {

constexpr int64_t kUsPerSecond = 1'000'000;
constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

// ---------------------------------------------------------------------------------------------
// Randomness: xoshiro256** seeded through splitmix64 (Vigna), and stateless mixing for the
// per-entity properties (a user's agent, a URL's size) so that they never depend on call order.

uint64_t mix64(uint64_t z) noexcept {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) noexcept {
    for (auto& s : state_) {
      seed = mix64(seed);
      s = seed;
    }
  }
  uint64_t next() noexcept {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }
  /// Uniform in [0, n), n <= 2^32.
  uint32_t below(uint64_t n) noexcept { return static_cast<uint32_t>(((next() >> 32) * n) >> 32); }
  /// Uniform in [0, 1).
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotl(uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

// A probability as a threshold on a 64-bit random number: `rng.next() < threshold`.
uint64_t threshold_of(double p) noexcept {
  if (p <= 0) return 0;
  if (p >= 1) return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(p * 18446744073709551616.0);
}

// Walker/Vose alias table: O(1) sampling from a discrete distribution, one random number each.
class AliasTable {
 public:
  void build(const std::vector<double>& weights) {
    size_t n = weights.size();
    entries_.assign(n, Entry{});
    double total = 0;
    for (double w : weights) total += w;
    std::vector<double> scaled(n);
    std::vector<uint32_t> small, large;
    for (size_t i = 0; i < n; ++i) {
      scaled[i] = weights[i] * static_cast<double>(n) / total;
      (scaled[i] < 1.0 ? small : large).push_back(static_cast<uint32_t>(i));
    }
    while (!small.empty() && !large.empty()) {
      uint32_t s = small.back(), l = large.back();
      small.pop_back();
      entries_[s] = Entry{threshold32(scaled[s]), l};
      scaled[l] -= 1.0 - scaled[s];
      if (scaled[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
    for (uint32_t i : large) entries_[i] = Entry{0xffffffffu, i};
    for (uint32_t i : small) entries_[i] = Entry{0xffffffffu, i};
  }
  uint32_t sample(uint64_t r) const noexcept {
    uint32_t i = static_cast<uint32_t>(((r >> 32) * entries_.size()) >> 32);
    const Entry& e = entries_[i];
    return static_cast<uint32_t>(r) < e.keep ? i : e.alias;
  }
  uint32_t sample(Rng& rng) const noexcept { return sample(rng.next()); }
  size_t size() const noexcept { return entries_.size(); }

 private:
  struct Entry {
    uint32_t keep = 0;  // keep i when the low 32 bits are below this
    uint32_t alias = 0;
  };
  static uint32_t threshold32(double p) noexcept {
    return p >= 1 ? 0xffffffffu : static_cast<uint32_t>(p * 4294967296.0);
  }
  std::vector<Entry> entries_;
};

// Zipf weights 1/(rank+1)^s.
std::vector<double> zipf_weights(size_t n, double s) {
  std::vector<double> w(n);
  for (size_t i = 0; i < n; ++i) w[i] = 1.0 / std::pow(static_cast<double>(i + 1), s);
  return w;
}

// ---------------------------------------------------------------------------------------------
// Fixed vocabularies. Agents are the browsers and crawlers common in 2024-2025 logs.

struct Weighted {
  const char* text;
  double weight;
};

constexpr Weighted kAgents[] = {
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36",
     30},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/123.0.0.0 Safari/537.36 Edg/123.0.2420.81",
     8},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", 7},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.4.1 Safari/605.1.15",
     9},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36",
     6},
    {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
     "Safari/537.36",
     2},
    {"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", 1.5},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
     14},
    {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
     "Mobile Safari/537.36",
     12},
    {"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
     3},
    {"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.4 Mobile/15E148 Safari/604.1",
     2},
    {"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 2},
    {"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 1},
    {"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", 0.5},
    {"curl/8.5.0", 0.3},
    {"python-requests/2.31.0", 0.3},
};

constexpr Weighted kExternalReferers[] = {
    {"-", 40},
    {"https://www.google.com/", 35},
    {"https://www.bing.com/", 5},
    {"https://duckduckgo.com/", 4},
    {"https://www.facebook.com/", 5},
    {"https://t.co/", 3},
    {"https://www.reddit.com/", 2},
    {"https://news.ycombinator.com/", 1},
    {"https://www.qwant.com/", 1},
};

constexpr const char* kLanguages[] = {"en-US,en;q=0.9", "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7",
                                      "en-GB,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8",
                                      "es-ES,es;q=0.9", "fr-FR,fr;q=0.8"};

constexpr const char* kFirstNames[] = {
    "marie", "jean",  "pierre", "sophie",  "lucas",   "emma",  "louis",   "chloe",
    "hugo",  "lea",   "thomas", "camille", "nicolas", "julie", "antoine", "sarah",
    "paul",  "laura", "alex",   "ines",    "john",    "mary",  "james",   "linda",
    "david", "susan", "daniel", "karen",   "maria",   "ahmed", "fatima",  "yuki",
    "chen",  "wei",   "olga",   "ivan",    "anna",    "omar",  "nina",    "raj"};
constexpr const char* kLastNames[] = {
    "martin",   "bernard", "dubois",  "thomas",   "robert",   "richard", "petit",    "durand",
    "leroy",    "moreau",  "simon",   "laurent",  "lefebvre", "michel",  "garcia",   "david",
    "bertrand", "roux",    "vincent", "fournier", "smith",    "johnson", "williams", "brown",
    "jones",    "miller",  "davis",   "wilson",   "anderson", "taylor",  "nguyen",   "kim",
    "silva",    "rossi",   "muller",  "novak",    "kowalski", "haddad",  "tanaka",   "singh"};

constexpr const char* kAdjectives[] = {
    "red",     "blue",   "classic", "organic", "vintage", "smart", "wireless", "compact",
    "leather", "wooden", "steel",   "eco",     "premium", "mini",  "ultra",    "soft"};
constexpr const char* kNouns[] = {
    "shoes",   "jacket", "lamp",   "chair", "watch", "backpack", "mug",  "headphones", "kettle",
    "bicycle", "tent",   "camera", "desk",  "scarf", "keyboard", "sofa", "blender",    "helmet"};

constexpr const char* kOrgs[] = {"FUN", "UPSud", "CNAM",  "ENSCachan", "SciencesPo",
                                 "edX", "MITx",  "UNIGE", "Paris1",    "InstitutMinesTelecom"};

constexpr Weighted kBrowserEvents[] = {
    {"play_video", 25}, {"pause_video", 20}, {"seq_goto", 12},  {"problem_show", 6},
    {"load_video", 15}, {"page_close", 12},  {"seek_video", 6}, {"seq_next", 4},
};

enum class UrlKind : uint8_t { kPage, kApi, kStatic, kSearch, kLogin };

// Success statuses per URL kind, as cumulative 32-bit thresholds (the rest is 200).
struct SuccessMix {
  uint32_t cut[3];
  int status[3];
};
constexpr SuccessMix kSuccessByKind[] = {
    {{0x0a000000u, 0x0c000000u, 0x0e000000u}, {304, 301, 302}},  // page: ~4% 304, 1% 301/302
    {{0x04000000u, 0x06000000u, 0x06000000u}, {201, 204, 200}},  // api
    {{0x20000000u, 0x23000000u, 0x23000000u}, {304, 206, 200}},  // static: 12.5% 304
    {{0x02000000u, 0x02000000u, 0x02000000u}, {304, 200, 200}},  // search
    {{0x00000000u, 0x00000000u, 0x00000000u}, {200, 200, 200}},  // login: see below
};

// ---------------------------------------------------------------------------------------------
// Writing: memcpy into a buffer whose room was checked once per line.

inline char* put(char* p, std::string_view s) noexcept {
  if (!s.empty()) std::memcpy(p, s.data(), s.size());  // an empty view may hold nullptr
  return p + s.size();
}
template <size_t N>
inline char* put(char* p, const char (&s)[N]) noexcept {
  std::memcpy(p, s, N - 1);
  return p + N - 1;
}

constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

inline char* put_uint(char* p, uint64_t v) noexcept {
  char tmp[20];
  char* end = tmp + sizeof tmp;
  char* q = end;
  while (v >= 100) {
    q -= 2;
    std::memcpy(q, kDigitPairs + (v % 100) * 2, 2);
    v /= 100;
  }
  if (v >= 10) {
    q -= 2;
    std::memcpy(q, kDigitPairs + v * 2, 2);
  } else {
    *--q = static_cast<char>('0' + v);
  }
  size_t n = static_cast<size_t>(end - q);
  std::memcpy(p, q, n);
  return p + n;
}

inline char* put_status(char* p, int status) noexcept {
  p[0] = static_cast<char>('0' + status / 100);
  std::memcpy(p + 1, kDigitPairs + (status % 100) * 2, 2);
  return p + 3;
}

// Dotted-quad octets, precomputed: 4 bytes each (text + length in the last byte).
struct OctetTable {
  char text[256][4];
  OctetTable() {
    for (int i = 0; i < 256; ++i) {
      auto r = fmt::format_to_n(text[i], 3, "{}", i);
      text[i][3] = static_cast<char>(r.size);
    }
  }
};
const OctetTable kOctets;

inline char* put_ipv4(char* p, uint32_t a) noexcept {
  for (int shift = 24; shift >= 0; shift -= 8) {
    const char* o = kOctets.text[(a >> shift) & 0xff];
    std::memcpy(p, o, 3);
    p += o[3];
    *p++ = '.';
  }
  return p - 1;
}

// A bijection on 32 bits (Wellons' lowbias32): distinct indices give distinct addresses.
uint32_t scramble32(uint32_t x) noexcept {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

// The client address of population index i: scrambled, then moved out of the ranges that never
// appear as public clients (0/8, 10/8, 127/8, multicast and reserved).
uint32_t address_of(uint64_t index, uint32_t salt) noexcept {
  uint32_t a = scramble32(static_cast<uint32_t>(index) + salt);
  uint32_t first = a >> 24;
  if (first == 0 || first == 10 || first == 127)
    a ^= 0x40000000u;
  else if (first >= 224)
    a -= 0x80000000u;
  return a;
}

bool parse_ipv4(std::string_view s, uint32_t& out) noexcept {
  uint32_t value = 0;
  int parts = 0;
  size_t i = 0;
  while (parts < 4) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
    uint32_t octet = 0;
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 3)
      octet = octet * 10 + (s[i++] - '0');
    if (octet > 255) return false;
    value = value << 8 | octet;
    if (++parts < 4) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
  }
  if (i != s.size()) return false;
  out = value;
  return true;
}

bool safe_text(std::string_view s, bool allow_space) noexcept {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\' || (!allow_space && c == ' ')) return false;
  return true;
}

// Per-URL properties; the text lives in one arena.
struct UrlInfo {
  uint32_t offset;
  uint16_t length;
  UrlKind kind;
  uint8_t course;       // edx: index into courses_
  uint32_t bytes;       // typical response size
  uint32_t latency_us;  // typical response time
};

struct Session {
  uint32_t user = kNone;  // kNone: anonymous
  uint32_t address = 0;
  uint32_t last_url = kNone;
  uint32_t pages_left = 0;
  uint16_t agent = 0;
  uint8_t referer = 0;  // external referer of the entry page
  uint8_t language = 0;
  char id[32];
};

constexpr size_t kSessionSlots = 1024;
constexpr size_t kBatchBytes = 512 << 10;
constexpr size_t kMaxFixedLine = 4096;  // a line without incident-supplied strings stays below

}  // namespace

// ---------------------------------------------------------------------------------------------

bool parse_generate_format(std::string_view text, GenerateFormat& out) noexcept {
  if (text == "combined")
    out = GenerateFormat::kCombined;
  else if (text == "common")
    out = GenerateFormat::kCommon;
  else if (text == "clickstream")
    out = GenerateFormat::kClickstream;
  else if (text == "edx")
    out = GenerateFormat::kEdx;
  else if (text == "applog")
    out = GenerateFormat::kApplog;
  else
    return false;
  return true;
}

std::vector<StatusWeight> parse_status_mix(std::string_view text) {
  std::vector<StatusWeight> mix;
  for_each_list_item(text, ',', [&](std::string_view item) {
    size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      usage_error("--status-mix: '{}' is not STATUS=WEIGHT (e.g. '404=3,500=0.5')", item);
    std::string_view code = item.substr(0, eq), weight = item.substr(eq + 1);
    StatusWeight sw;
    auto r1 = std::from_chars(code.data(), code.data() + code.size(), sw.status);
    auto r2 = std::from_chars(weight.data(), weight.data() + weight.size(), sw.weight);
    if (r1.ec != std::errc() || r1.ptr != code.data() + code.size() || sw.status < 400 ||
        sw.status > 599)
      usage_error("--status-mix: '{}' is not an error status (400..599)", code);
    if (r2.ec != std::errc() || r2.ptr != weight.data() + weight.size() || !(sw.weight > 0) ||
        !std::isfinite(sw.weight))
      usage_error("--status-mix: weight '{}' of {} must be a number > 0", weight, sw.status);
    for (const auto& other : mix)
      if (other.status == sw.status)
        usage_error("--status-mix: status {} appears twice", sw.status);
    mix.push_back(sw);
  });
  return mix;
}

std::string_view incident_kind_name(IncidentKind kind) noexcept {
  switch (kind) {
    case IncidentKind::kErrorBurst:
      return "error_burst";
    case IncidentKind::kDdos:
      return "ddos";
    case IncidentKind::kBadUser:
      return "bad_user";
    case IncidentKind::kLatency:
      return "latency";
  }
  return "?";
}

bool parse_incident_kind(std::string_view text, IncidentKind& out) noexcept {
  for (auto k : {IncidentKind::kErrorBurst, IncidentKind::kDdos, IncidentKind::kBadUser,
                 IncidentKind::kLatency})
    if (text == incident_kind_name(k)) {
      out = k;
      return true;
    }
  return false;
}

std::string_view Incident::key() const noexcept {
  switch (kind) {
    case IncidentKind::kErrorBurst:
    case IncidentKind::kLatency:
      return url;
    case IncidentKind::kDdos:
      return ip;
    case IncidentKind::kBadUser:
      return user;
  }
  return {};
}

double Incident::effective_share() const noexcept {
  if (share >= 0) return share;
  switch (kind) {
    case IncidentKind::kErrorBurst:
      return url.empty() ? 0 : 0.05;
    case IncidentKind::kLatency:
      return 0.05;
    case IncidentKind::kBadUser:
      return 0.01;
    case IncidentKind::kDdos:
      return 0;
  }
  return 0;
}

double Incident::error_rate_at(int64_t t_us) const noexcept {
  if (!is_ramp() || end_us <= start_us) return error_rate;
  double f = static_cast<double>(std::clamp(t_us, start_us, end_us) - start_us) /
             static_cast<double>(end_us - start_us);
  return ramp_from + (error_rate - ramp_from) * f;
}

namespace {

void check_share(double v, const char* name) {
  if (!(v >= 0 && v <= 1)) usage_error("{}: {} is not a share between 0 and 1", name, v);
}

// The subnet of a ddos key: base address and host mask. False when `ip` is not IPv4 CIDR.
bool parse_subnet(std::string_view ip, uint32_t& base, uint32_t& host_mask) noexcept {
  size_t slash = ip.find('/');
  if (slash == std::string_view::npos) return false;
  uint32_t addr;
  int bits = -1;
  std::string_view b = ip.substr(slash + 1);
  auto r = std::from_chars(b.data(), b.data() + b.size(), bits);
  if (!parse_ipv4(ip.substr(0, slash), addr) || r.ec != std::errc() ||
      r.ptr != b.data() + b.size() || bits < 8 || bits > 32)
    return false;
  host_mask = bits == 32 ? 0 : (0xffffffffu >> bits);
  base = addr & ~host_mask;
  return true;
}

// A path given by an incident or a steady flow: written verbatim into every line that requests it.
void check_url(std::string_view url, const std::string& where) {
  if (url.front() != '/' || !safe_text(url, false) || url.size() > 1000)
    usage_error("{}: url '{}' must start with / and hold no spaces, quotes or backslashes", where,
                url);
}

void check_user(std::string_view user, const std::string& where) {
  if (user.empty() || !safe_text(user, false) || user.size() > 200 ||
      user.find(';') != std::string::npos)
    usage_error("{}: user '{}' must be a name without spaces, quotes or ';'", where, user);
}

}  // namespace

void validate_generator_options(const GeneratorOptions& o) {
  if (o.users < 1 || o.users > 50'000'000)
    usage_error("--users: {} is not in 1..50000000", o.users);
  if (o.ips < 1 || o.ips > 1'000'000'000) usage_error("--ips: {} is not in 1..1000000000", o.ips);
  if (o.urls < 1 || o.urls > 10'000'000) usage_error("--urls: {} is not in 1..10000000", o.urls);
  if (!(o.rate > 0 && o.rate <= 1e9))
    usage_error("--rate: {} is not a number of lines per second above 0 and at most 1e9", o.rate);
  if (!(o.daily_cycle >= 0 && o.daily_cycle <= 0.95))
    usage_error("--daily-cycle: {} is not an amplitude between 0 and 0.95", o.daily_cycle);
  check_share(o.error_rate, "--error-rate");
  check_share(o.bad_users, "--bad-users");
  check_share(o.bad_user_error_rate, "--bad-user-error-rate");
  check_share(o.bad_urls, "--bad-urls");
  if (o.status_mix.empty()) usage_error("--status-mix: at least one STATUS=WEIGHT is needed");
  if (o.host.empty() || !safe_text(o.host, false) || o.host.size() > 200)
    usage_error("--host: '{}' is not a host name", o.host);
  for (size_t i = 0; i < o.incidents.size(); ++i) {
    const Incident& inc = o.incidents[i];
    std::string where = fmt::format("incident {} ({})", i + 1, incident_kind_name(inc.kind));
    if (inc.end_us <= inc.start_us) usage_error("{}: its duration must be > 0", where);
    if (!(inc.error_rate >= 0 && inc.error_rate <= 1))
      usage_error("{}: error_rate {} is not between 0 and 1", where, inc.error_rate);
    if (inc.share >= 0 && inc.share > 1)
      usage_error("{}: share {} is not between 0 and 1", where, inc.share);
    switch (inc.kind) {
      case IncidentKind::kErrorBurst:
      case IncidentKind::kLatency:
        if (inc.kind == IncidentKind::kLatency && inc.url.empty())
          usage_error("{}: 'url' is required", where);
        if (!inc.url.empty()) check_url(inc.url, where);
        if (inc.kind == IncidentKind::kLatency && !(inc.factor > 0 && inc.factor <= 1e6))
          usage_error("{}: factor {} is not a number above 0 and at most 1e6", where, inc.factor);
        break;
      case IncidentKind::kDdos: {
        uint32_t a, b, m;
        if (!parse_ipv4(inc.ip, a) && !parse_subnet(inc.ip, b, m))
          usage_error("{}: '{}' is neither an IPv4 address nor a subnet like 203.0.113.0/24", where,
                      inc.ip);
        if (!(inc.rate > 0 && inc.rate <= 1e8))
          usage_error("{}: rate {} is not a number of lines per second above 0 and at most 1e8", where, inc.rate);
        break;
      }
      case IncidentKind::kBadUser:
        check_user(inc.user, where);
        break;
    }
    if (inc.is_ramp()) {
      if (inc.kind != IncidentKind::kErrorBurst)
        usage_error("{}: only an error_burst can be a ramp", where);
      if (!(inc.ramp_from <= 1))
        usage_error("{}: ramp_from {} is not between 0 and 1", where, inc.ramp_from);
    }
  }
  for (size_t i = 0; i < o.steady.size(); ++i) {
    const SteadyFlow& f = o.steady[i];
    std::string where = fmt::format("steady {}", i + 1);
    if (f.url.empty() && f.user.empty()) usage_error("{}: needs a 'url', a 'user' or both", where);
    if (!f.url.empty()) check_url(f.url, where);
    if (!f.user.empty()) check_user(f.user, where);
    if (!(f.rate > 0 && f.rate <= 1e6))
      usage_error("{}: rate {} is not a number of requests per second above 0 and at most 1e6", where, f.rate);
  }
}

// ---------------------------------------------------------------------------------------------

struct Generator::Impl {
  // An incident as the hot loop sees it.
  struct LiveIncident {
    const Incident* spec;
    uint32_t url = kNone;       // error_burst/latency url index (may be an extra URL)
    std::vector<bool> matches;  // url indices whose path is the incident's url
    uint32_t user = kNone;      // bad_user user index (may be an extra user)
    uint64_t share_threshold = 0;
    uint64_t error_threshold = 0;
    uint32_t ddos_address = 0, ddos_mask = 0;
    double ddos_step_us = 0;
    double ddos_offset_us = 0;  // from spec->start_us
    uint64_t ddos_steps = 0;    // lines so far (the offset is computed from it, rounded)
    int64_t ddos_next_us = 0;
    Session session;  // bad_user traffic

    bool affects(uint32_t u) const noexcept { return u < matches.size() && matches[u]; }
    // A ramp's threshold moves with log time; it is computed per request only while one runs.
    uint64_t error_threshold_at(int64_t t) const noexcept {
      return spec->is_ramp() ? threshold_of(spec->error_rate_at(t)) : error_threshold;
    }
  };

  // A steady flow as the hot loop sees it: its own Poisson arrivals, merged by log time.
  struct LiveSteady {
    uint32_t url = kNone;   // pinned url index, kNone: the visitor's next page
    uint32_t user = kNone;  // pinned user index, kNone: a visitor of the pool
    Session session;        // the user's visit when `user` is set
    double mean_gap_us = 0;
    int64_t next_us = 0;
  };

  GeneratorOptions o;
  Rng rng;
  GeneratorStats stats;

  // Populations.
  std::string url_text;
  std::vector<UrlInfo> urls;  // the first options.urls are the Zipf population
  AliasTable url_popularity;
  std::vector<uint32_t> bad_url_list;
  std::string user_text;
  std::vector<uint32_t> user_offset;  // users + 1 entries (end offsets); extra users appended
  AliasTable user_activity;
  uint64_t bad_user_threshold = 0;  // mix64(user ^ salt) below this: bad user
  std::vector<std::string_view> agents;
  AliasTable agent_mix;
  AliasTable external_referer_mix;
  std::vector<double> error_weight, error_credit;  // smooth weighted round robin
  double error_weight_total = 0;
  std::vector<int> error_statuses;
  AliasTable browser_event_mix;
  std::vector<std::string> courses, course_orgs;
  uint32_t ip_salt;
  uint64_t anonymous_cursor = 0;
  double bad_share = 0, normal_rate = 0;

  // Model constants.
  uint64_t logged_in_threshold;
  double logged_in_pages, anonymous_pages;
  uint64_t normal_error_threshold = 0, bad_error_threshold = 0;

  std::array<Session, kSessionSlots> sessions{};

  // Time.
  int64_t base_next_us;
  double base_offset_us = 0;
  double base_anchor_us = 0;  // base_offset_us when base_step_us last changed
  uint64_t base_steps = 0;    // steps since then
  double base_step_us;
  int64_t cycle_second = std::numeric_limits<int64_t>::min();
  int64_t time_second = std::numeric_limits<int64_t>::min();
  char apache_time[32];
  char iso_time[32];  // YYYY-MM-DDTHH:MM:SS

  // Incidents.
  std::vector<LiveIncident> incidents;
  std::vector<LiveIncident*> active;  // active non-ddos incidents
  std::vector<LiveIncident*> ddos;    // every ddos incident
  std::vector<LiveIncident*> global_ramps;  // active global error bursts that are ramps
  int64_t next_change_us = std::numeric_limits<int64_t>::max();
  int64_t ddos_next_us = std::numeric_limits<int64_t>::max();
  uint64_t global_error_threshold = 0;  // max over active global error bursts (not ramps)
  bool any_active = false;
  size_t max_line = kMaxFixedLine;

  // Steady flows.
  std::vector<LiveSteady> steady;
  int64_t steady_next_us = std::numeric_limits<int64_t>::max();

  std::unique_ptr<char[]> buffer;

  explicit Impl(GeneratorOptions options) : o(std::move(options)), rng(o.seed) {
    validate_generator_options(o);
    ip_salt = static_cast<uint32_t>(mix64(o.seed ^ 0x1badb002) >> 32);
    bool edx = o.format == GenerateFormat::kEdx;
    logged_in_threshold = threshold_of(edx ? 0.9 : 0.35);
    logged_in_pages = 8;
    anonymous_pages = 3;
    build_urls();
    build_users();
    std::vector<double> w;
    for (const auto& a : kAgents) {
      agents.emplace_back(a.text);
      w.push_back(a.weight);
    }
    agent_mix.build(w);
    w.clear();
    for (const auto& r : kExternalReferers) w.push_back(r.weight);
    external_referer_mix.build(w);
    w.clear();
    for (const auto& s : o.status_mix) {
      error_statuses.push_back(s.status);
      error_weight.push_back(s.weight);
      error_weight_total += s.weight;
    }
    // Start the round robin at a seed-dependent phase.
    error_credit.assign(error_weight.size(), 0);
    for (int i = static_cast<int>(rng.below(16)); i > 0; --i) next_error_status();
    w.clear();
    for (const auto& e : kBrowserEvents) w.push_back(e.weight);
    browser_event_mix.build(w);
    compute_error_model();
    build_steady();  // before the incidents: they match the urls a steady flow may add
    build_incidents();
    buffer.reset(new char[kBatchBytes + max_line]);
    base_next_us = o.start_us;
    base_step_us = 1e6 / o.rate;
    update_cycle(o.start_us);
    refresh_incidents(o.start_us);
  }

  // --- populations ------------------------------------------------------------------------------

  void add_url(std::string_view text, UrlKind kind, uint8_t course, uint64_t h) {
    UrlInfo u;
    u.offset = static_cast<uint32_t>(url_text.size());
    u.length = static_cast<uint16_t>(text.size());
    u.kind = kind;
    u.course = course;
    double r = static_cast<double>(h >> 40) / static_cast<double>(1 << 24);  // [0,1)
    switch (kind) {
      case UrlKind::kPage:
        u.bytes = 8000 + static_cast<uint32_t>(r * r * 90000);
        u.latency_us = 8000 + static_cast<uint32_t>(r * 60000);
        break;
      case UrlKind::kApi:
        u.bytes = 300 + static_cast<uint32_t>(r * 6000);
        u.latency_us = 3000 + static_cast<uint32_t>(r * 30000);
        break;
      case UrlKind::kStatic:
        u.bytes = 1500 + static_cast<uint32_t>(r * r * r * 400000);
        u.latency_us = 300 + static_cast<uint32_t>(r * 2000);
        break;
      case UrlKind::kSearch:
        u.bytes = 15000 + static_cast<uint32_t>(r * 40000);
        u.latency_us = 60000 + static_cast<uint32_t>(r * 250000);
        break;
      case UrlKind::kLogin:
        u.bytes = 4000 + static_cast<uint32_t>(r * 2000);
        u.latency_us = 30000 + static_cast<uint32_t>(r * 40000);
        break;
    }
    url_text.append(text);
    urls.push_back(u);
  }

  // Web URLs: rank 0 is the home page, then the pages every visitor sees, then a deterministic
  // mix of products, categories, blog posts, API calls, static assets and searches. Each
  // generated path embeds its rank, so all are distinct.
  void build_web_urls() {
    static constexpr std::pair<const char*, UrlKind> kTop[] = {
        {"/", UrlKind::kPage},
        {"/login", UrlKind::kLogin},
        {"/cart", UrlKind::kPage},
        {"/static/css/main.css", UrlKind::kStatic},
        {"/static/js/app.js", UrlKind::kStatic},
        {"/api/v1/cart", UrlKind::kApi},
        {"/checkout", UrlKind::kPage},
        {"/account", UrlKind::kPage},
        {"/favicon.ico", UrlKind::kStatic},
        {"/products", UrlKind::kPage},
    };
    std::string s;
    for (uint64_t i = 0; i < o.urls; ++i) {
      uint64_t h = mix64(i * 0x9e37 + 0x51ed);
      if (i < std::size(kTop)) {
        add_url(kTop[i].first, kTop[i].second, 0, h);
        continue;
      }
      const char* adj = kAdjectives[(h >> 8) % std::size(kAdjectives)];
      const char* noun = kNouns[(h >> 16) % std::size(kNouns)];
      unsigned pick = static_cast<unsigned>(h % 100);
      s.clear();
      UrlKind kind = UrlKind::kPage;
      if (pick < 40)
        fmt::format_to(std::back_inserter(s), "/products/{}-{}-{}", adj, noun, i);
      else if (pick < 50)
        fmt::format_to(std::back_inserter(s), "/category/{}?page={}", noun, i);
      else if (pick < 58)
        fmt::format_to(std::back_inserter(s), "/blog/{}/{:02}/{}-{}-{}", 2019 + (h >> 24) % 7,
                       1 + (h >> 32) % 12, adj, noun, i);
      else if (pick < 72) {
        fmt::format_to(std::back_inserter(s), "/api/v1/products/{}", i);
        kind = UrlKind::kApi;
      } else if (pick < 92) {
        static constexpr const char* kAssets[] = {
            "/images/{}-{}-{}.jpg", "/static/js/chunk-{2}.{0}.js", "/static/css/{1}-{2}.css",
            "/images/thumbs/{1}-{2}.webp"};
        fmt::format_to(std::back_inserter(s), fmt::runtime(kAssets[(h >> 40) % 4]), adj, noun, i);
        kind = UrlKind::kStatic;
      } else {
        fmt::format_to(std::back_inserter(s), "/search?q={}+{}&p={}", adj, noun, i);
        kind = UrlKind::kSearch;
      }
      add_url(s, kind, 0, h);
    }
  }

  // Open edX URLs: course pages, xblock handlers and forum pages of a few dozen courses.
  void build_edx_urls() {
    size_t n_courses = std::clamp<size_t>(o.urls / 200, 1, 40);
    for (size_t c = 0; c < n_courses; ++c) {
      uint64_t h = mix64(c + 0xc0);
      const char* org = kOrgs[c % std::size(kOrgs)];
      courses.push_back(fmt::format("course-v1:{}+{:05}+session{:02}", org, 10000 + (h % 90000),
                                    1 + (h >> 20) % 12));
      course_orgs.emplace_back(org);
    }
    std::string s;
    for (uint64_t i = 0; i < o.urls; ++i) {
      uint64_t h = mix64(i * 0x9e37 + 0xed0);
      // Popular courses get more pages: course index skewed toward 0.
      size_t c = static_cast<size_t>(static_cast<double>(n_courses) *
                                     std::pow(static_cast<double>(h >> 11) * 0x1.0p-53, 2.0));
      const std::string& cid = courses[c];
      uint64_t h2 = mix64(h);
      unsigned pick = static_cast<unsigned>(h % 100);
      s.clear();
      UrlKind kind = UrlKind::kPage;
      if (pick < 60)
        fmt::format_to(std::back_inserter(s),
                       "/courses/{}/courseware/{:016x}{:016x}/{:016x}{:016x}/", cid, h2,
                       mix64(h2 + 1), mix64(h2 + 2), mix64(h2 + 3));
      else if (pick < 80) {
        fmt::format_to(std::back_inserter(s),
                       "/courses/{}/xblock/block-v1:{}+type@problem+block@{:016x}{:016x}/handler/"
                       "xmodule_handler/problem_check",
                       cid, std::string_view(cid).substr(10), h2, mix64(h2 + 1));
        kind = UrlKind::kApi;
      } else if (pick < 90)
        fmt::format_to(std::back_inserter(s), "/courses/{}/discussion/forum/{:016x}/threads", cid,
                       h2);
      else if (pick < 95)
        fmt::format_to(std::back_inserter(s), "/courses/{}/progress?v={}", cid, i);
      else
        fmt::format_to(std::back_inserter(s), "/courses/{}/info?v={}", cid, i);
      add_url(s, kind, static_cast<uint8_t>(c), h);
    }
  }

  void build_urls() {
    urls.reserve(o.urls + o.incidents.size() + o.steady.size());
    if (o.format == GenerateFormat::kEdx)
      build_edx_urls();
    else
      build_web_urls();
    url_popularity.build(zipf_weights(o.urls, 1.0));
    // Bad URLs: a deterministic share of the population, at least one.
    uint64_t salt = mix64(o.seed ^ 0xbadu);
    uint64_t t = threshold_of(o.bad_urls);
    for (uint32_t i = 0; i < o.urls; ++i)
      if (mix64(i ^ salt) < t) bad_url_list.push_back(i);
    if (bad_url_list.empty()) bad_url_list.push_back(static_cast<uint32_t>(mix64(salt) % o.urls));
  }

  void add_user(std::string_view name) {
    user_text.append(name);
    user_offset.push_back(static_cast<uint32_t>(user_text.size()));
  }

  void build_users() {
    user_offset.reserve(o.users + 1 + o.incidents.size() + o.steady.size());
    user_offset.push_back(0);
    constexpr size_t kF = std::size(kFirstNames), kL = std::size(kLastNames), kCombos = kF * kL;
    std::string s;
    for (uint64_t i = 0; i < o.users; ++i) {
      // A bijection on [0, kCombos) (multiplier coprime with 1600) spreads the names around.
      uint64_t combo = (i % kCombos * 263 + 17) % kCombos;
      uint64_t suffix = i / kCombos;
      s.clear();
      bool underscore = o.format == GenerateFormat::kEdx;
      s.append(kFirstNames[combo % kF]);
      s.push_back(underscore ? '_' : '.');
      s.append(kLastNames[combo / kF]);
      if (suffix > 0) fmt::format_to(std::back_inserter(s), "{}", suffix);
      add_user(s);
    }
    user_activity.build(zipf_weights(o.users, 0.6));
  }

  std::string_view url_of(uint32_t u) const noexcept {
    return {url_text.data() + urls[u].offset, urls[u].length};
  }
  std::string_view user_of(uint32_t u) const noexcept {
    return {user_text.data() + user_offset[u], user_offset[u + 1] - user_offset[u]};
  }
  bool is_bad(uint32_t user) const noexcept {
    return user < o.users && mix64(user ^ (o.seed * 0x5851f42d4c957f2dULL)) < bad_user_threshold;
  }

  // The error rate of ordinary users is chosen so that the overall base error share equals
  // --error-rate: share_bad * bad_rate + (1 - share_bad) * normal_rate = error_rate.
  void compute_error_model() {
    bad_user_threshold = threshold_of(o.bad_users);
    std::vector<double> w = zipf_weights(o.users, 0.6);
    double total = 0, bad = 0;
    for (uint32_t u = 0; u < o.users; ++u) {
      total += w[u];
      if (is_bad(u)) bad += w[u];
    }
    double p_in = static_cast<double>(logged_in_threshold) / 18446744073709551616.0;
    double in_share =
        p_in * logged_in_pages / (p_in * logged_in_pages + (1 - p_in) * anonymous_pages);
    bad_share = in_share * (total > 0 ? bad / total : 0);
    normal_rate =
        bad_share < 1 ? (o.error_rate - bad_share * o.bad_user_error_rate) / (1 - bad_share) : 0;
    normal_rate = std::clamp(normal_rate, 0.0, 1.0);
    normal_error_threshold = threshold_of(normal_rate);
    bad_error_threshold = threshold_of(o.bad_user_error_rate);
  }

  uint32_t find_or_add_url(const std::string& url) {
    for (uint32_t i = 0; i < urls.size(); ++i)
      if (url_of(i) == url) return i;
    add_url(url, UrlKind::kPage, 0, mix64(urls.size()));
    return static_cast<uint32_t>(urls.size() - 1);
  }
  uint32_t find_or_add_user(const std::string& name) {
    for (uint32_t i = 0; i + 1 < user_offset.size(); ++i)
      if (user_of(i) == name) return i;
    add_user(name);
    return static_cast<uint32_t>(user_offset.size() - 2);
  }

  void build_incidents() {
    incidents.reserve(o.incidents.size());
    for (const Incident& spec : o.incidents) {
      LiveIncident li;
      li.spec = &spec;
      li.share_threshold = threshold_of(spec.effective_share());
      li.error_threshold = threshold_of(spec.error_rate);
      switch (spec.kind) {
        case IncidentKind::kErrorBurst:
        case IncidentKind::kLatency:
          if (!spec.url.empty()) li.url = find_or_add_url(spec.url);
          max_line += 4 * spec.url.size();  // edx writes the url up to 3 times
          break;
        case IncidentKind::kBadUser: {
          li.user = find_or_add_user(spec.user);
          max_line += 4 * spec.user.size();
          pin_session(li.session, li.user);
          break;
        }
        case IncidentKind::kDdos: {
          if (!parse_ipv4(spec.ip, li.ddos_address))
            parse_subnet(spec.ip, li.ddos_address, li.ddos_mask);
          li.ddos_step_us = 1e6 / spec.rate;
          li.ddos_next_us = spec.start_us;
          break;
        }
      }
      incidents.push_back(li);
    }
    // An incident on `/search` concerns every `/search?q=...` too: match on the path.
    for (auto& li : incidents) {
      if (li.url == kNone) continue;
      const std::string& target = li.spec->url;
      bool has_query = target.find('?') != std::string::npos;
      li.matches.assign(urls.size(), false);
      for (uint32_t i = 0; i < urls.size(); ++i) {
        std::string_view u = url_of(i);
        li.matches[i] = u == target || (!has_query && u.substr(0, u.find('?')) == target);
      }
    }
    for (auto& li : incidents)
      if (li.spec->kind == IncidentKind::kDdos) ddos.push_back(&li);
    update_ddos_next();
  }

  // The visit of a named user whose traffic the profile pins (a bad_user incident, a steady
  // flow): the same address and agent for both, derived from the user's index.
  void pin_session(Session& s, uint32_t user) {
    s.user = user;
    uint64_t h = mix64(user ^ 0xabcdefULL);
    s.address = address_of(h % o.ips, ip_salt);
    s.agent = static_cast<uint16_t>(agent_mix.sample(mix64(h)));
    s.language = static_cast<uint8_t>(h % std::size(kLanguages));
    fill_session_id(s);
  }

  void build_steady() {
    steady.reserve(o.steady.size());
    for (const SteadyFlow& spec : o.steady) {
      LiveSteady ls;
      if (!spec.url.empty()) {
        ls.url = find_or_add_url(spec.url);
        max_line += 4 * spec.url.size();
      }
      if (!spec.user.empty()) {
        ls.user = find_or_add_user(spec.user);
        max_line += 4 * spec.user.size();
        pin_session(ls.session, ls.user);
      }
      ls.mean_gap_us = 1e6 / spec.rate;
      ls.next_us = o.start_us + poisson_gap_us(ls.mean_gap_us);
      steady.push_back(ls);
    }
    update_steady_next();
  }

  // An exponential gap with the given mean: the arrivals of a Poisson process.
  int64_t poisson_gap_us(double mean_us) {
    double u = 1.0 - rng.uniform();  // (0, 1]
    return static_cast<int64_t>(-std::log(u) * mean_us);
  }

  void update_steady_next() {
    steady_next_us = std::numeric_limits<int64_t>::max();
    for (const LiveSteady& ls : steady) steady_next_us = std::min(steady_next_us, ls.next_us);
  }

  // --- time -------------------------------------------------------------------------------------

  // The daily cycle: rate(t) = R * (1 + A cos(2 pi (hour - 15) / 24)), mean R over a day; the
  // factor is recomputed once per second of log time.
  void update_cycle(int64_t t_us) {
    if (o.daily_cycle == 0) return;
    int64_t sec = t_us / kUsPerSecond;
    if (sec == cycle_second) return;
    cycle_second = sec;
    double hour = static_cast<double>(((sec % 86400) + 86400) % 86400) / 3600.0;
    double f = 1 + o.daily_cycle * std::cos(2 * std::numbers::pi * (hour - 15) / 24);
    double step = 1e6 / (o.rate * std::max(f, 0.05));
    if (step != base_step_us) {
      base_anchor_us = base_offset_us;
      base_steps = 0;
      base_step_us = step;
    }
  }

  void update_time_text(int64_t t_us) {
    int64_t sec = t_us >= 0 ? t_us / kUsPerSecond : (t_us - kUsPerSecond + 1) / kUsPerSecond;
    if (sec == time_second) return;
    time_second = sec;
    format_apache_time(sec * kUsPerSecond, apache_time);
    format_rfc3339_seconds(sec * kUsPerSecond, iso_time);  // 20 chars with Z; we use 19
  }

  void update_ddos_next() {
    ddos_next_us = std::numeric_limits<int64_t>::max();
    for (auto* li : ddos)
      if (li->ddos_next_us < li->spec->end_us)
        ddos_next_us = std::min(ddos_next_us, li->ddos_next_us);
  }

  // Recomputes the active set when log time crosses an incident boundary.
  void refresh_incidents(int64_t t) {
    active.clear();
    global_ramps.clear();
    global_error_threshold = 0;
    next_change_us = std::numeric_limits<int64_t>::max();
    for (auto& li : incidents) {
      const Incident& s = *li.spec;
      if (s.start_us > t)
        next_change_us = std::min(next_change_us, s.start_us);
      else if (s.end_us > t) {
        next_change_us = std::min(next_change_us, s.end_us);
        if (s.kind == IncidentKind::kDdos) continue;
        active.push_back(&li);
        if (s.kind == IncidentKind::kErrorBurst && s.url.empty()) {
          if (s.is_ramp())
            global_ramps.push_back(&li);
          else
            global_error_threshold = std::max(global_error_threshold, li.error_threshold);
        }
      }
    }
    any_active = !active.empty();
  }

  // --- sessions ---------------------------------------------------------------------------------

  void fill_session_id(Session& s) {
    if (o.format == GenerateFormat::kEdx) {
      static constexpr char kHex[] = "0123456789abcdef";
      uint64_t a = rng.next(), b = rng.next();
      for (int i = 0; i < 16; ++i) {
        s.id[i] = kHex[(a >> (4 * i)) & 15];
        s.id[16 + i] = kHex[(b >> (4 * i)) & 15];
      }
    } else {
      // PHP's default: 26 characters of 5 bits each, [0-9a-v].
      static constexpr char k32[] = "0123456789abcdefghijklmnopqrstuv";
      uint64_t a = rng.next(), b = rng.next(), c = rng.next();
      for (int i = 0; i < 12; ++i) s.id[i] = k32[(a >> (5 * i)) & 31];
      for (int i = 0; i < 12; ++i) s.id[12 + i] = k32[(b >> (5 * i)) & 31];
      s.id[24] = k32[c & 31];
      s.id[25] = k32[(c >> 5) & 31];
    }
  }

  // Geometric number of pages with the given mean (>= 1).
  uint32_t pages_with_mean(double mean) {
    double u = 1.0 - rng.uniform();  // (0, 1]
    double extra = std::floor(std::log(u) / std::log(1.0 - 1.0 / mean));
    return 1 + static_cast<uint32_t>(std::min(extra, 500.0));
  }

  void start_session(Session& s) {
    bool logged_in = rng.next() < logged_in_threshold;
    if (logged_in) {
      uint32_t u = user_activity.sample(rng);
      uint64_t h = mix64(u ^ (o.seed << 20));
      s.user = u;
      s.address = address_of(h % o.ips, ip_salt);  // the user's usual address
      s.agent = static_cast<uint16_t>(agent_mix.sample(mix64(h)));
      s.language = static_cast<uint8_t>((h >> 8) % std::size(kLanguages));
      s.pages_left = pages_with_mean(logged_in_pages);
    } else {
      // Anonymous visitors sweep the address space, so that every address of --ips shows up.
      s.user = kNone;
      s.address = address_of(anonymous_cursor++ % o.ips, ip_salt);
      s.agent = static_cast<uint16_t>(agent_mix.sample(rng));
      s.language = static_cast<uint8_t>(rng.below(std::size(kLanguages)));
      s.pages_left = pages_with_mean(anonymous_pages);
    }
    s.last_url = kNone;
    s.referer = static_cast<uint8_t>(external_referer_mix.sample(rng));
    fill_session_id(s);
  }

  void restart_pinned_session(Session& s) {
    s.pages_left = pages_with_mean(logged_in_pages);
    s.last_url = kNone;
    s.referer = static_cast<uint8_t>(external_referer_mix.sample(rng));
    fill_session_id(s);
  }

  // The status of a failed request. Which error a failure gets does not matter to anything else,
  // so instead of an independent draw (whose noise on a weight of 0.1 in 4.6 exceeds 5% over
  // thousands of errors) a smooth weighted round robin (nginx's) gives every status its exact
  // share, interleaved: after n errors each count is within 1 of n * weight / total.
  int next_error_status() {
    size_t best = 0;
    for (size_t i = 0; i < error_credit.size(); ++i) {
      error_credit[i] += error_weight[i];
      if (error_credit[i] > error_credit[best]) best = i;
    }
    error_credit[best] -= error_weight_total;
    return error_statuses[best];
  }

  // --- one line ---------------------------------------------------------------------------------

  struct Hit {
    const Session* session;
    std::string_view user;  // empty: anonymous
    uint32_t url;
    uint32_t referer_url;  // kNone: external
    int status;
    bool head;
    bool post;
    int64_t bytes;  // -1: `-`
    int64_t duration_us;
    bool ddos;
    bool browser;  // edx: a browser event on the current page instead of a page request
  };

  int success_status(const UrlInfo& u, bool post) {
    uint32_t r = static_cast<uint32_t>(rng.next() >> 32);
    if (u.kind == UrlKind::kLogin) return post ? (r < 0xe0000000u ? 302 : 200) : 200;
    const SuccessMix& m = kSuccessByKind[static_cast<int>(u.kind)];
    for (int i = 0; i < 3; ++i)
      if (r < m.cut[i]) return m.status[i];
    return 200;
  }

  void fill_outcome(Hit& h, uint64_t error_threshold, bool bad_user_errors, double latency_factor) {
    const UrlInfo* u = &urls[h.url];
    uint64_t r = rng.next();
    h.post = false;
    h.head = false;
    if (u->kind == UrlKind::kApi || u->kind == UrlKind::kLogin)
      h.post = (r & 0xff) < 80;
    else if (u->kind == UrlKind::kPage)
      h.head = (r & 0xff) == 0;
    bool fail = rng.next() < error_threshold;
    if (fail && bad_user_errors) {
      // A bad user's failures land on the bad URLs.
      h.url = bad_url_list[rng.below(bad_url_list.size())];
      u = &urls[h.url];
    }
    uint64_t r2 = rng.next();
    double jitter = 0.6 + static_cast<double>(r2 >> 40) * (0.8 / 16777216.0);
    if (fail) {
      h.status = next_error_status();
      h.bytes = h.status >= 500 ? 300 + static_cast<int64_t>(r2 & 0x1ff)
                                : 150 + static_cast<int64_t>(r2 & 0x3ff);
      if (o.format != GenerateFormat::kEdx) ++stats.errors;
    } else {
      h.status = success_status(*u, h.post);
      if (h.status == 304 || h.status == 204 || h.head)
        h.bytes = -1;  // no body: Apache's %b writes `-`
      else if (h.status == 301 || h.status == 302)
        h.bytes = 200 + static_cast<int64_t>(r2 & 0x7f);
      else if (h.status == 206)
        h.bytes = static_cast<int64_t>(u->bytes * jitter * 0.3);
      else
        h.bytes = static_cast<int64_t>(u->bytes * jitter);
    }
    double slow = (r2 & 0xff) < 3 ? 6.0 : 1.0;  // a tail of slow requests
    h.duration_us = static_cast<int64_t>(u->latency_us * jitter * slow * latency_factor) + 50;
  }

  // Builds the next base request: session, page, incident effects, outcome.
  void base_hit(int64_t t, Hit& h) {
    if (t >= next_change_us) refresh_incidents(t);
    Session* s = &sessions[rng.below(kSessionSlots)];
    uint32_t url = url_popularity.sample(rng);
    bool redirected = false;
    bool pinned = false;
    if (any_active) {
      for (LiveIncident* li : active) {
        if (li->share_threshold == 0 || rng.next() >= li->share_threshold) continue;
        if (li->url != kNone) url = li->url;
        if (li->user != kNone) {
          s = &li->session;
          pinned = true;
        }
        redirected = true;
        break;
      }
    }
    if (redirected) ++stats.incident_lines;
    visit_hit(t, *s, url, pinned, /*keep_url=*/false, h);
  }

  // A steady flow's request: its pinned user's visit or a visitor of the pool, its pinned url or
  // the visitor's next page. Incidents act on it as on base traffic, but never redirect it, and
  // a bad user's failure stays on a pinned url, so that the flow keeps its exact rate.
  void steady_hit(LiveSteady& ls, int64_t t, Hit& h) {
    if (t >= next_change_us) refresh_incidents(t);
    bool pinned = ls.user != kNone;
    Session& s = pinned ? ls.session : sessions[rng.below(kSessionSlots)];
    uint32_t url = ls.url != kNone ? ls.url : url_popularity.sample(rng);
    visit_hit(t, s, url, pinned, /*keep_url=*/ls.url != kNone, h);
  }

  // The rest of a request once its visit and page are chosen: incident effects, outcome.
  void visit_hit(int64_t t, Session& visit, uint32_t url, bool pinned, bool keep_url, Hit& h) {
    Session* s = &visit;
    double latency_factor = 1;
    uint64_t error_threshold = 0;
    bool overridden = false;
    if (s->pages_left == 0) {
      if (pinned)
        restart_pinned_session(*s);  // a bad_user's or steady user's visitor keeps its name
      else
        start_session(*s);
    }
    --s->pages_left;
    bool bad = is_bad(s->user);
    if (any_active) {
      for (LiveIncident* li : active) {
        const Incident& spec = *li->spec;
        if (spec.kind == IncidentKind::kLatency) {
          if (li->affects(url)) latency_factor *= spec.factor;
        } else if ((spec.kind == IncidentKind::kErrorBurst && li->affects(url)) ||
                   (spec.kind == IncidentKind::kBadUser && li->user == s->user)) {
          error_threshold = std::max(error_threshold, li->error_threshold_at(t));
          overridden = true;
        }
      }
      if (global_error_threshold > 0) {
        error_threshold = std::max(error_threshold, global_error_threshold);
        overridden = true;
      }
      for (const LiveIncident* li : global_ramps) {
        error_threshold = std::max(error_threshold, li->error_threshold_at(t));
        overridden = true;
      }
    }
    if (!overridden) error_threshold = bad ? bad_error_threshold : normal_error_threshold;
    h.session = s;
    h.user = s->user == kNone ? std::string_view{} : user_of(s->user);
    h.url = url;
    h.referer_url = s->last_url;
    h.ddos = false;
    h.browser = !keep_url && o.format == GenerateFormat::kEdx && s->last_url != kNone &&
                urls[s->last_url].kind == UrlKind::kPage && (rng.next() >> 62) < 2;
    fill_outcome(h, error_threshold, bad && !overridden && !keep_url, latency_factor);
    if (!h.browser) s->last_url = h.url;
  }

  // A ddos line: one address (or a random one of the subnet), no session, no referer.
  void ddos_hit(LiveIncident& li, Hit& h, Session& scratch) {
    scratch.user = kNone;
    scratch.address =
        li.ddos_address | (li.ddos_mask ? static_cast<uint32_t>(rng.next()) & li.ddos_mask : 0);
    scratch.agent = static_cast<uint16_t>(agent_mix.sample(rng));
    scratch.language = 0;
    scratch.referer = 0;  // "-"
    h.session = &scratch;
    h.user = {};
    h.url = url_popularity.sample(rng);
    h.referer_url = kNone;
    h.ddos = true;
    h.browser = false;
    ++stats.incident_lines;
    fill_outcome(h, normal_error_threshold, false, 1);
  }

  char* write_referer(char* p, const Hit& h) {
    if (h.referer_url != kNone) {
      p = put(p, "https://");
      p = put(p, o.host);
      return put(p, url_of(h.referer_url));
    }
    return put(p, std::string_view(kExternalReferers[h.session->referer].text));
  }

  char* write_access(char* p, const Hit& h) {
    p = put_ipv4(p, h.session->address);
    p = put(p, " - ");
    if (h.user.empty() || o.format == GenerateFormat::kClickstream)
      *p++ = '-';
    else
      p = put(p, h.user);
    p = put(p, " [");
    p = put(p, std::string_view(apache_time, 26));
    p = put(p, "] \"");
    p = h.head ? put(p, "HEAD ") : h.post ? put(p, "POST ") : put(p, "GET ");
    p = put(p, url_of(h.url));
    p = put(p, " HTTP/1.1\" ");
    p = put_status(p, h.status);
    *p++ = ' ';
    if (h.bytes < 0)
      *p++ = '-';
    else
      p = put_uint(p, static_cast<uint64_t>(h.bytes));
    if (o.format != GenerateFormat::kCommon) {
      p = put(p, " \"");
      p = write_referer(p, h);
      p = put(p, "\" \"");
      p = put(p, agents[h.session->agent]);
      *p++ = '"';
      if (o.format == GenerateFormat::kClickstream) {
        p = put(p, " \"user = ");
        p = h.user.empty() ? put(p, "anonymous") : put(p, h.user);
        p = put(p, "; PHPSESSID=");
        if (h.ddos)
          *p++ = '-';
        else
          p = put(p, std::string_view(h.session->id, 26));
        *p++ = '"';
      }
    }
    if (o.with_duration) {
      *p++ = ' ';
      p = put_uint(p, static_cast<uint64_t>(h.duration_us));
    }
    *p++ = '\n';
    return p;
  }

  // An application-log line, read back by
  // `--format 'fields:date time level request_id session user action method url referer'`:
  //   2023-12-22 22:07:37.780 INFO req_18648 k3v0q9... anna.smith view_page GET /login https://www.bing.com/
  // A failed request (the error model's failures) is level ERROR; the status itself is not logged.
  char* write_applog(char* p, const Hit& h, int64_t t) {
    p = put(p, std::string_view(iso_time, 10));
    *p++ = ' ';
    p = put(p, std::string_view(iso_time + 11, 8));
    int64_t millis = ((t % kUsPerSecond) + kUsPerSecond) % kUsPerSecond / 1000;
    *p++ = '.';
    *p++ = static_cast<char>('0' + millis / 100);
    *p++ = static_cast<char>('0' + millis / 10 % 10);
    *p++ = static_cast<char>('0' + millis % 10);
    p = put(p, h.status >= 400 ? " ERROR req_" : " INFO req_");
    p = put_uint(p, stats.lines + 1);
    *p++ = ' ';
    if (h.ddos)
      *p++ = '-';
    else
      p = put(p, std::string_view(h.session->id, 26));
    *p++ = ' ';
    if (h.user.empty())
      *p++ = '-';
    else
      p = put(p, h.user);
    switch (urls[h.url].kind) {
      case UrlKind::kPage: p = put(p, " view_page "); break;
      case UrlKind::kApi: p = put(p, " api_call "); break;
      case UrlKind::kStatic: p = put(p, " get_asset "); break;
      case UrlKind::kSearch: p = put(p, " search "); break;
      case UrlKind::kLogin: p = put(p, " login "); break;
    }
    p = h.head ? put(p, "HEAD ") : h.post ? put(p, "POST ") : put(p, "GET ");
    p = put(p, url_of(h.url));
    *p++ = ' ';
    p = write_referer(p, h);
    *p++ = '\n';
    return p;
  }

  char* write_edx(char* p, const Hit& h, int64_t t) {
    const UrlInfo& u = urls[h.url];
    std::string_view url = url_of(h.url);
    const std::string& course = courses[u.course < courses.size() ? u.course : 0];
    const std::string& org = course_orgs[u.course < courses.size() ? u.course : 0];
    // Browser events happen on the page the visitor is on; server events are page requests.
    bool browser = h.browser;
    p = put(p, "{\"username\": \"");
    p = put(p, h.user);
    if (browser) {
      std::string_view page = url_of(h.referer_url);
      const UrlInfo& pu = urls[h.referer_url];
      const std::string& pcourse = courses[pu.course < courses.size() ? pu.course : 0];
      const std::string& porg = course_orgs[pu.course < courses.size() ? pu.course : 0];
      std::string_view event = kBrowserEvents[browser_event_mix.sample(rng)].text;
      p = put(p, "\", \"event_source\": \"browser\", \"name\": \"");
      p = put(p, event);
      p = put(p, "\", \"accept_language\": \"");
      p = put(p, std::string_view(kLanguages[h.session->language]));
      p = put(p, "\", \"time\": \"");
      p = write_edx_time(p, t);
      p = put(p, "\", \"agent\": \"");
      p = put(p, agents[h.session->agent]);
      p = put(p, "\", \"page\": \"https://");
      p = put(p, o.host);
      p = put(p, page);
      p = put(p, "\", \"host\": \"");
      p = put(p, o.host);
      p = put(p, "\", \"session\": \"");
      p = put(p, std::string_view(h.session->id, 32));
      p = put(p, "\", \"referer\": \"https://");
      p = put(p, o.host);
      p = put(p, page);
      p = put(p, "\", \"context\": {\"user_id\": ");
      p = write_user_id(p, h);
      p = put(p, ", \"org_id\": \"");
      p = put(p, porg);
      p = put(p, "\", \"course_id\": \"");
      p = put(p, pcourse);
      p = put(p, "\", \"path\": \"/event\"}, \"ip\": \"");
      p = put_ipv4(p, h.session->address);
      p = put(p, "\", \"event\": {\"id\": \"block-v1:");
      p = put(p, std::string_view(pcourse).substr(10));
      p = put(p, "+type@video+block@");
      static constexpr char kHex[] = "0123456789abcdef";
      uint64_t v = mix64(h.referer_url);
      for (int i = 0; i < 16; ++i) *p++ = kHex[(v >> (4 * i)) & 15];
      p = put(p, "\", \"currentTime\": ");
      p = put_uint(p, static_cast<uint64_t>(rng.below(3600)));
      p = put(p, "}, \"event_type\": \"");
      p = put(p, event);
      p = put(p, "\"}\n");
      return p;
    }
    p = put(p, "\", \"event_type\": \"");
    p = put(p, url);
    p = put(p, "\", \"ip\": \"");
    p = put_ipv4(p, h.session->address);
    p = put(p, "\", \"agent\": \"");
    p = put(p, agents[h.session->agent]);
    p = put(p, "\", \"host\": \"");
    p = put(p, o.host);
    p = put(p, "\", \"referer\": \"");
    if (h.referer_url != kNone)
      p = write_referer(p, h);
    else if (!h.ddos) {
      p = put(p, "https://");
      p = put(p, o.host);
      p = put(p, "/dashboard");
    }
    p = put(p, "\", \"accept_language\": \"");
    p = put(p, std::string_view(kLanguages[h.session->language]));
    p = put(p, u.kind == UrlKind::kApi
                   ? "\", \"event\": \"{\\\"POST\\\": {\\\"input_1\\\": [\\\"42\\\"]}, "
                     "\\\"GET\\\": {}}\", \"event_source\": \"server\", \"context\": {\"user_id\": "
                   : "\", \"event\": \"{\\\"POST\\\": {}, \\\"GET\\\": {}}\", \"event_source\": "
                     "\"server\", \"context\": {\"user_id\": ");
    p = write_user_id(p, h);
    p = put(p, ", \"org_id\": \"");
    p = put(p, org);
    p = put(p, "\", \"course_id\": \"");
    p = put(p, course);
    p = put(p, "\", \"path\": \"");
    p = put(p, url);
    p = put(p, "\"}, \"time\": \"");
    p = write_edx_time(p, t);
    p = put(p, "\", \"page\": null, \"session\": \"");
    if (!h.ddos) p = put(p, std::string_view(h.session->id, 32));
    p = put(p, "\"}\n");
    return p;
  }

  char* write_user_id(char* p, const Hit& h) {
    if (h.user.empty()) return put(p, "null");
    return put_uint(p, static_cast<uint64_t>(h.session->user) + 1);
  }

  char* write_edx_time(char* p, int64_t t) {
    p = put(p, std::string_view(iso_time, 19));
    *p++ = '.';
    int64_t frac = ((t % kUsPerSecond) + kUsPerSecond) % kUsPerSecond;
    for (int i = 5; i >= 0; --i) {
      p[i] = static_cast<char>('0' + frac % 10);
      frac /= 10;
    }
    p += 6;
    return put(p, "+00:00");
  }

  int64_t next_time() const noexcept {
    return std::min({base_next_us, ddos_next_us, steady_next_us});
  }

  std::string_view next_batch(size_t max_lines, int64_t end_us) {
    char* const begin = buffer.get();
    char* p = begin;
    char* const stop = begin + kBatchBytes;
    Session scratch;
    Hit h;
    bool edx = o.format == GenerateFormat::kEdx;
    for (size_t n = 0; n < max_lines && p < stop; ++n) {
      int64_t t;
      if (base_next_us <= ddos_next_us && base_next_us <= steady_next_us) {
        t = base_next_us;
        if (t >= end_us) break;
        base_hit(t, h);
        // From a count, rounded: a running sum truncated put the 3,000th line of --rate 300 at
        // 9,999,999 us, inside a 10 s --duration (3,001 lines).
        base_offset_us = base_anchor_us + static_cast<double>(++base_steps) * base_step_us;
        base_next_us = o.start_us + std::llround(base_offset_us);
        update_cycle(base_next_us);
      } else if (steady_next_us < ddos_next_us) {
        t = steady_next_us;
        if (t >= end_us) break;
        for (LiveSteady& ls : steady) {
          if (ls.next_us != t) continue;
          steady_hit(ls, t, h);
          ls.next_us += poisson_gap_us(ls.mean_gap_us);
          break;
        }
        update_steady_next();
      } else {
        t = ddos_next_us;
        if (t >= end_us) break;
        for (LiveIncident* li : ddos) {
          if (li->ddos_next_us != t || t >= li->spec->end_us) continue;
          ddos_hit(*li, h, scratch);
          li->ddos_offset_us = static_cast<double>(++li->ddos_steps) * li->ddos_step_us;
          li->ddos_next_us = li->spec->start_us + std::llround(li->ddos_offset_us);
          break;
        }
        update_ddos_next();
      }
      update_time_text(t);
      char* line = p;
      p = edx ? write_edx(p, h, t) : o.format == GenerateFormat::kApplog ? write_applog(p, h, t) : write_access(p, h);
      stats.bytes += static_cast<uint64_t>(p - line);
      ++stats.lines;
    }
    return {begin, static_cast<size_t>(p - begin)};
  }
};

Generator::Generator(GeneratorOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
Generator::~Generator() = default;

std::string_view Generator::next_batch(size_t max_lines, int64_t end_us) {
  return impl_->next_batch(max_lines, end_us);
}
int64_t Generator::next_time_us() const noexcept { return impl_->next_time(); }
const GeneratorStats& Generator::stats() const noexcept { return impl_->stats; }
double Generator::bad_user_traffic_share() const noexcept { return impl_->bad_share; }
double Generator::normal_error_rate() const noexcept { return impl_->normal_rate; }

std::string truth_lines(const std::vector<Incident>& incidents, int64_t first_us, int64_t stop_us) {
  std::string out;
  for (const Incident& inc : incidents) {
    int64_t start = std::max(inc.start_us, first_us), end = std::min(inc.end_us, stop_us);
    if (start >= end) continue;
    // Keys were validated: no quote, backslash or control character to escape.
    fmt::format_to(
        std::back_inserter(out), "{{\"kind\":\"{}\",\"start\":\"{}\",\"end\":\"{}\",\"key\":\"{}\"",
        incident_kind_name(inc.kind), format_rfc3339(start), format_rfc3339(end), inc.key());
    // A ramp says where it stands at both ends of the clipped interval, so that a scorer can
    // tell when its error rate had doubled without knowing the profile.
    if (inc.is_ramp())
      fmt::format_to(std::back_inserter(out),
                     ",\"error_rate_from\":{:.6g},\"error_rate_to\":{:.6g}",
                     inc.error_rate_at(start), inc.error_rate_at(end));
    out += "}\n";
  }
  return out;
}

}  // namespace logpipe
