// Internal (anonymize.cc): finders of personal data in free text, and the keyed permutation of
// numeric user ids.
//
// The text patterns are those of edx-analytics-pipeline's obfuscation
// (edx/analytics/tasks/util/obfuscate_util.py at commit 8f9792e2: EMAIL_PATTERN, PHONE_PATTERN,
// find_username, find_user_fullname), written out by hand: no regex engine runs per line, and
// std::regex is not allowed on hot paths. Where Python's `re` is Unicode-aware (\b and case in
// find_user_fullname), bytes >= 0x80 count as word characters and only ASCII letters fold case.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace logpipe {
class HmacSha256;
}

namespace logpipe::detail {

/// What a match found.
enum class TextFind : uint8_t { kEmail, kPhone, kFullname, kUsername, kUrlUser, kIpv4 };

/// The bytes [begin, end) of a text.
struct TextMatch {
  uint32_t begin, end;
  TextFind kind;
};

/// E-mail addresses (edx's EMAIL_PATTERN, case-insensitive, ASCII), left to right, appended.
void find_emails(std::string_view text, std::vector<TextMatch>& out);

/// Phone numbers (edx's PHONE_PATTERN: US forms with a separator, `+` international forms; a `+`
/// right after a letter or digit, as in course keys `Org+Course+20150803`, starts none).
void find_phones(std::string_view text, std::vector<TextMatch>& out);

/// IPv4 addresses in dotted-quad form (each part 0-255, no leading zero run longer than three
/// digits), not inside a longer run of digits and dots (versions such as 1.2.3.4.5 are not one).
void find_ipv4(std::string_view text, std::vector<TextMatch>& out);

/// The NAME segment of `/u/NAME` and `/users/NAME` (profile URLs of Open edX and most sites):
/// up to the next `/`, `?`, `#`, quote, space or `&`.
void find_url_users(std::string_view text, std::vector<TextMatch>& out);

/// The patterns of one user, as find_user_fullname and find_username build them: the whole full
/// name, then each of its parts longer than two characters that is not a stop word and does not end
/// with a dot (kFullname); then the username (kUsername). Case-insensitive, on word boundaries.
class UserPatterns {
 public:
  UserPatterns(std::string_view username, std::string_view fullname);
  /// Appends fullname matches, then username matches that overlap none of them.
  void find(std::string_view text, std::vector<TextMatch>& out) const;
  const std::vector<std::string>& name_patterns() const noexcept { return names_; }

 private:
  std::vector<std::string> names_;  // lower-cased (ASCII)
  std::string username_;            // lower-cased (ASCII)
};

/// The user table of `--user-info FILE`: CSV rows `username,full name,e-mail` (edx-analytics-
/// pipeline's auth_user + auth_userprofile, flattened), an optional header row starting with
/// `username`. Quoted fields ("Last, First") as RFC 4180.
class UserTable {
 public:
  /// Throws Error (usage) naming FILE:LINE on a row that is not 1 to 3 fields.
  static UserTable parse(std::string_view csv, const std::string& name);
  /// The patterns of `username` (exact, as logged), or null.
  const UserPatterns* find(std::string_view username) const;
  size_t size() const noexcept { return users_.size(); }
  /// Every e-mail address of the table (the audit's and the tests' reference).
  const std::vector<std::string>& emails() const noexcept { return emails_; }
  /// --audit: how many whole full names of any user of the table (two words or more, as in the
  /// table, case-insensitive, between word boundaries) `text` holds. For files whose users are
  /// pseudonyms already, where the line's user cannot be looked up.
  size_t count_any_fullname(std::string_view text, std::string& scratch) const;

 private:
  std::unordered_set<std::string> whole_names_;  // lower-cased, single spaces
  size_t max_words_ = 0;
  std::unordered_map<std::string, std::unique_ptr<UserPatterns>> users_;
  std::vector<std::string> emails_;
};

/// Keeps the matches of `more` that overlap none of `kept` (both sorted by begin), merged into
/// `kept` in order: finders run in edx's order (e-mails, names, usernames, phones), so an e-mail
/// that holds a username is one e-mail.
void merge_matches(std::vector<TextMatch>& kept, const std::vector<TextMatch>& more);

/// A keyed permutation of user ids (`--remap-ids`): a Feistel network whose round function is
/// HMAC-SHA256 under a key derived from the anonymisation key. Ids below 2^32 stay below 2^32,
/// larger ones stay larger (cycle walking), so the map is one-to-one on every uint64 and the same
/// key always gives the same id. Without the key it cannot be inverted or recomputed.
class IdRemapper {
 public:
  explicit IdRemapper(std::string_view key);
  ~IdRemapper();
  IdRemapper(const IdRemapper&) = delete;
  IdRemapper& operator=(const IdRemapper&) = delete;
  uint64_t remap(uint64_t id);

 private:
  uint64_t round(unsigned width, unsigned r, uint64_t half);
  uint64_t feistel(unsigned half_bits, uint64_t v);
  std::unique_ptr<HmacSha256> hmac_;
  struct Entry {
    uint64_t id = 0, mapped = 0;
    bool used = false;
  };
  std::array<Entry, 1024> cache_{};
};

/// Whether `v` is 64 lowercase hex digits (a pseudonym already).
bool is_pseudonym(std::string_view v) noexcept;

}  // namespace logpipe::detail
