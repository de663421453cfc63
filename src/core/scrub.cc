// Finders of personal data in free text for anonymize (scrub.h). Each finder is the hand-written
// equivalent of one of edx-analytics-pipeline's patterns: the left-most match wins, then the
// search goes on after it, as Python's re.finditer does; the comments give the pattern.
#include "scrub.h"

#include <algorithm>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "logpipe/error.h"
#include "logpipe/hmac.h"

namespace logpipe::detail {
namespace {

inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
inline bool is_alnum(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
// Python's \w without re.UNICODE.
inline bool is_word(char c) noexcept { return is_alnum(c) || c == '_'; }
// \w with re.UNICODE, approximated: every byte of a multi-byte UTF-8 character is a word byte.
inline bool is_uword(char c) noexcept { return is_word(c) || static_cast<unsigned char>(c) >= 0x80; }
inline bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
inline char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

template <bool (*Word)(char)>
bool boundary(std::string_view t, size_t i) noexcept {
  bool before = i > 0 && Word(t[i - 1]);
  bool after = i < t.size() && Word(t[i]);
  return before != after;
}

// The local part's characters: [a-z0-9!#$%&'*+/=?^_`{|}~-] (case-insensitive).
bool is_local(char c) noexcept {
  return is_alnum(c) || (c != 0 && std::strchr("!#$%&'*+/=?^_`{|}~-", c) != nullptr);
}

size_t skip_spaces(std::string_view t, size_t p) noexcept {
  while (p < t.size() && is_space(t[p])) ++p;
  return p;
}

// The domain after '@' at `at`: (?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\b.
// Returns the end of the longest match, or npos.
size_t match_domain(std::string_view t, size_t at) noexcept {
  struct Run {
    size_t b, e;
  };
  std::array<Run, 64> runs;
  size_t k = 0, p = at + 1;
  while (k < runs.size()) {
    size_t b = p;
    while (p < t.size() && (is_alnum(t[p]) || t[p] == '-')) ++p;
    if (p == b) break;
    runs[k++] = Run{b, p};
    if (p < t.size() && t[p] == '.') {
      ++p;
      continue;
    }
    break;
  }
  // Labels before the last one are whole runs that start and end with a letter or digit.
  size_t valid_prefix = 0;
  while (valid_prefix < k && is_alnum(t[runs[valid_prefix].b]) && is_alnum(t[runs[valid_prefix].e - 1]))
    ++valid_prefix;
  for (size_t j = std::min(k, valid_prefix + 1); j >= 2; --j) {
    const Run& last = runs[j - 1];
    if (!is_alnum(t[last.b])) continue;
    for (size_t e = last.e; e > last.b; --e) {
      if (!is_alnum(t[e - 1])) continue;
      if (e < t.size() && is_word(t[e])) continue;  // \b after the last letter or digit
      return e;
    }
  }
  return std::string_view::npos;
}

// US_PHONE_PATTERN's last part at q: \b\d{3}\s*(?:[\- ]\s*)\d{4}, then the final \b.
size_t match_us_tail(std::string_view t, size_t q) noexcept {
  const size_t n = t.size();
  if (!boundary<is_word>(t, q)) return std::string_view::npos;
  if (q + 3 > n || !is_digit(t[q]) || !is_digit(t[q + 1]) || !is_digit(t[q + 2])) return std::string_view::npos;
  size_t r = q + 3, w = r;
  bool space = false;
  while (w < n && is_space(t[w])) {
      if (t[w] == ' ') space = true;
      ++w;
    }
  if (w < n && t[w] == '-') {
    w = skip_spaces(t, w + 1);
  } else if (!space) {
    return std::string_view::npos;
  }
  if (w + 4 > n) return std::string_view::npos;
  for (size_t i = 0; i < 4; ++i)
    if (!is_digit(t[w + i])) return std::string_view::npos;
  size_t end = w + 4;
  if (end < n && is_word(t[end])) return std::string_view::npos;
  return end;
}

// (?:\+?1\s*(?:[.\- ]?\s*)?)?(?:\([2-9]\d{2}\)\s*|[2-9]\d{2}\s*(?:[.\- ]\s*))?<tail>
size_t match_us(std::string_view t, size_t s) noexcept {
  const size_t n = t.size();
  for (int with_one = 1; with_one >= 0; --with_one) {
    size_t p = s;
    if (with_one) {
      if (p < n && t[p] == '+') ++p;
      if (p >= n || t[p] != '1') continue;
      p = skip_spaces(t, p + 1);
      if (p < n && (t[p] == '.' || t[p] == '-')) p = skip_spaces(t, p + 1);
    }
    for (int area = 0; area < 3; ++area) {
      size_t q = p;
      if (area == 0) {  // (202) 123-4567
        if (q + 5 > n || t[q] != '(' || t[q + 1] < '2' || t[q + 1] > '9' || !is_digit(t[q + 2]) ||
            !is_digit(t[q + 3]) || t[q + 4] != ')')
          continue;
        q = skip_spaces(t, q + 5);
      } else if (area == 1) {  // 201-555-1212, 201 555 1212, 201.555-1212
        if (q + 3 > n || t[q] < '2' || t[q] > '9' || !is_digit(t[q + 1]) || !is_digit(t[q + 2])) continue;
        q += 3;
        bool space = false;
        while (q < n && is_space(t[q])) {
      if (t[q] == ' ') space = true;
      ++q;
    }
        if (q < n && (t[q] == '.' || t[q] == '-')) {
          q = skip_spaces(t, q + 1);
        } else if (!space) {
          continue;
        }
      }
      size_t end = match_us_tail(t, q);
      if (end != std::string_view::npos) return end;
    }
  }
  return std::string_view::npos;
}

// INTL_PHONE_PATTERN: \+(?:\d[\- ]?){6,14}\d, then \b.
//
// One difference from edx's pattern: the '+' must not follow a letter, digit or '_'. Open edX
// course keys join their parts with '+' (`course-v1:Org+Course+20150803`): edx's pattern takes the
// run for a phone number and would rewrite every course id, page and referer of a course whose run
// is a date.
size_t match_intl(std::string_view t, size_t s) noexcept {
  const size_t n = t.size();
  if (t[s] != '+' || (s > 0 && is_word(t[s - 1]))) return std::string_view::npos;
  std::array<size_t, 16> ends;  // ends[i]: where group i+1 starts
  ends[0] = s + 1;
  size_t groups = 0;
  while (groups < 15 && ends[groups] < n && is_digit(t[ends[groups]])) {
    size_t p = ends[groups] + 1;
    if (p < n && (t[p] == '-' || t[p] == ' ')) ++p;
    ends[++groups] = p;
  }
  for (size_t g = std::min<size_t>(groups, 14); g >= 6; --g) {
    size_t d = ends[g];
    if (d >= n || !is_digit(t[d])) continue;
    if (d + 1 < n && is_word(t[d + 1])) continue;
    return d + 1;
  }
  return std::string_view::npos;
}

bool equal_folded(std::string_view text, size_t i, std::string_view lowered) noexcept {
  if (i + lowered.size() > text.size()) return false;
  for (size_t k = 0; k < lowered.size(); ++k)
    if (lower(text[i + k]) != lowered[k]) return false;
  return true;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

// \b(p1|p2|...)\b, case-insensitive: at each boundary the first pattern that matches and ends on
// a boundary wins.
template <bool (*Word)(char)>
void find_words(std::string_view t, const std::string* patterns, size_t count, TextFind kind,
                std::vector<TextMatch>& out) {
  if (count == 0) return;
  std::array<bool, 256> first{};
  for (size_t k = 0; k < count; ++k)
    if (!patterns[k].empty()) {
      unsigned char c = static_cast<unsigned char>(patterns[k][0]);
      first[c] = true;
      if (c >= 'a' && c <= 'z') first[c - 32] = true;
    }
  size_t i = 0;
  while (i < t.size()) {
    if (!first[static_cast<unsigned char>(t[i])] || !boundary<Word>(t, i)) {
      ++i;
      continue;
    }
    size_t end = 0;
    for (size_t k = 0; k < count && end == 0; ++k) {
      const std::string& p = patterns[k];
      if (!p.empty() && equal_folded(t, i, p) && boundary<Word>(t, i + p.size())) end = i + p.size();
    }
    if (end == 0) {
      ++i;
      continue;
    }
    out.push_back(TextMatch{static_cast<uint32_t>(i), static_cast<uint32_t>(end), kind});
    i = end;
  }
}

}  // namespace

void find_emails(std::string_view t, std::vector<TextMatch>& out) {
  size_t from = 0;
  while (from < t.size()) {
    const void* hit = std::memchr(t.data() + from, '@', t.size() - from);
    if (!hit) return;
    size_t at = static_cast<size_t>(static_cast<const char*>(hit) - t.data());
    // Cheap test first: the domain needs a dot after its first label (edX block keys hold
    // `type@problem+block@...`: an '@' in most lines, never an e-mail).
    size_t q = at + 1;
    while (q < t.size() && (is_alnum(t[q]) || t[q] == '-')) ++q;
    if (q == at + 1 || q >= t.size() || t[q] != '.') {
      from = at + 1;
      continue;
    }
    // The local part before '@': [L]+(?:\.[L]+)*, starting at the left-most word boundary.
    size_t r = at;
    while (r > from) {
      size_t run = r;
      while (run > from && is_local(t[run - 1])) --run;
      if (run == r) break;
      r = run;
      if (r >= from + 2 && t[r - 1] == '.' && is_local(t[r - 2])) {
        --r;
        continue;
      }
      break;
    }
    if (r < at && t[r] == '.') ++r;
    size_t start = std::string_view::npos;
    if (r < at && is_local(t[at - 1]))
      for (size_t s = r; s < at; ++s)
        if (t[s] != '.' && boundary<is_word>(t, s)) {
          start = s;
          break;
        }
    size_t end = start == std::string_view::npos ? start : match_domain(t, at);
    if (end == std::string_view::npos) {
      from = at + 1;
      continue;
    }
    out.push_back(TextMatch{static_cast<uint32_t>(start), static_cast<uint32_t>(end), TextFind::kEmail});
    from = end;
  }
}

void find_phones(std::string_view t, std::vector<TextMatch>& out) {
  size_t s = 0;
  while (s < t.size()) {
    char c = t[s];
    if (!(is_digit(c) || c == '+' || c == '(')) {
      ++s;
      continue;
    }
    size_t end = match_us(t, s);
    if (end == std::string_view::npos) end = match_intl(t, s);
    if (end == std::string_view::npos) {
      ++s;
      continue;
    }
    out.push_back(TextMatch{static_cast<uint32_t>(s), static_cast<uint32_t>(end), TextFind::kPhone});
    s = end;
  }
}

void find_ipv4(std::string_view t, std::vector<TextMatch>& out) {
  size_t i = 0;
  const size_t n = t.size();
  while (i < n) {
    if (!is_digit(t[i]) || (i > 0 && (is_digit(t[i - 1]) || t[i - 1] == '.'))) {
      ++i;
      continue;
    }
    size_t p = i;
    int parts = 0;
    bool ok = true;
    while (parts < 4) {
      size_t b = p;
      unsigned v = 0;
      while (p < n && is_digit(t[p]) && p - b < 4) v = v * 10 + static_cast<unsigned>(t[p++] - '0');
      if (p == b || p - b > 3 || v > 255) {
        ok = false;
        break;
      }
      ++parts;
      if (parts < 4) {
        if (p >= n || t[p] != '.') {
          ok = false;
          break;
        }
        ++p;
      }
    }
    // Not part of a longer dotted run (1.2.3.4.5) or number (1.2.3.45678).
    if (ok && p < n && (is_digit(t[p]) || (t[p] == '.' && p + 1 < n && is_digit(t[p + 1])))) ok = false;
    if (!ok) {
      while (i < n && (is_digit(t[i]) || t[i] == '.')) ++i;  // skip the whole run
      continue;
    }
    out.push_back(TextMatch{static_cast<uint32_t>(i), static_cast<uint32_t>(p), TextFind::kIpv4});
    i = p;
  }
}

void find_url_users(std::string_view t, std::vector<TextMatch>& out) {
  size_t i = 0;
  while (i + 2 < t.size()) {
    // The next "/u", 16 bytes at a time: URLs have a slash every few bytes, so a memchr call per
    // slash costs more than the whole test.
#ifdef __SSE2__
    const __m128i slash = _mm_set1_epi8('/'), letter_u = _mm_set1_epi8('u');
    while (i + 17 <= t.size()) {
      __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t.data() + i));
      __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t.data() + i + 1));
      int mask = _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, slash), _mm_cmpeq_epi8(b, letter_u)));
      if (mask != 0) {
        i += static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
        break;
      }
      i += 16;
    }
#endif
    if (i + 2 >= t.size()) return;
    if (t[i] != '/' || t[i + 1] != 'u') {
      ++i;
      continue;
    }
    std::string_view rest = t.substr(i);
    size_t b = rest.starts_with("/u/") ? i + 3 : rest.starts_with("/users/") ? i + 7 : 0;
    if (b == 0) {
      ++i;
      continue;
    }
    size_t e = b;
    while (e < t.size() && !std::strchr("/?#&\"' \t\r\n<>;,)\\", t[e])) ++e;
    if (e > b) out.push_back(TextMatch{static_cast<uint32_t>(b), static_cast<uint32_t>(e), TextFind::kUrlUser});
    i = std::max(e, i + 1);
  }
}

UserPatterns::UserPatterns(std::string_view username, std::string_view fullname) : username_(lowered(username)) {
  // \b(?:s/o|d/o|a/l|a/p|a/k|w/o)\b ("son of", "daughter of"...) is left out of the name.
  std::string name(fullname);
  static constexpr std::string_view kOf[] = {"s/o", "d/o", "a/l", "a/p", "a/k", "w/o"};
  for (size_t i = 0; i + 3 <= name.size(); ++i) {
    if (!boundary<is_uword>(name, i) || !boundary<is_uword>(name, i + 3)) continue;
    for (std::string_view of : kOf)
      if (equal_folded(name, i, of)) {
        name.replace(i, 3, "   ");
        break;
      }
  }
  for (char& c : name)
    if (c == '"' || c == '*' || c == '(' || c == ')' || c == ',') c = ' ';
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < name.size()) {
    while (i < name.size() && is_space(name[i])) ++i;
    size_t b = i;
    while (i < name.size() && !is_space(name[i])) ++i;
    if (i > b) parts.push_back(lowered(std::string_view(name).substr(b, i - b)));
  }
  if (parts.empty()) return;
  std::string whole;
  for (const auto& p : parts) {
    if (!whole.empty()) whole += ' ';
    whole += p;
  }
  names_.push_back(whole);
  for (const auto& p : parts) {
    // len() of the regex-escaped part in characters: `-`, `'` and `.` were escaped with a backslash.
    size_t chars = 0;
    for (char c : p) {
      if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;
      if (c == '-' || c == '\'' || c == '.') ++chars;
    }
    if (chars > 2 && p != "the" && p != "and" && p != "can" && p.back() != '.') names_.push_back(p);
  }
}

void UserPatterns::find(std::string_view text, std::vector<TextMatch>& out) const {
  std::vector<TextMatch> names, users;
  find_words<is_uword>(text, names_.data(), names_.size(), TextFind::kFullname, names);
  if (!username_.empty()) find_words<is_word>(text, &username_, 1, TextFind::kUsername, users);
  merge_matches(names, users);
  merge_matches(out, names);
}

void merge_matches(std::vector<TextMatch>& kept, const std::vector<TextMatch>& more) {
  if (more.empty()) return;
  if (kept.empty()) {
    kept = more;
    return;
  }
  std::vector<TextMatch> merged;
  merged.reserve(kept.size() + more.size());
  size_t i = 0;
  for (const TextMatch& m : more) {
    while (i < kept.size() && kept[i].begin < m.begin) merged.push_back(kept[i++]);
    bool overlaps = (i < kept.size() && kept[i].begin < m.end) || (!merged.empty() && merged.back().end > m.begin);
    if (!overlaps) merged.push_back(m);
  }
  while (i < kept.size()) merged.push_back(kept[i++]);
  kept.swap(merged);
}

UserTable UserTable::parse(std::string_view csv, const std::string& name) {
  UserTable table;
  size_t pos = 0, line = 0;
  while (pos < csv.size()) {
    ++line;
    std::vector<std::string> fields(1);
    bool quoted = false;
    size_t start_line = line;
    while (pos < csv.size()) {
      char c = csv[pos++];
      if (quoted) {
        if (c == '"') {
          if (pos < csv.size() && csv[pos] == '"') {
            fields.back() += '"';
            ++pos;
          } else {
            quoted = false;
          }
        } else {
          if (c == '\n') ++line;
          fields.back() += c;
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        fields.emplace_back();
      } else if (c == '\n') {
        break;
      } else if (c != '\r') {
        fields.back() += c;
      }
    }
    if (quoted) usage_error("--user-info {}:{}: a quoted field is not closed", name, start_line);
    if (fields.size() == 1 && fields[0].empty()) continue;  // blank line
    if (fields.size() > 3)
      usage_error("--user-info {}:{}: {} fields; expected username,full name,e-mail", name, start_line,
                  fields.size());
    if (start_line == 1 && lowered(fields[0]) == "username") continue;  // header
    if (fields[0].empty()) usage_error("--user-info {}:{}: the username is empty", name, start_line);
    std::string fullname = fields.size() > 1 ? fields[1] : std::string();
    if (fields.size() > 2 && !fields[2].empty()) table.emails_.push_back(fields[2]);
    auto patterns = std::make_unique<UserPatterns>(fields[0], fullname);
    const std::string& whole = patterns->name_patterns().empty() ? std::string() : patterns->name_patterns()[0];
    if (size_t words = 1 + static_cast<size_t>(std::count(whole.begin(), whole.end(), ' ')); words >= 2) {
      table.whole_names_.insert(whole);
      table.max_words_ = std::max(table.max_words_, words);
    }
    table.users_[fields[0]] = std::move(patterns);
  }
  return table;
}

size_t UserTable::count_any_fullname(std::string_view text, std::string& scratch) const {
  if (whole_names_.empty()) return 0;
  // Words as the name patterns split them: runs without spaces or `"*(),`.
  struct Word {
    size_t b, e;
  };
  std::vector<Word> words;
  for (size_t i = 0; i < text.size();) {
    while (i < text.size() && (is_space(text[i]) || std::strchr("\"*(),", text[i]) != nullptr || text[i] == 0)) ++i;
    size_t b = i;
    while (i < text.size() && !is_space(text[i]) && !std::strchr("\"*(),", text[i]) && text[i] != 0) ++i;
    if (i > b) words.push_back(Word{b, i});
  }
  size_t found = 0;
  for (size_t i = 0; i < words.size(); ++i) {
    scratch.clear();
    for (size_t n = 1; n <= max_words_ && i + n <= words.size(); ++n) {
      if (n > 1) scratch += ' ';
      // Trailing punctuation of the last word (`Tables.`) is not part of the name.
      std::string_view w = text.substr(words[i + n - 1].b, words[i + n - 1].e - words[i + n - 1].b);
      scratch += lowered(w);
      if (n < 2) continue;
      std::string_view candidate = scratch;
      while (!candidate.empty() && std::strchr(".!?;:", candidate.back())) candidate.remove_suffix(1);
      if (whole_names_.count(std::string(candidate))) {
        ++found;
        break;
      }
    }
  }
  return found;
}

const UserPatterns* UserTable::find(std::string_view username) const {
  auto it = users_.find(std::string(username));
  return it == users_.end() ? nullptr : it->second.get();
}

IdRemapper::IdRemapper(std::string_view key) {
  // A key of its own, so that no id maps to a value shared with the username pseudonyms.
  HmacSha256 derive(key);
  auto sub = derive.mac("logpipe --remap-ids v1");
  hmac_ = std::make_unique<HmacSha256>(std::string_view(reinterpret_cast<const char*>(sub.data()), sub.size()));
}

IdRemapper::~IdRemapper() = default;

uint64_t IdRemapper::round(unsigned width, unsigned r, uint64_t half) {
  char data[10];
  data[0] = static_cast<char>(width);
  data[1] = static_cast<char>(r);
  for (int i = 0; i < 8; ++i) data[2 + i] = static_cast<char>(half >> (8 * i));
  auto mac = hmac_->mac(std::string_view(data, sizeof data));
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(mac[i]) << (8 * i);
  return v;
}

uint64_t IdRemapper::feistel(unsigned half_bits, uint64_t v) {
  const uint64_t mask = half_bits == 32 ? 0xffffffffull : (1ull << half_bits) - 1;
  uint64_t left = (v >> half_bits) & mask, right = v & mask;
  for (unsigned r = 0; r < 8; ++r) {
    uint64_t next = left ^ (round(half_bits, r, right) & mask);
    left = right;
    right = next;
  }
  return (left << half_bits) | right;
}

uint64_t IdRemapper::remap(uint64_t id) {
  Entry& e = cache_[(id * 0x9E3779B97F4A7C15ull) >> 54];
  if (e.used && e.id == id) return e.mapped;
  uint64_t v;
  if (id < (1ull << 32)) {
    v = feistel(16, id);
  } else {
    v = id;
    do v = feistel(32, v);
    while (v < (1ull << 32));  // cycle walking: stays a one-to-one map of the ids >= 2^32
  }
  e = Entry{id, v, true};
  return v;
}

bool is_pseudonym(std::string_view v) noexcept {
  if (v.size() != 64) return false;
  for (char c : v)
    if (!(is_digit(c) || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace logpipe::detail
