// anonymize: a byte-preserving JSON rewriter for edx lines, an in-place rewriter for access logs,
// and the block-parallel driver that streams a source through them.
//
// Why a hand-written JSON scanner instead of simdjson + re-serialisation: the output must keep
// every byte that is not pseudonymised (key order, spacing, number spelling, \u escapes), so we
// only need the byte ranges of a few members and a validation of the rest. The scanner validates
// the whole line (strings, escapes, numbers, literals, nesting) but decodes only the keys it
// compares and the values it hashes.
#include "logpipe/anonymize.h"
#include "logpipe/netaddr.h"


#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <future>
#include <iterator>

#include <fmt/format.h>

#include "parsers.h"
#include "scrub.h"
#include "logpipe/error.h"
#include "logpipe/hmac.h"
#include "logpipe/source.h"
#include "logpipe/intern.h"
#include "logpipe/malformed.h"
#include "logpipe/sink.h"
#include "logpipe/text.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace logpipe {

namespace detail {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool read_hex4(const char* p, uint32_t& out) noexcept {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    int h = hex_value(p[i]);
    if (h < 0) return false;
    v = v * 16 + static_cast<uint32_t>(h);
  }
  out = v;
  return true;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

bool json_unescape(std::string_view s, std::string& out) {
  size_t i = 0;
  while (i < s.size()) {
    size_t bs = s.find('\\', i);
    if (bs == std::string_view::npos) {
      out.append(s.substr(i));
      return true;
    }
    out.append(s.substr(i, bs - i));
    if (bs + 1 >= s.size()) return false;
    char e = s[bs + 1];
    i = bs + 2;
    switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp = 0;
        if (i + 4 > s.size() || !read_hex4(s.data() + i, cp)) return false;
        i += 4;
        // A high surrogate followed by a low one is one code point (what json.loads does).
        if (cp >= 0xD800 && cp < 0xDC00 && i + 6 <= s.size() && s[i] == '\\' && s[i + 1] == 'u') {
          uint32_t low = 0;
          if (read_hex4(s.data() + i + 2, low) && low >= 0xDC00 && low < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            i += 6;
          }
        }
        append_utf8(out, cp);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

}  // namespace detail

namespace {

/// Hashes values with a small direct-mapped cache in front of the HMAC: tracking logs repeat the
/// same few usernames on many lines, and a lookup costs far less than two SHA-256 runs.
class Pseudonymizer {
 public:
  explicit Pseudonymizer(std::string_view key) : hmac_(key) {}

  /// The 64 hex digits of HMAC-SHA256(key, value); valid until the next call.
  std::string_view hex(std::string_view value) {
    if (value.size() > kMaxCached) {
      hmac_.hex(value, scratch_);
      return {scratch_, HmacSha256::kHexSize};
    }
    uint64_t h = hash_bytes(value);
    Entry& e = cache_[h & (kEntries - 1)];
    if (e.hash != h || e.size != value.size() ||
        std::memcmp(e.value, value.data(), value.size()) != 0) {
      e.hash = h;
      e.size = static_cast<uint8_t>(value.size());
      std::memcpy(e.value, value.data(), value.size());
      hmac_.hex(value, e.hex);
    }
    return {e.hex, HmacSha256::kHexSize};
  }

 private:
  static constexpr size_t kEntries = 1024;
  static constexpr size_t kMaxCached = 62;
  struct Entry {
    uint64_t hash = 0;
    uint8_t size = 0xff;  // never a real size: empty slot
    char value[kMaxCached];
    char hex[HmacSha256::kHexSize];
  };
  HmacSha256 hmac_;
  std::array<Entry, kEntries> cache_{};
  char scratch_[HmacSha256::kHexSize];
};

bool keep_user(std::string_view v) noexcept { return v.empty() || v == "-" || v == "anonymous"; }

/// What a rewriter does to free text and ids, and where --audit counts what it finds. One per
/// Anonymizer (so per thread), shared by its rewriters.
struct Scrub {
  bool emails = false, phones = false, url_users = false, ips = false, remap_ids = false, audit = false;
  const detail::UserTable* users = nullptr;
  detail::IdRemapper* remapper = nullptr;
  std::array<uint32_t, kFindingKinds> found{};
  bool text() const noexcept { return emails || phones || url_users || ips || users != nullptr; }
  void count(Finding f) noexcept {
    if (audit) ++found[static_cast<size_t>(f)];
  }
};

/// %XX decoded (a username in a URL is hashed as the name it stands for).
void percent_decode(std::string_view s, std::string& out);

/// A user id as --remap-ids takes it: 1 to 19 decimal digits (every such number fits a uint64).
bool whole_id(std::string_view s, uint64_t& id) noexcept {
  if (s.empty() || s.size() > 19) return false;
  id = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    id = id * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

/// --audit: a client address that is neither hashed nor truncated already (`scratch` is used).
bool raw_address(std::string_view ip, std::string& scratch) {
  scratch.clear();
  return !detail::is_pseudonym(ip) && !(truncate_ip(ip, scratch) && scratch == ip);
}

/// What the NAME of /u/NAME or /users/NAME becomes, appended to `out`: the pseudonym of the name
/// (%XX decoded first), or for a numeric one (a user id) its --remap-ids image. False when it stays
/// (a pseudonym already, or an id without --remap-ids). Counts what --audit reports.
bool url_user(std::string_view segment, Scrub& scrub, Pseudonymizer& pseudonymizer, std::string& out,
              std::string& scratch) {
  if (detail::is_pseudonym(segment)) return false;
  if (uint64_t id; whole_id(segment, id)) {
    scrub.count(Finding::kUserId);
    if (!scrub.remap_ids) return false;
    fmt::format_to(std::back_inserter(out), "{}", scrub.remapper->remap(id));
    return true;
  }
  scrub.count(Finding::kUrlUser);
  percent_decode(segment, scratch);
  out.append(pseudonymizer.hex(scratch));
  return true;
}

/// %XX decoded (a username in a URL is hashed as the name it stands for).
void percent_decode(std::string_view s, std::string& out) {
  out.clear();
  for (size_t i = 0; i < s.size(); ++i) {
    int hi, lo;
    if (s[i] == '%' && i + 2 < s.size() && (hi = detail::hex_value(s[i + 1])) >= 0 &&
        (lo = detail::hex_value(s[i + 2])) >= 0) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
}

/// A replacement of the bytes [begin, end) of the line by repl_[offset, offset + size).
struct Edit {
  uint32_t begin, end, offset, size;
};

/// Collects edits and applies them to a line.
class EditList {
 public:
  void clear() {
    edits_.clear();
    repl_.clear();
  }
  bool empty() const noexcept { return edits_.empty(); }
  void replace(size_t begin, size_t end, std::string_view text) {
    edits_.push_back(Edit{static_cast<uint32_t>(begin), static_cast<uint32_t>(end),
                          static_cast<uint32_t>(repl_.size()), static_cast<uint32_t>(text.size())});
    repl_.append(text);
  }
  void remove(size_t begin, size_t end) {
    edits_.push_back(Edit{uint32_t(begin), uint32_t(end), 0, 0});
  }
  /// The replacement text buffer: append to it after begin(), then commit().
  std::string& text() noexcept { return repl_; }
  size_t begin() const noexcept { return repl_.size(); }
  /// Registers the text appended since `mark` as the replacement of [begin, end).
  void commit(size_t begin, size_t end, size_t mark) {
    edits_.push_back(Edit{static_cast<uint32_t>(begin), static_cast<uint32_t>(end),
                          static_cast<uint32_t>(mark), static_cast<uint32_t>(repl_.size() - mark)});
  }
  /// Calls fn(begin, end, replacement) for every edit in order of position.
  template <typename Fn>
  void for_each(Fn&& fn) {
    std::sort(edits_.begin(), edits_.end(),
              [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
    for (const Edit& e : edits_)
      fn(e.begin, e.end, std::string_view(repl_).substr(e.offset, e.size));
  }
  /// Appends `line` with every edit applied; edits must not overlap.
  void apply(std::string_view line, std::string& out) {
    std::sort(edits_.begin(), edits_.end(),
              [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
    size_t pos = 0;
    for (const Edit& e : edits_) {
      out.append(line.data() + pos, e.begin - pos);
      out.append(repl_.data() + e.offset, e.size);
      pos = e.end;
    }
    out.append(line.data() + pos, line.size() - pos);
  }

 private:
  std::vector<Edit> edits_;
  std::string repl_;
};

// ---------------------------------------------------------------------------------------------
// edx: JSON lines.

struct PathNode {
  enum Action : uint8_t { kNone, kHash, kDrop, kIp, kRemap, kKeep };
  std::string name;
  Action action = kNone;
  std::vector<PathNode> children;

  const PathNode* find(std::string_view key) const noexcept {
    for (const PathNode& c : children)
      if (c.name == key) return &c;
    return nullptr;
  }
  void add(std::string_view path, Action action, const char* option) {
    if (path.empty()) usage_error("{}: empty field path", option);
    PathNode* node = this;
    while (true) {
      size_t dot = path.find('.');
      std::string_view part = path.substr(0, dot);
      if (part.empty()) usage_error("{}: bad field path '{}'", option, path);
      PathNode* child = nullptr;
      for (PathNode& c : node->children)
        if (c.name == part) child = &c;
      if (!child) {
        node->children.push_back(PathNode{std::string(part), kNone, {}});
        child = &node->children.back();
      }
      node = child;
      if (dot == std::string_view::npos) break;
      path.remove_prefix(dot + 1);
    }
    // Dropping wins over hashing: a field listed in both is never written.
    if (node->action != kDrop) node->action = action;
  }
};

class JsonRewriter {
 public:
  using Users = std::vector<const detail::UserPatterns*>;
  /// `ip_paths`: where the client address is (edx: `ip`; a JSON access log: its mapping's).
  /// `keep_syslog`: a syslog prefix before the object is kept as it is (FUN's edx lines, which
  /// the edx parser reads too). Any other text before it is rejected: it could hold a name.
  JsonRewriter(const AnonymizeOptions& o, Pseudonymizer& pseudonymizer, const std::vector<std::string>& ip_paths,
               bool keep_syslog, Scrub& scrub, const std::vector<std::string>& id_paths = {},
               const std::vector<std::string>& kept_paths = {})
      : pseudonymizer_(pseudonymizer), ip_mode_(o.ip), scrub_(scrub), owned_root_(std::make_unique<PathNode>()),
        keep_syslog_(keep_syslog), strip_prefix_(o.strip_prefix) {
    track_ = scrub.text();
    for (const auto& f : kept_paths) owned_root_->add(f, PathNode::kKeep, "--scrub");  // any other action wins
    for (const auto& f : o.hash_fields) owned_root_->add(f, PathNode::kHash, "--hash-field");
    // --audit looks at addresses whatever --ip says; --ip keep leaves them as they are.
    if (o.ip != IpMode::kKeep || o.audit)
      for (const auto& ip : ip_paths) owned_root_->add(ip, PathNode::kIp, "--ip");
    if (o.remap_ids || o.audit)
      for (const auto& id : id_paths) owned_root_->add(id, PathNode::kRemap, "--remap-ids");
    for (const auto& f : o.drop_fields) owned_root_->add(f, PathNode::kDrop, "--drop");
  }

  /// Rewrites one line: a JSON object and nothing else but whitespace (and, with keep_prefix,
  /// any text before it).
  ParseError rewrite(std::string_view line, std::string& out) {
    size_t start = 0;
    size_t first = line.find_first_not_of(" \t\r\n");  // JSON's whitespace
    if (keep_syslog_ && first != std::string_view::npos && line[first] != '{') {
      detail::PrefixParts parts;
      if (!detail::split_syslog(line, year_, parts) || !parts.message.starts_with('{'))
        return ParseError::kNotJsonObject;
      start = parts.message_begin;
    }
    std::string_view json = line.substr(start);
    inherited_users_.clear();
    ParseError e = parse(json, *owned_root_);
    if (e != ParseError::kNone) return e;
    if (!strip_prefix_) out.append(line.substr(0, start));
    edits_.apply(json, out);
    return e;
  }

 private:
  // For JSON held in a string value: shares the pseudonymiser, matches against a subtree.
  JsonRewriter(Pseudonymizer& pseudonymizer, IpMode ip_mode, Scrub& scrub)
      : pseudonymizer_(pseudonymizer), ip_mode_(ip_mode), scrub_(scrub), track_(scrub.text()) {}


  // Validates `text` as one JSON object (plus whitespace) and fills edits_ for `root`.
  ParseError parse(std::string_view text, const PathNode& root) {
    begin_ = text.data();
    p_ = begin_;
    end_ = begin_ + text.size();
    error_ = ParseError::kNone;
    edits_.clear();
    members_.clear();
    spans_.clear();
    line_users_.assign(inherited_users_.begin(), inherited_users_.end());
    skip_ws();
    if (p_ == end_ || *p_ != '{') return ParseError::kNotJsonObject;
    if (!object(root)) return error_ == ParseError::kNone ? ParseError::kBadJson : error_;
    skip_ws();
    if (p_ != end_) return ParseError::kTrailingData;
    if (!finish_spans()) return error_ == ParseError::kNone ? ParseError::kBadJson : error_;
    return ParseError::kNone;
  }

  // The strings noted while parsing, once the line's user is known (its `username` may come after
  // them): JSON held in strings on a path, and, when scrubbing, every other string value.
  bool finish_spans() {
    const Users& who = line_users_;
    for (const Span& span : spans_) {
      std::string_view raw(begin_ + span.begin + 1, span.end - span.begin - 2);
      if (span.node) {
        if (!embedded(raw, span.begin + 1, *span.node, who, span.seen)) return false;
      } else {
        if (!scrub_text(raw, span.begin + 1, span.escaped, who)) return false;
      }
    }
    return true;
  }

  // Finds personal data in the string body `raw` (at `base` in the text) and replaces it: tokens
  // for e-mails, phones and the user's names, pseudonyms for names in profile URLs. An escaped
  // string is decoded first and the matches mapped back to its bytes.
  bool scrub_text(std::string_view raw, size_t base, bool escaped, const Users& who) {
    std::string_view text = raw;
    if (escaped) {
      decoded_.clear();
      positions_.clear();
      if (!decode_with_positions(raw)) return fail();
      text = decoded_;
    }
    // Finders in edx's order; a match overlapping an earlier finder's is dropped (merge_matches).
    matches_.clear();
    auto add = [&](auto&& find) {
      more_.clear();
      find(text, more_);
      detail::merge_matches(matches_, more_);
    };
    if (scrub_.emails) add(detail::find_emails);
    if (scrub_.url_users) add(detail::find_url_users);
    // --audit of a file whose users are pseudonyms already: any user's whole full name.
    if (scrub_.audit && scrub_.users && who.empty())
      for (size_t n = scrub_.users->count_any_fullname(text, url_name_); n > 0; --n) scrub_.count(Finding::kFullname);
    for (const detail::UserPatterns* user : who)
      add([user](std::string_view t, std::vector<detail::TextMatch>& out) { user->find(t, out); });
    if (scrub_.ips) add(detail::find_ipv4);
    if (scrub_.phones) add(detail::find_phones);
    for (const detail::TextMatch& m : matches_) {
      std::string_view replacement;
      switch (m.kind) {
        case detail::TextFind::kEmail:
          scrub_.count(Finding::kEmail);
          replacement = "<<EMAIL>>";
          break;
        case detail::TextFind::kPhone:
          scrub_.count(Finding::kPhone);
          replacement = "<<PHONE_NUMBER>>";
          break;
        case detail::TextFind::kFullname:
          scrub_.count(Finding::kFullname);
          replacement = "<<FULLNAME>>";
          break;
        case detail::TextFind::kUsername:
          scrub_.count(Finding::kUsernameInText);
          replacement = "<<USERNAME>>";
          break;
        case detail::TextFind::kIpv4: {  // to its /24, as --ip truncate does
          std::string_view ip = text.substr(m.begin, m.end - m.begin);
          if (ip.ends_with(".0")) continue;
          scrub_.count(Finding::kAddress);
          url_name_.assign(ip.substr(0, ip.rfind('.')));
          url_name_ += ".0";
          replacement = url_name_;
          break;
        }
        case detail::TextFind::kUrlUser:
          url_name_.clear();
          if (!url_user(text.substr(m.begin, m.end - m.begin), scrub_, pseudonymizer_, url_name_, scratch_)) continue;
          replacement = url_name_;
          break;
      }
      size_t b = escaped ? positions_[m.begin] : m.begin, e = escaped ? positions_[m.end] : m.end;
      edits_.replace(base + b, base + e, replacement);
    }
    return true;
  }

  // A string value on a path with children, such as edx's `event` written as a JSON-encoded
  // string: when its decoded text is a complete JSON object, that object is rewritten too and
  // the edits are mapped back into the escaped text, so the rest of the string keeps its bytes
  // (its \" and \u00e9 spellings). Any other string (plain text, JSON cut at 512 characters)
  // is left as it is: there is no path to follow in it.
  // With scrubbing, a string that holds no complete object is scrubbed as text, and the inner
  // object's strings are scrubbed by the inner rewriter (for the same user).
  bool embedded(std::string_view raw, size_t base, const PathNode& node, const Users& who, uint8_t seen) {
    // Then the inner strings are scrubbed.
    const bool text = scrub_.text() && worth_scrubbing(raw, seen, !who.empty() || (scrub_.users && seen != 0));
    if (!text && !may_name(raw, node)) return true;
    decoded_.clear();
    positions_.clear();
    if (!decode_with_positions(raw)) return fail();
    if (!inner_) inner_.reset(new JsonRewriter(pseudonymizer_, ip_mode_, scrub_));
    if (depth_ + 1 >= kMaxDepth) return true;
    inner_->depth_ = depth_ + 1;
    inner_->inherited_users_.assign(who.begin(), who.end());
    // Not a complete JSON object (plain text, JSON cut short): left as it is. But an object with a
    // user field that cannot be pseudonymised rejects the line, as it would outside a string.
    if (ParseError e = inner_->parse(decoded_, node); e != ParseError::kNone) {
      if (e == ParseError::kBadField) return fail(ParseError::kBadField);
      return text ? scrub_text(raw, base, true, who) : true;
    }
    std::string& text_buffer = edits_.text();
    inner_->edits_.for_each([&](size_t b, size_t e, std::string_view replacement) {
      size_t mark = edits_.begin();
      append_json_escaped(text_buffer, replacement);
      edits_.commit(base + positions_[b], base + positions_[e], mark);
    });
    return true;
  }

  // Whether a JSON string body may hold one of the node's keys once decoded: most edX `event`
  // strings name none (decoding each cost anonymize a third of its speed once `event.username`
  // and `event.user` were hashed by default). A key's bytes appear as they are in the raw text
  // unless escaped: a `\u` escape anywhere, or a key with a character JSON escapes short (`"`,
  // `\`, `/`, controls), sends the string to the full decode.
  // A child with children of its own (event.POST.username) needs its name and one of theirs.
  // In the raw bytes of a string holding JSON, a key is written `\"key\"`: one pass over the
  // backslashes compares what follows each `\"` with the node's keys.
  static bool may_name(std::string_view raw, const PathNode& node) {
    for (const PathNode& c : node.children)
      for (unsigned char ch : c.name)
        if (ch == '"' || ch == '\\' || ch == '/' || ch < 0x20) return true;
    const char* p = raw.data();
    const char* end = p + raw.size();
    while (p < end) {
      p = static_cast<const char*>(std::memchr(p, '\\', static_cast<size_t>(end - p)));
      if (!p || p + 1 >= end) return false;
      // An escape may spell a key: `\u` here, or the inner JSON's own `\u` (written `\\u`).
      if (p[1] == 'u' || (p[1] == '\\' && p + 2 < end && p[2] == 'u')) return true;
      if (p[1] != '"') {
        p += 2;
        continue;
      }
      std::string_view rest(p + 2, static_cast<size_t>(end - p - 2));
      for (const PathNode& c : node.children)
        if (rest.size() > c.name.size() + 1 && rest[0] == c.name[0] && rest.starts_with(c.name) && rest[c.name.size()] == '\\' &&
            rest[c.name.size() + 1] == '"' &&
            (c.children.empty() || c.action != PathNode::kNone || may_name(raw, c)))
          return true;
      p += 2;
    }
    return false;
  }

  // Whether a string body may hold what the scrubbing finds, judged on its raw bytes: most values
  // (times, ids, course keys, event names) hold no '@' and no profile URL, and are then not
  // decoded or matched at all (it kept the default mode within the speed budget). A `\u`
  // or `\/` escape may hide one: such a string is looked at. Phones and user names are looked
  // for in every string.
  //
  // Then the finders run on the raw bytes: an e-mail or a profile URL is found there whenever it is
  // in the decoded text (no escape is part of one, and a `\u` or `\/` escape was sent on above),
  // so when the raw bytes hold none the string is not decoded: edX block keys
  // (`block-v1:...+type@problem+block@...`) put an '@' in most lines.
  //
  // `names`: whether user names may be looked for in it (then every string is looked at).
  bool worth_scrubbing(std::string_view raw, uint8_t seen, bool names) noexcept {
    if (scrub_.phones || scrub_.ips || names) return true;
    if (seen == 0) return false;
    if (seen & kSeenHidden) return true;  // a `\u` or `\/` escape may hide one
    more_.clear();
    if (scrub_.emails && (seen & kSeenAt)) detail::find_emails(raw, more_);
    if (scrub_.url_users && (seen & kSeenSlashU) && more_.empty()) detail::find_url_users(raw, more_);
    return !more_.empty();
  }

  // Decodes a JSON string body into decoded_, with positions_[i] = offset in `raw` of the
  // character that decoded byte i belongs to (plus one entry for the end).
  bool decode_with_positions(std::string_view raw) {
    size_t i = 0;
    while (i < raw.size()) {
      size_t start = i;
      if (raw[i] != '\\') {
        decoded_ += raw[i++];
        positions_.push_back(static_cast<uint32_t>(start));
        continue;
      }
      // One escape (two for a surrogate pair) decoded on its own, every byte mapped to it.
      size_t len = 2;
      if (i + 1 < raw.size() && raw[i + 1] == 'u') {
        len = 6;
        uint32_t cp = 0, low = 0;
        if (i + 12 <= raw.size() && detail::read_hex4(raw.data() + i + 2, cp) && cp >= 0xD800 &&
            cp < 0xDC00 && raw[i + 6] == '\\' && raw[i + 7] == 'u' &&
            detail::read_hex4(raw.data() + i + 8, low) && low >= 0xDC00 && low < 0xE000)
          len = 12;
      }
      if (i + len > raw.size()) return false;
      size_t before = decoded_.size();
      if (!detail::json_unescape(raw.substr(i, len), decoded_)) return false;
      positions_.insert(positions_.end(), decoded_.size() - before, static_cast<uint32_t>(start));
      i += len;
    }
    positions_.push_back(static_cast<uint32_t>(raw.size()));
    return true;
  }

  static void append_json_escaped(std::string& out, std::string_view s) {
    for (char c : s) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x",
                      static_cast<unsigned>(static_cast<unsigned char>(c)));
        out += buf;
      } else {
        out += c;
      }
    }
  }

  struct Member {
    uint32_t key_begin, value_end;
    bool dropped;
  };
  static constexpr size_t kMaxDepth = 1024;

  bool fail(ParseError e = ParseError::kBadJson) {
    if (error_ == ParseError::kNone) error_ = e;
    return false;
  }
  size_t offset(const char* p) const noexcept { return static_cast<size_t>(p - begin_); }

  void skip_ws() noexcept {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  // A string starting at p_ (on its quote); p_ ends after the closing quote. `escaped` tells
  // whether it holds backslash escapes. Control characters are refused, as json.loads does.
  //
  // While scrubbing (track_), it also notes in `seen_` whether the string may hold an '@' or a
  // "/u" (bytes of the last 16-byte block after the closing quote may count: worth_scrubbing decides),
  // so that strings without either are not scanned a second time.
  bool string(bool& escaped) {
    escaped = false;
    ++p_;
    seen_ = 0;
    for (;;) {
#ifdef __SSE2__
      const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'),
                    control = _mm_set1_epi8(0x1f), at = _mm_set1_epi8('@'), slash = _mm_set1_epi8('/'),
                    letter_u = _mm_set1_epi8('u');
      while (end_ - p_ >= 16) {
        __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p_));
        __m128i special =
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
                         _mm_cmpeq_epi8(_mm_max_epu8(x, control), control));
        if (track_) {  // '@', or '/' before a 'u' (a '/' at the block's end counts)
          unsigned u = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, letter_u)));
          if (_mm_movemask_epi8(_mm_cmpeq_epi8(x, at)) != 0) seen_ |= kSeenAt;
          if ((_mm_movemask_epi8(_mm_cmpeq_epi8(x, slash)) & static_cast<int>((u >> 1) | 0x8000u)) != 0)
            seen_ |= kSeenSlashU;
        }
        int mask = _mm_movemask_epi8(special);
        if (mask != 0) {
          p_ += __builtin_ctz(static_cast<unsigned>(mask));
          break;
        }
        p_ += 16;
      }
#endif
      while (p_ < end_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20) {
        if (*p_ == '@') seen_ |= kSeenAt;
        if (*p_ == '/' && (p_ + 1 == end_ || p_[1] == 'u')) seen_ |= kSeenSlashU;
        ++p_;
      }
      if (p_ >= end_) return fail();
      char c = *p_;
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c != '\\') return fail();  // raw control character
      escaped = true;
      if (end_ - p_ < 2) return fail();
      switch (p_[1]) {
        case '/':
          seen_ |= kSeenHidden;  // `\/` may be part of a profile URL
          p_ += 2;
          break;
        case '"':
        case '\\':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          p_ += 2;
          break;
        case 'u': {
          uint32_t cp;
          if (end_ - p_ < 6 || !detail::read_hex4(p_ + 2, cp)) return fail();
          seen_ |= kSeenHidden;  // may spell an '@' or a '/'
          p_ += 6;
          break;
        }
        default:
          return fail();
      }
    }
  }

  static bool digit(char c) noexcept { return c >= '0' && c <= '9'; }

  // A number as json.loads accepts it, including Python's NaN, Infinity and -Infinity.
  bool number() {
    if (*p_ == '-') ++p_;
    if (p_ < end_ && *p_ == 'I') return word("Infinity");
    if (p_ >= end_ || !digit(*p_)) return fail();
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ < end_ && digit(*p_)) ++p_;
    }
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (p_ >= end_ || !digit(*p_)) return fail();
      while (p_ < end_ && digit(*p_)) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ >= end_ || !digit(*p_)) return fail();
      while (p_ < end_ && digit(*p_)) ++p_;
    }
    return true;
  }

  bool word(std::string_view w) {
    if (static_cast<size_t>(end_ - p_) < w.size() || std::memcmp(p_, w.data(), w.size()) != 0)
      return fail();
    p_ += w.size();
    return true;
  }

  // One scalar value at p_ (not an object or array).
  bool scalar() {
    bool escaped;
    switch (*p_) {
      case '"': {
        const char* start = p_;
        if (!string(escaped)) return false;
        // The line's users are not known yet (its username may come later): names may apply.
        if (collect_ && track_ &&
            worth_scrubbing(std::string_view(start + 1, static_cast<size_t>(p_ - start - 2)), seen_,
                            scrub_.users != nullptr))
          spans_.push_back(Span{static_cast<uint32_t>(offset(start)), static_cast<uint32_t>(offset(p_)), nullptr,
                                escaped, kSeenAt | kSeenSlashU});
        return true;
      }
      case 't':
        return word("true");
      case 'f':
        return word("false");
      case 'n':
        return word("null");
      case 'N':
        return word("NaN");
      default:
        return number();
    }
  }

  // Skips (and validates) any value, iteratively so that deep nesting cannot overflow the stack.
  bool skip_value() {
    char stack[kMaxDepth];
    size_t depth = 0;
    bool escaped;
    for (;;) {
      // Expecting a value.
      skip_ws();
      if (p_ >= end_) return fail();
      char c = *p_;
      if (c == '{' || c == '[') {
        ++p_;
        skip_ws();
        if (p_ < end_ && *p_ == (c == '{' ? '}' : ']')) {
          ++p_;
        } else {
          if (depth == kMaxDepth) return fail();
          stack[depth++] = c;
          if (c == '{') {
            if (p_ >= end_ || *p_ != '"' || !string(escaped)) return fail();
            skip_ws();
            if (p_ >= end_ || *p_ != ':') return fail();
            ++p_;
          }
          continue;
        }
      } else if (!scalar()) {
        return false;
      }
      // After a value: close containers or move to the next element.
      for (;;) {
        if (depth == 0) return true;
        skip_ws();
        if (p_ >= end_) return fail();
        char top = stack[depth - 1];
        if (*p_ == ',') {
          ++p_;
          if (top == '{') {
            skip_ws();
            if (p_ >= end_ || *p_ != '"' || !string(escaped)) return fail();
            skip_ws();
            if (p_ >= end_ || *p_ != ':') return fail();
            ++p_;
          }
          break;
        }
        if (*p_ != (top == '{' ? '}' : ']')) return fail();
        ++p_;
        --depth;
      }
    }
  }

  // Rewrites the value at p_ of a member marked kHash or kIp: a string is replaced by the hex HMAC
  // (or the truncated address), a number by the hex HMAC of its text as a string; null and ""
  // stay; an array of those (a Django form field: `"username": ["bob"]` in edx's POST data) is
  // rewritten element by element. Anything else is refused: it cannot be pseudonymised and might
  // hold the name.
  bool pseudonymise(const PathNode& node) {
    if (node.action == PathNode::kRemap) return remap();
    if (*p_ != '[') return pseudonymise_one(node);
    ++p_;
    skip_ws();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    for (;;) {
      if (p_ >= end_) return fail();
      if (*p_ == '[' || *p_ == '{') return fail(ParseError::kBadField);
      if (!pseudonymise_one(node)) return false;
      skip_ws();
      if (p_ >= end_) return fail();
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      if (*p_ != ',') return fail();
      ++p_;
      skip_ws();
    }
  }

  // Reads the scalar at p_ of a user, address or id member: kRewrite with its decoded text (a
  // string's content, a number as written), kKeep for null and "" (nothing to rewrite), kFailed
  // for a bad value or another type (it cannot be pseudonymised and might hold the name).
  enum class Field : uint8_t { kRewrite, kKeep, kFailed };
  Field field_value(std::string_view& value) {
    const char* start = p_;
    if (*p_ == '"') {
      bool escaped;
      if (!string(escaped)) return Field::kFailed;
      value = std::string_view(start + 1, static_cast<size_t>(p_ - start - 2));
      if (escaped) {
        scratch_.clear();
        if (!detail::json_unescape(value, scratch_)) return fail(), Field::kFailed;
        value = scratch_;
      }
      return value.empty() ? Field::kKeep : Field::kRewrite;
    }
    if (*p_ == 'n') return word("null") ? Field::kKeep : Field::kFailed;
    if (*p_ == '-' || digit(*p_)) {
      if (!number()) return Field::kFailed;
      value = std::string_view(start, static_cast<size_t>(p_ - start));
      return Field::kRewrite;
    }
    fail(ParseError::kBadField);
    return Field::kFailed;
  }

  bool pseudonymise_one(const PathNode& node) {
    const PathNode::Action action = node.action;
    const char* start = p_;
    std::string_view value;
    if (Field f = field_value(value); f != Field::kRewrite) return f == Field::kKeep;
    // The users the line names, for --user-info (a sign-up's POST names the new user).
    if (scrub_.users && action == PathNode::kHash && line_users_.size() < kMaxLineUsers)
      if (const detail::UserPatterns* u = scrub_.users->find(value);
          u && std::find(line_users_.begin(), line_users_.end(), u) == line_users_.end())
        line_users_.push_back(u);
    if (scrub_.audit) {
      if (action == PathNode::kIp) {
        if (raw_address(value, url_name_)) scrub_.count(Finding::kAddress);
      } else if (!detail::is_pseudonym(value)) {
        scrub_.count(Finding::kUserField);
      }
    }
    std::string& text = edits_.text();
    size_t mark = edits_.begin();
    text += '"';
    if (!(action == PathNode::kIp && ip_mode_ == IpMode::kTruncate &&
          truncate_ip(value, text)))
      text.append(pseudonymizer_.hex(value));
    text += '"';
    edits_.commit(offset(start), offset(p_), mark);
    return true;
  }

  // --remap-ids: a user id that is a whole number (or a string of digits) becomes its image under
  // the keyed permutation, in the same type; another string is hashed; null and "" stay.
  bool remap() {
    const char* start = p_;
    const bool quoted = *p_ == '"';
    std::string_view value;
    if (Field f = field_value(value); f != Field::kRewrite) return f == Field::kKeep;
    scrub_.count(Finding::kUserId);
    if (!scrub_.remap_ids) return true;  // --audit alone
    std::string& text = edits_.text();
    size_t mark = edits_.begin();
    if (uint64_t id; whole_id(value, id)) {
      if (quoted) text += '"';
      fmt::format_to(std::back_inserter(text), "{}", scrub_.remapper->remap(id));
      if (quoted) text += '"';
    } else {  // not a plain id (`-1`, `1.5`, `abc`): pseudonymised as a string
      text += '"';
      text.append(pseudonymizer_.hex(value));
      text += '"';
    }
    edits_.commit(offset(start), offset(p_), mark);
    return true;
  }

  // An object on a configured path: members are matched against the node's children.
  bool object(const PathNode& node) {
    ++p_;  // '{'
    skip_ws();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    size_t first_member = members_.size();
    bool any_dropped = false;
    for (;;) {
      if (p_ >= end_ || *p_ != '"') return fail();
      const char* key_begin = p_;
      bool escaped;
      if (!string(escaped)) return false;
      std::string_view key(key_begin + 1, static_cast<size_t>(p_ - key_begin - 2));
      if (escaped) {
        key_scratch_.clear();
        if (!detail::json_unescape(key, key_scratch_)) return fail();
        key = key_scratch_;
      }
      const PathNode* child = node.find(key);
      skip_ws();
      if (p_ >= end_ || *p_ != ':') return fail();
      ++p_;
      skip_ws();
      if (p_ >= end_) return fail();
      bool dropped = false;
      if (!child) {
        if (!skip_value()) return false;
      } else if (child->action == PathNode::kDrop || child->action == PathNode::kKeep) {
        bool collect = collect_;
        collect_ = false;  // nothing inside a removed or kept member is edited
        bool ok = skip_value();
        collect_ = collect;
        if (!ok) return false;
        if (child->action == PathNode::kDrop) {
          scrub_.count(Finding::kPersonalMember);
          dropped = any_dropped = true;
        }
      } else if (child->action != PathNode::kNone) {
        // Hashing the member itself wins over paths below it (`--hash-field event` with the
        // default event.username): an object here cannot be pseudonymised and rejects the line.
        if (!pseudonymise(*child)) return false;
      } else if (*p_ == '{' && !child->children.empty()) {
        if (depth_ + 1 >= kMaxDepth) return fail();
        ++depth_;
        bool ok = object(*child);
        --depth_;
        if (!ok) return false;
      } else if (*p_ == '"' && !child->children.empty()) {
        // JSON in a string (edx's `event`): rewritten once the line's user is known.
        const char* start = p_;
        bool escaped;
        if (!string(escaped)) return false;
        if (collect_)
          spans_.push_back(Span{static_cast<uint32_t>(offset(start)), static_cast<uint32_t>(offset(p_)), child,
                                escaped, seen_});
      } else {
        if (!skip_value()) return false;
      }
      members_.push_back(Member{static_cast<uint32_t>(offset(key_begin)),
                                static_cast<uint32_t>(offset(p_)), dropped});
      skip_ws();
      if (p_ >= end_) return fail();
      if (*p_ == ',') {
        ++p_;
        skip_ws();
        continue;
      }
      if (*p_ != '}') return fail();
      ++p_;
      break;
    }
    if (any_dropped) remove_dropped(first_member);
    members_.resize(first_member);
    return true;
  }

  // Removes dropped members so that the object stays valid JSON and kept bytes stay in place.
  // The output keeps: the bytes before the first member; each kept member followed by the
  // separator that followed it in the input (`, `), except the last kept one; then the bytes
  // between the last member and `}`. So a dropped member takes the separator after it, and a
  // dropped last member the separator before it: {"a": 1, "email": "x", "b": 2} -> {"a": 1, "b":
  // 2}.
  void remove_dropped(size_t first) {
    size_t n = members_.size();
    size_t cursor = members_[first].key_begin;
    size_t last_kept = SIZE_MAX;
    for (size_t i = first; i < n; ++i)
      if (!members_[i].dropped) last_kept = i;
    for (size_t i = first; i < n; ++i) {
      const Member& m = members_[i];
      if (m.dropped) continue;
      if (m.key_begin > cursor) edits_.remove(cursor, m.key_begin);
      cursor = (i == last_kept) ? m.value_end : members_[i + 1].key_begin;
    }
    size_t tail = members_[n - 1].value_end;
    if (tail > cursor) edits_.remove(cursor, tail);
  }

  Pseudonymizer& pseudonymizer_;
  IpMode ip_mode_;
  Scrub& scrub_;
  struct Span {  // a string value: [begin, end) with its quotes
    uint32_t begin, end;
    const PathNode* node;  // a path continues into it (JSON in a string), else free text
    bool escaped;
    uint8_t seen;  // what string() saw (seen_)
  };
  std::vector<Span> spans_;
  bool collect_ = true;  // false inside a dropped member
  bool track_ = false;   // scrub_.text(): string() notes '@' and '/' in seen_
  // What string() saw in the last string, while scrubbing.
  static constexpr uint8_t kSeenAt = 1, kSeenSlashU = 2, kSeenHidden = 4;
  uint8_t seen_ = 0;
  // --user-info: the users the line names (its hashed fields), whose names are scrubbed from its
  // text; JSON in a string inherits those of the line around it.
  static constexpr size_t kMaxLineUsers = 8;
  std::vector<const detail::UserPatterns*> line_users_, inherited_users_;
  std::vector<detail::TextMatch> matches_, more_;
  std::string url_name_;
  std::unique_ptr<PathNode> owned_root_;  // the outermost rewriter owns the path tree
  bool keep_syslog_ = false;
  bool strip_prefix_ = false;  // --prefix strip: the syslog prefix is not written
  detail::SyslogYear year_ = detail::SyslogYear::now();
  std::unique_ptr<JsonRewriter> inner_;   // for JSON inside strings, created on first use
  std::string decoded_;
  std::vector<uint32_t> positions_;
  const char* begin_ = nullptr;
  const char* p_ = nullptr;
  const char* end_ = nullptr;
  size_t depth_ = 0;
  ParseError error_ = ParseError::kNone;
  EditList edits_;
  std::vector<Member> members_;
  std::string scratch_, key_scratch_;
};

// ---------------------------------------------------------------------------------------------
// Access logs.

/// Rewrites the %u user, the cookie `user = NAME` and the client field of access-log lines. The
/// core parser decides whether a line is valid; the byte ranges come from the same tokenisation
/// as the core parser (common/combined/clickstream), or from parsers of rewritten LogFormat
/// strings whose record views point into the line (logformat:).
class AccessRewriter {
 public:
  AccessRewriter(const AnonymizeOptions& o, Pseudonymizer& pseudonymizer, Scrub& scrub)
      : pseudonymizer_(pseudonymizer), ip_mode_(o.ip), scrub_(scrub), parser_(make_parser(o.format)) {
    // nginx log_format strings are Apache LogFormat strings in other words (logformat.cc).
    std::string apache;
    std::string_view format = o.format;
    if (format.starts_with("nginxformat:")) apache = detail::nginx_to_logformat(format.substr(12));
    else if (format.starts_with("logformat:") && detail::looks_like_nginx_format(format.substr(10)))
      apache = detail::nginx_to_logformat(format.substr(10));
    else if (format.starts_with("logformat:")) apache = detail::logformat_string(format.substr(10));
    else if (detail::looks_like_nginx_format(format) && format != "applog" && !format.starts_with("fields:"))
      apache = detail::nginx_to_logformat(format);
    if (!apache.empty()) {
      std::string_view f = apache;
      logformat_ = true;
      // %u alone (cookie ignored): record.user is the %u field.
      user_parser_ = make_parser("logformat:" + rewrite_directives(f, false));
      // The client field read as %u: record.user is the whole (unsplit) client field.
      host_parser_ = make_parser("logformat:" + rewrite_directives(f, true));
    } else if (format.starts_with("fields:") || format == "applog") {
      // Named fields: the record's views point into the line; --hash-field names more fields.
      fields_ = true;
      for (const auto& f : o.hash_fields)
        if (f != "username" && f != "user") extra_hashed_.push_back(f);
    }
  }

  ParseError rewrite(std::string_view line, std::string& out) {
    ParseError e = parser_->parse(line, record_);
    if (e != ParseError::kNone) return e;
    edits_.clear();
    if (logformat_) {
      if (!locate_logformat(line)) return ParseError::kBadField;
    } else if (fields_) {
      locate_fields(line);
    } else {
      locate_builtin(detail::trim_right(line));
    }
    if (scrub_.url_users) {  // /u/NAME in the request path and the referer
      rewrite_url_users(line, record_.url);
      rewrite_url_users(line, record_.referer);
    }
    edits_.apply(line, out);
    return ParseError::kNone;
  }

 private:
  // Replaces directives of a LogFormat string: the cookie becomes an ignored header; with
  // `host_as_user`, %h/%a become %u and %u becomes %l.
  static std::string rewrite_directives(std::string_view f, bool host_as_user) {
    std::string out;
    for (size_t i = 0; i < f.size(); ++i) {
      if (f[i] == '\\' && i + 1 < f.size()) {
        out += f[i];
        out += f[++i];
        continue;
      }
      if (f[i] != '%') {
        out += f[i];
        continue;
      }
      size_t start = i++;
      if (i < f.size() && f[i] == '%') {
        out += "%%";
        continue;
      }
      std::string_view arg;
      if (!detail::scan_directive(f, i, arg)) return std::string(f);  // make_parser reports it
      if (i >= f.size()) return std::string(f);
      char d = f[i];
      std::string lower;
      for (char c : arg) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      if (d == 'i' && lower == "cookie") {
        out += "%{X-Logpipe-Ignored}i";
      } else if (host_as_user && (d == 'h' || d == 'a')) {
        out += "%u";
      } else if (host_as_user && d == 'u') {
        out += "%l";
      } else {
        out.append(f.substr(start, i - start + 1));
      }
    }
    return out;
  }

  bool inside(std::string_view line, std::string_view v) const noexcept {
    return !v.empty() && v.data() >= line.data() &&
           v.data() + v.size() <= line.data() + line.size();
  }

  void hash_user(std::string_view line, std::string_view user) {
    if (keep_user(user) || !inside(line, user)) return;
    if (scrub_.audit && !detail::is_pseudonym(user)) scrub_.count(Finding::kUserField);
    size_t b = static_cast<size_t>(user.data() - line.data());
    edits_.replace(b, b + user.size(), pseudonymizer_.hex(user));
  }

  // Rewrites each address of a client field (`1.2.3.4`, or a list `a, b` / `"a, b" c`).
  // --audit counts the addresses that are neither truncated nor hashed.
  void rewrite_hosts(std::string_view line, size_t begin, size_t end) {
    if (ip_mode_ == IpMode::kKeep && !scrub_.audit) return;
    size_t i = begin;
    while (i < end) {
      while (i < end && (line[i] == ' ' || line[i] == ',' || line[i] == '"')) ++i;
      size_t j = i;
      while (j < end && line[j] != ' ' && line[j] != ',' && line[j] != '"') ++j;
      if (j > i) {
        std::string_view item = line.substr(i, j - i);
        if (item != "-" && scrub_.audit && raw_address(item, truncated_)) scrub_.count(Finding::kAddress);
        if (item != "-" && ip_mode_ != IpMode::kKeep) {
          std::string& text = edits_.text();
          size_t mark = edits_.begin();
          if (!(ip_mode_ == IpMode::kTruncate && truncate_ip(item, text)))
            text.append(pseudonymizer_.hex(item));
          edits_.commit(i, j, mark);
        }
      }
      i = j;
    }
  }

  // The NAME of /u/NAME and /users/NAME in a URL of the record (a view into the line): its
  // pseudonym, the same as the user field's; a numeric one is a user id (--remap-ids).
  void rewrite_url_users(std::string_view line, std::string_view url) {
    if (!inside(line, url)) return;
    matches_.clear();
    detail::find_url_users(url, matches_);
    const size_t base = static_cast<size_t>(url.data() - line.data());
    for (const detail::TextMatch& m : matches_) {
      std::string& text = edits_.text();
      size_t mark = edits_.begin();
      if (!url_user(url.substr(m.begin, m.end - m.begin), scrub_, pseudonymizer_, text, name_)) continue;
      edits_.commit(base + m.begin, base + m.end, mark);
    }
  }

  // Cookie `user = NAME; PHPSESSID=ID`: hashes the value of every `user` pair.
  void rewrite_cookie(std::string_view line, size_t begin, size_t end) {
    size_t i = begin;
    while (i < end) {
      size_t semi = line.find(';', i);
      if (semi == std::string_view::npos || semi > end) semi = end;
      size_t eq = line.find('=', i);
      if (eq != std::string_view::npos && eq < semi) {
        size_t kb = i, ke = eq, vb = eq + 1, ve = semi;
        while (kb < ke && line[kb] == ' ') ++kb;
        while (ke > kb && line[ke - 1] == ' ') --ke;
        while (vb < ve && line[vb] == ' ') ++vb;
        while (ve > vb && line[ve - 1] == ' ') --ve;
        if (line.substr(kb, ke - kb) == "user") hash_user(line, line.substr(vb, ve - vb));
      }
      i = semi + 1;
    }
  }

  // The tokenisation of AccessLogParser (formats.cc): spaces separate fields, "..." (with
  // backslash escapes) and the first [...] are single fields; the time field anchors the layout.
  void locate_builtin(std::string_view line) {
    struct Token {
      size_t begin, end;
    };
    std::array<Token, 48> tokens;
    size_t count = 0, time_index = SIZE_MAX, pos = 0, n = line.size();
    while (pos < n && count < tokens.size()) {
      while (pos < n && line[pos] == ' ') ++pos;
      if (pos >= n) break;
      size_t start = pos;
      char c = line[pos];
      if (c == '"') {
        size_t q = detail::find_closing_quote(line, pos + 1);
        pos = q == std::string_view::npos ? n : q + 1;
      } else if (c == '[' && time_index == SIZE_MAX) {
        size_t close = line.find(']', pos);
        pos = close == std::string_view::npos ? n : close + 1;
        time_index = count;
      } else {
        size_t sp = line.find(' ', pos);
        pos = sp == std::string_view::npos ? n : sp;
      }
      tokens[count++] = Token{start, pos};
    }
    if (time_index == SIZE_MAX) time_index = 3;        // the all-dash form `- - - - - - -`
    if (time_index < 3 || count < time_index) return;  // the parser accepted it: cannot happen
    rewrite_hosts(line, tokens[0].begin, tokens[time_index - 3].end);
    Token user = tokens[time_index - 1];
    if (line[user.begin] == '"' && user.end - user.begin >= 2) ++user.begin, --user.end;
    hash_user(line, line.substr(user.begin, user.end - user.begin));
    // Quoted fields after referer and agent holding a `=`: the clickstream cookie.
    for (size_t i = time_index + 6; i < count; ++i) {
      if (line[tokens[i].begin] != '"') continue;
      size_t b = tokens[i].begin + 1, e = tokens[i].end - 1;
      if (line.substr(b, e - b).find('=') != std::string_view::npos) rewrite_cookie(line, b, e);
    }
  }

  // fields: the user and client are record views into the line; extra fields named by
  // --hash-field are hashed like users. Values are single tokens (no lists).
  void locate_fields(std::string_view line) {
    hash_user(line, record_.user);
    if (inside(line, record_.ip)) {
      size_t b = static_cast<size_t>(record_.ip.data() - line.data());
      rewrite_hosts(line, b, b + record_.ip.size());
    }
    for (const auto& wanted : extra_hashed_) {
      std::string_view named = record_field(wanted);
      if (!named.empty()) hash_user(line, named);
      for (const auto& [name, value] : record_.extra)
        if (name == wanted) hash_user(line, value);
    }
  }

  // The record field a fields: name fills (fields.cc names), empty for other names.
  std::string_view record_field(std::string_view name) const noexcept {
    if (name == "session") return record_.session;
    if (name == "ident") return record_.ident;
    if (name == "host") return record_.host;
    if (name == "referer" || name == "referrer") return record_.referer;
    if (name == "agent" || name == "user_agent") return record_.agent;
    if (name == "url" || name == "path") return record_.url;
    if (name == "course_id") return record_.course_id;
    if (name == "event_type") return record_.event_type;
    return {};
  }

  bool locate_logformat(std::string_view line) {
    // record_.user is the cookie user when the format has a cookie, else the %u field.
    std::string_view main_user = record_.user;
    if (user_parser_->parse(line, user_record_) != ParseError::kNone) return false;
    if (host_parser_->parse(line, host_record_) != ParseError::kNone) return false;
    hash_user(line, user_record_.user);
    if (main_user.data() != user_record_.user.data()) hash_user(line, main_user);
    std::string_view host = host_record_.user;
    if (inside(line, host)) {
      size_t b = static_cast<size_t>(host.data() - line.data());
      rewrite_hosts(line, b, b + host.size());
    }
    return true;
  }

  Pseudonymizer& pseudonymizer_;
  IpMode ip_mode_;
  Scrub& scrub_;
  std::string truncated_, name_;  // scratch
  std::vector<detail::TextMatch> matches_;
  std::unique_ptr<Parser> parser_, user_parser_, host_parser_;
  bool logformat_ = false;
  bool fields_ = false;
  std::vector<std::string> extra_hashed_;
  Record record_, user_record_, host_record_;
  EditList edits_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

// A prefixed format (`syslog+edx`, `docker+combined`) rewrites the message behind the prefix with
// the anonymizer of the inner format and keeps the prefix's bytes; Docker's `log` string is decoded,
// rewritten and encoded again, the rest of its JSON kept.
class UserInfo {
 public:
  detail::UserTable table;
};

std::shared_ptr<const UserInfo> parse_user_info(std::string_view csv, const std::string& name) {
  auto info = std::make_shared<UserInfo>();
  info->table = detail::UserTable::parse(csv, name);
  return info;
}

size_t user_info_size(const UserInfo& info) noexcept { return info.table.size(); }

std::string_view finding_label(Finding f) noexcept {
  switch (f) {
    case Finding::kUserField: return "user field in clear";
    case Finding::kUrlUser: return "user name in a URL";
    case Finding::kEmail: return "e-mail address";
    case Finding::kPhone: return "phone number";
    case Finding::kFullname: return "full name (--user-info)";
    case Finding::kUsernameInText: return "username in text (--user-info)";
    case Finding::kAddress: return "client address";
    case Finding::kPersonalMember: return "personal member";
    case Finding::kUserId: return "user id (cannot be told from a remapped one)";
  }
  return "?";
}

struct Anonymizer::Impl {
  std::string format;
  Pseudonymizer pseudonymizer;
  detail::IdRemapper remapper;
  std::shared_ptr<const UserInfo> users;  // kept alive for scrub.users
  Scrub scrub;
  std::unique_ptr<JsonRewriter> json;
  std::unique_ptr<AccessRewriter> access;
  detail::LinePrefix prefix = detail::LinePrefix::kNone;
  std::unique_ptr<Anonymizer> inner;
  std::unique_ptr<detail::DockerLineReader> docker;
  detail::SyslogYear year = detail::SyslogYear::now();
  std::string message_out;
  bool strip_prefix;
  explicit Impl(const AnonymizeOptions& o)
      : format(o.format), pseudonymizer(o.key), remapper(o.key), users(o.users), strip_prefix(o.strip_prefix) {
    // --audit looks for everything that --profile share would rewrite.
    scrub.emails = o.scrub_emails || o.audit;
    scrub.phones = o.scrub_phones || o.audit;
    scrub.url_users = o.scrub_url_users || o.audit;
    scrub.ips = o.scrub_ips || o.audit;
    scrub.remap_ids = o.remap_ids;
    scrub.audit = o.audit;
    scrub.users = users ? &users->table : nullptr;
    scrub.remapper = &remapper;
  }
};

Anonymizer::Anonymizer(const AnonymizeOptions& o) {
  if (o.key.empty())
    usage_error("the HMAC key is empty: refusing to pseudonymise with an empty key");
  if (o.format == "auto") usage_error("anonymize: the format must be resolved before rewriting");
  impl_ = std::make_unique<Impl>(o);
  size_t prefix_length = 0;
  impl_->prefix = detail::format_prefix(o.format, prefix_length);
  if (impl_->prefix != detail::LinePrefix::kNone) {
    AnonymizeOptions inner = o;
    inner.format = o.format.substr(prefix_length);
    impl_->inner = std::make_unique<Anonymizer>(inner);
    if (impl_->prefix == detail::LinePrefix::kDocker) impl_->docker = std::make_unique<detail::DockerLineReader>();
    return;
  }
  const bool json_access = o.format == "json" || o.format.starts_with("json:");
  if (o.format == "edx") {
    AnonymizeOptions edx = o;  // a path given twice is one node of the path tree (PathNode::add)
    edx.hash_fields.insert(edx.hash_fields.end(), std::begin(kDefaultEdxHashFields), std::end(kDefaultEdxHashFields));
    impl_->json = std::make_unique<JsonRewriter>(
        edx, impl_->pseudonymizer, std::vector<std::string>(std::begin(kEdxIpFields), std::end(kEdxIpFields)), true,
        impl_->scrub, std::vector<std::string>(std::begin(kEdxUserIdFields), std::end(kEdxUserIdFields)),
        std::vector<std::string>(std::begin(kEdxKeptFields), std::end(kEdxKeptFields)));
  } else if (json_access) {
    // The user and the client are wherever the mapping reads them from; --hash-field adds paths.
    std::vector<std::string> users, ips;
    detail::json_mapping_paths(o.format == "json" ? std::string_view{} : std::string_view(o.format).substr(5), users,
                               ips);
    AnonymizeOptions mapped = o;
    mapped.hash_fields = users;
    for (const auto& f : o.hash_fields)
      if (f != "username") mapped.hash_fields.push_back(f);
    impl_->json = std::make_unique<JsonRewriter>(mapped, impl_->pseudonymizer, ips, false, impl_->scrub);
  } else {
    bool custom_hash = !(o.hash_fields.size() == 1 && o.hash_fields[0] == "username");
    if (custom_hash && !o.hash_fields.empty() && !o.format.starts_with("fields:") && o.format != "applog")
      usage_error("--hash-field applies to edx, json and fields: formats only (format is {})", o.format);
    impl_->access = std::make_unique<AccessRewriter>(o, impl_->pseudonymizer, impl_->scrub);
  }
}

Anonymizer::~Anonymizer() = default;

const std::string& Anonymizer::format() const noexcept { return impl_->format; }

const std::array<uint32_t, kFindingKinds>& Anonymizer::findings() const noexcept {
  return impl_->inner ? impl_->inner->findings() : impl_->scrub.found;
}

ParseError Anonymizer::rewrite(std::string_view line, std::string& out) {
  if (line.size() >= (1u << 31)) return ParseError::kTrailingData;  // offsets are 32-bit
  if (impl_->scrub.audit) impl_->scrub.found.fill(0);
  if (impl_->inner) {
    Impl& m = *impl_;
    detail::PrefixParts parts;
    if (m.prefix == detail::LinePrefix::kDocker) {
      if (ParseError e = m.docker->read(line, parts); e != ParseError::kNone) return e;
    } else if (!(m.prefix == detail::LinePrefix::kSyslog ? detail::split_syslog(line, m.year, parts)
                                                           : detail::split_cri(line, parts))) {
      return ParseError::kBadPrefix;
    }
    if (parts.partial) return ParseError::kPartialLine;
    m.message_out.clear();
    if (ParseError e = m.inner->rewrite(parts.message, m.message_out); e != ParseError::kNone) return e;
    if (m.strip_prefix) {
      out.append(m.message_out);  // the message alone (a Docker `log` string decoded)
      return ParseError::kNone;
    }
    out.append(line.substr(0, parts.message_begin));
    if (!parts.decoded) {
      out.append(m.message_out);
    } else {
      if (parts.had_newline) m.message_out += '\n';
      append_json_string(out, m.message_out);
      out.append(line.substr(parts.message_end));
    }
    return ParseError::kNone;
  }
  return impl_->json ? impl_->json->rewrite(line, out) : impl_->access->rewrite(line, out);
}

// ---------------------------------------------------------------------------------------------
// The driver.

namespace {

// 1 MB: large enough that thread hand-offs cost nothing, small enough that the first touch of
// the buffers (page faults are expensive on the VMs we run on) stays negligible.
constexpr size_t kBlockSize = 1 << 20;

/// A growable byte buffer that is never zero-filled (std::string::resize would write every byte of
/// each 4 MB block once more) and keeps its memory from block to block.
class ByteBuffer {
 public:
  char* data() noexcept { return data_.get(); }
  std::string_view view() const noexcept { return {data_.get(), size_}; }
  size_t size() const noexcept { return size_; }
  void clear() noexcept { size_ = 0; }
  /// Makes room for n more bytes after size() and returns where they go.
  char* reserve_more(size_t n) {
    if (size_ + n > capacity_) {
      size_t capacity = std::max(size_ + n, capacity_ * 2);
      auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
      if (size_) std::memcpy(bigger.get(), data_.get(), size_);
      data_ = std::move(bigger);
      capacity_ = capacity;
    }
    return data_.get() + size_;
  }
  void grow(size_t n) noexcept { size_ += n; }
  void resize_down(size_t n) noexcept { size_ = n; }
  void assign(std::string_view s) {
    size_ = 0;
    if (s.empty()) return;  // memcpy to a null buffer is undefined even for 0 bytes
    std::memcpy(reserve_more(s.size()), s.data(), s.size());
    size_ = s.size();
  }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0, capacity_ = 0;
};

/// A block of whole lines and what became of them.
struct Block {
  ByteBuffer input;    // whole lines, each ending with '\n'
  // Where the lines come from, as runs of consecutive lines of one source (a file gives one run
  // per block; interleaved network clients more): one increment per line, not three pushes.
  struct Run {
    uint32_t source;      // index into `names`
    uint64_t first_line;  // its number in the source
    uint64_t first_index; // 0-based index of its first line in the block
    uint64_t count;
  };
  std::vector<Run> runs;
  std::vector<std::string> names;
  // Lines never written, by index, ascending: cut short by their input (they could hold half of a
  // PII field) or longer than --max-line-bytes.
  struct Unwritable {
    uint64_t index;
    ParseError why;
  };
  std::vector<Unwritable> unwritable;
  uint64_t count = 0;               // lines in the block (lines handed out one by one)
  size_t max_line = SIZE_MAX;       // raw blocks: --max-line-bytes (lines handed out were cut already)
  // A block read straight from a byte input (AnonymizeWriter::read_rest): raw bytes, one trailing
  // CR per line stripped here, lines numbered once the blocks before it are counted (finish()).
  bool raw = false;
  /// The source and number of the line at `index`.
  std::pair<const std::string*, uint64_t> origin(uint64_t index) const {
    auto it = std::upper_bound(runs.begin(), runs.end(), index,
                               [](uint64_t i, const Run& r) { return i < r.first_index; });
    const Run& r = *(it - 1);
    return {&names[r.source], r.first_line + (index - r.first_index)};
  }
  std::string output;  // rewritten lines
  struct Reject {
    size_t offset, size;
    uint64_t index;  // 0-based line index within the block
    ParseError why;
  };
  std::vector<Reject> rejects;
  uint64_t lines = 0, written = 0, blank = 0;
  // --audit: occurrences of each Finding in the block, and the index of the first line with one.
  std::array<uint64_t, kFindingKinds> found{}, first_found{};
  std::unique_ptr<Anonymizer> anonymizer;
};

// Rewrites every line of a block. Under --strict it stops at the first rejected line, so that
// nothing after it is written.
void process(Block& b, bool stop_at_reject, bool audit) {
  b.output.clear();
  b.rejects.clear();
  b.lines = b.written = b.blank = 0;
  b.found.fill(0);
  b.first_found.fill(UINT64_MAX);
  std::string_view data = b.input.view();
  size_t pos = 0;
  while (pos < data.size()) {
    const void* nl = std::memchr(data.data() + pos, '\n', data.size() - pos);
    size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - data.data()) : data.size();
    std::string_view line = data.substr(pos, end - pos);
    if (b.raw && !line.empty() && line.back() == '\r') line.remove_suffix(1);  // as LineReader does
    uint64_t index = b.lines++;
    auto unwritable = std::lower_bound(b.unwritable.begin(), b.unwritable.end(), index,
                                       [](const Block::Unwritable& u, uint64_t i) { return u.index < i; });
    if (unwritable != b.unwritable.end() && unwritable->index == index) {
      b.rejects.push_back(Block::Reject{pos, line.size(), index, unwritable->why});
      if (stop_at_reject) return;
    } else if (line.size() > b.max_line) {  // a raw block's line over the cap: its first bytes are kept
      b.rejects.push_back(Block::Reject{pos, b.max_line, index, ParseError::kLineTooLong});
      if (stop_at_reject) return;
    } else if (is_blank(line)) {
      b.output.append(line);
      b.output += '\n';
      ++b.written;
      ++b.blank;
    } else {
      ParseError e = b.anonymizer->rewrite(line, b.output);
      if (audit) {
        const auto& found = b.anonymizer->findings();
        for (size_t k = 0; k < kFindingKinds; ++k)
          if (found[k] != 0) {
            b.found[k] += found[k];
            if (b.first_found[k] == UINT64_MAX) b.first_found[k] = index;
          }
        b.output.clear();  // nothing is written
      }
      if (e == ParseError::kNone) {
        b.output += '\n';
        ++b.written;
      } else {
        b.rejects.push_back(Block::Reject{pos, line.size(), index, e});
        if (stop_at_reject) return;
      }
    }
    pos = end + 1;
  }
}

}  // namespace

// Lines are copied into ~1 MiB blocks; a full block is rewritten on a worker thread while the next
// fills, and finished blocks are written in input order (threads blocks in flight plus the one
// filling).
struct AnonymizeWriter::Impl {
  AnonymizeOptions options;
  ByteSink& sink;
  MalformedLog& malformed;
  AnonymizeStats stats;
  unsigned threads;
  std::vector<Block> blocks;
  std::deque<std::pair<size_t, std::future<void>>> in_flight;
  size_t filling = 0;
  uint64_t raw_lines = 0;  // lines of the raw blocks finished so far (their numbers follow on)

  Impl(const AnonymizeOptions& o, ByteSink& s, MalformedLog& m)
      : options(o), sink(s), malformed(m), threads(std::max(1u, o.threads)), blocks(threads + 1) {}

  ~Impl() {
    // An exception (--strict, a failed write) leaves blocks in flight: let them finish before
    // their buffers go away.
    for (auto& [slot, f] : in_flight)
      if (f.valid()) f.wait();
  }

  // The source and number of the line at `index` of a finished block (a raw block's lines follow
  // those of the raw blocks before it).
  std::pair<const std::string*, uint64_t> where(const Block& b, uint64_t index) const {
    auto [source, line] = b.origin(index);
    return {source, b.raw ? raw_lines + index + 1 : line};
  }

  void finish(size_t slot) {
    Block& b = blocks[slot];
    if (!options.audit) sink.write(b.output);
    stats.bytes_out += b.output.size();
    for (size_t k = 0; k < kFindingKinds; ++k) {
      if (b.found[k] == 0) continue;
      auto& f = stats.findings[k];
      if (f.count == 0) {
        auto [source, line] = where(b, b.first_found[k]);
        f.first = fmt::format("{}:{}", *source, line);
      }
      f.count += b.found[k];
    }
    stats.lines += b.lines;
    stats.written += b.written;
    stats.blank += b.blank;
    stats.rejected += b.rejects.size();
    for (const auto& r : b.rejects) {
      auto [source, line] = where(b, r.index);
      malformed.add(*source, line, b.input.view().substr(r.offset, r.size), r.why);
    }
    if (b.raw) raw_lines += b.lines;
    reset(b);
  }

  static void reset(Block& b) {
    b.input.clear();
    b.runs.clear();
    b.names.clear();
    b.unwritable.clear();
    b.count = 0;
    b.raw = false;
    b.max_line = SIZE_MAX;
  }

  void dispatch() {
    Block& b = blocks[filling];
    if (b.count == 0 && !b.raw) return;
    bool strict = options.stop_at_reject;
    if (threads == 1) {
      process(b, strict, options.audit);
      finish(filling);
    } else {
      if (in_flight.size() == threads) drain_one();
      in_flight.emplace_back(filling, std::async(std::launch::async, process, std::ref(b), strict, options.audit));
    }
    filling = (filling + 1) % blocks.size();
  }

  void drain_one() {
    in_flight.front().second.get();
    size_t slot = in_flight.front().first;
    in_flight.pop_front();
    finish(slot);
  }
};

AnonymizeWriter::AnonymizeWriter(const AnonymizeOptions& options, ByteSink& sink, MalformedLog& malformed)
    : impl_(std::make_unique<Impl>(options, sink, malformed)) {}

AnonymizeWriter::~AnonymizeWriter() = default;

void AnonymizeWriter::on_format(const std::string& format) {
  impl_->stats.format = format;
  AnonymizeOptions o = impl_->options;
  o.format = format;
  for (Block& b : impl_->blocks) b.anonymizer = std::make_unique<Anonymizer>(o);
}

void AnonymizeWriter::on_line(std::string_view line, const LineOrigin& where) {
  Block& b = impl_->blocks[impl_->filling];
  if (b.names.empty() || b.names.back() != where.source) b.names.emplace_back(where.source);
  const auto source = static_cast<uint32_t>(b.names.size() - 1);
  char* to = b.input.reserve_more(line.size() + 1);
  if (!line.empty()) std::memcpy(to, line.data(), line.size());
  to[line.size()] = '\n';
  b.input.grow(line.size() + 1);
  if (b.runs.empty() || b.runs.back().source != source ||
      b.runs.back().first_line + b.runs.back().count != where.line)
    b.runs.push_back({source, where.line, b.count, 0});
  ++b.runs.back().count;
  if (where.truncated || where.too_long)
    b.unwritable.push_back({b.count, where.truncated ? ParseError::kTruncatedLine : ParseError::kLineTooLong});
  ++b.count;
  impl_->stats.bytes_in += line.size() + 1;
  if (b.input.size() >= kBlockSize) impl_->dispatch();
}

void AnonymizeWriter::on_input_end() {
  impl_->dispatch();
  while (!impl_->in_flight.empty()) impl_->drain_one();
}

namespace {

// Cuts a byte input into blocks of whole lines (a line longer than a block grows the block, up to
// --max-line-bytes), starting with the bytes a line reader had read ahead. When the input fails,
// the whole lines read before are still returned, then cut_line() holds the partial last one and
// error() the failure.
class BlockReader {
 public:
  BlockReader(ByteSource& source, std::string_view unread, size_t max_line, const StopFlag* stop)
      : source_(source), max_line_(max_line), stop_(stop) {
    carry_.assign(unread);
  }
  /// Fills `out` with whole lines (the last one of the input may lack its newline); false at the
  /// end of input. `too_long`: `out` is instead the first max_line bytes of one longer line (its
  /// rest is skipped before the next block).
  bool next(ByteBuffer& out, bool& too_long) {
    too_long = false;
    if (skipping_ && !skip_rest()) return false;
    out.assign(carry_.view());
    carry_.clear();
    for (;;) {
      std::string_view v = out.view();
      size_t newline = std::string_view::npos;
      if (v.size() >= kBlockSize || eof_) newline = v.rfind('\n');
      if (eof_ || newline != std::string_view::npos) {
        if (!eof_ && newline + 1 < v.size()) {
          carry_.assign(v.substr(newline + 1));
          out.resize_down(newline + 1);
        }
        return out.size() > 0;
      }
      if (v.size() >= kBlockSize && v.size() > max_line_) {
        // One line longer than the cap (no newline in the block): its first max_line bytes are
        // one malformed line, the rest is skipped instead of growing the block without bound.
        out.resize_down(max_line_);
        too_long = skipping_ = true;
        return true;
      }
      // Fill the block up to its size; past it (one line longer than a block), grow by half, up
      // to one byte past the cap.
      size_t want = out.size() < kBlockSize ? kBlockSize - out.size()
                                            : std::min(out.size() / 2, max_line_ + 1 - out.size());
      size_t got = 0;
      try {
        got = source_.read(out.reserve_more(want), want);
      } catch (const Error&) {
        // A compressed file cut short: the whole lines read so far are still rewritten; the
        // partial last one is kept aside (rejected as cut short), then the error is rethrown.
        error_ = std::current_exception();
        v = out.view();
        size_t end = v.rfind('\n') == std::string_view::npos ? 0 : v.rfind('\n') + 1;
        cut_.assign(v.substr(end));
        out.resize_down(end);
        eof_ = true;
        return out.size() > 0;
      }
      out.grow(got);
      if (got == 0) eof_ = true;
    }
  }
  std::exception_ptr error() const noexcept { return error_; }
  std::string_view cut_line() const noexcept { return cut_.view(); }

 private:
  // Reads past the rest of a line cut at the cap, up to its newline (what follows it becomes the
  // carry); false at the end of input, a failure, or a stop signal (/dev/zero never ends).
  bool skip_rest() {
    for (;;) {
      if (eof_ || stop_requested(stop_)) return false;
      char* buf = carry_.reserve_more(kBlockSize);
      size_t got = 0;
      try {
        got = source_.read(buf, kBlockSize);
      } catch (const Error&) {
        error_ = std::current_exception();
        eof_ = true;
        return false;
      }
      if (got == 0) {
        eof_ = true;
        return false;
      }
      if (const void* nl = std::memchr(buf, '\n', got)) {
        size_t after = static_cast<size_t>(static_cast<const char*>(nl) - buf) + 1;
        std::memmove(buf, buf + after, got - after);
        carry_.grow(got - after);
        skipping_ = false;
        return true;
      }
    }
  }

  ByteSource& source_;
  size_t max_line_;
  const StopFlag* stop_;
  ByteBuffer carry_;
  ByteBuffer cut_;
  std::exception_ptr error_;
  bool eof_ = false;
  bool skipping_ = false;
};

}  // namespace

// The fast path of a file: blocks read straight into the block buffers, no copy per line.
bool AnonymizeWriter::read_rest(ByteSource& rest, std::string_view unread, const std::string& source,
                                uint64_t lines_before, size_t max_line, const StopFlag* stop, PumpStats& counted) {
  Impl& w = *impl_;
  w.raw_lines = lines_before;
  // What this path reads is counted for the pump (its per-input check), also when it throws.
  const uint64_t lines0 = w.stats.lines, blank0 = w.stats.blank, bytes0 = w.stats.bytes_in;
  struct Count {
    Impl& w;
    PumpStats& counted;
    uint64_t lines0, blank0, bytes0;
    ~Count() {
      counted.lines += w.stats.lines - lines0;
      counted.blank += w.stats.blank - blank0;
      counted.bytes += w.stats.bytes_in - bytes0;
    }
  } count{w, counted, lines0, blank0, bytes0};
  BlockReader reader(rest, unread, max_line, stop);
  for (;;) {
    if (stop_requested(stop)) break;
    Block& b = w.blocks[w.filling];
    bool too_long = false;
    if (!reader.next(b.input, too_long)) break;
    w.stats.bytes_in += b.input.size();
    b.raw = true;
    b.max_line = max_line;
    if (too_long) b.unwritable.push_back({0, ParseError::kLineTooLong});
    b.names.assign(1, source);
    b.runs.assign(1, Block::Run{0, 0, 0, 0});
    w.dispatch();
  }
  on_input_end();
  if (reader.error()) {
    if (!reader.cut_line().empty()) {  // never written: it could hold half of a PII field
      ++w.stats.lines;
      ++w.stats.rejected;
      w.malformed.add(source, w.raw_lines + 1, reader.cut_line(), ParseError::kTruncatedLine);
    }
    std::rethrow_exception(reader.error());
  }
  return true;
}

const AnonymizeStats& AnonymizeWriter::stats() const noexcept { return impl_->stats; }

}  // namespace logpipe
