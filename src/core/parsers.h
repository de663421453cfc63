// Internal: pieces shared by the parsers (formats.cc, logformat.cc, fields.cc, edx.cc, jsonlog.cc,
// prefix.cc) and by anonymize.cc, which rewrites what they locate.
#pragma once

#include "logpipe/format.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace logpipe::detail {

/// Splits a request line `GET /path HTTP/1.1` into method, url, protocol. `-`, empty and
/// one-word garbage requests give no method and no url. Never fails.
void split_request(std::string_view request, Record& out) noexcept;

/// Picks the client IP out of a host field that may be an X-Forwarded-For style list
/// (`10.0.0.2, 10.0.0.1, 127.0.0.1` or `"a, b" c`): the first public address, else the first.
std::string_view pick_client(std::string_view host_field) noexcept;

/// Parses a clickstream cookie `user = NAME; PHPSESSID=ID` into user and session.
void parse_cookie(std::string_view cookie, Record& out) noexcept;

/// Finds the closing quote of a quoted field whose content starts at `pos`, honouring Apache
/// backslash escapes. Returns npos when there is none.
size_t find_closing_quote(std::string_view line, size_t pos) noexcept;

/// `-` and empty mean absent.
inline std::string_view dash_to_empty(std::string_view v) noexcept {
  return v == "-" ? std::string_view{} : v;
}

/// Parses a duration logged as a decimal number of units of `unit_us` microseconds (1e6 for
/// seconds, 1e-3 for nanoseconds). With `list_ok`, the first number of a list (`0.1, 0.2`, nginx's
/// upstream times). False on anything else, `nan` and `1e300` included (checked before the cast).
bool parse_duration_value(std::string_view v, double unit_us, int64_t& out_us, bool list_ok = false) noexcept;

/// Parses a whole signed decimal integer. False on anything else.
bool parse_integer(std::string_view v, int64_t& out) noexcept;

/// Copies `text` into `buffer` followed by the zeroed padding simdjson reads past the end of a
/// document (jsonlog.cc); the copy stays valid until the next call with the same buffer.
void copy_for_simdjson(std::vector<char>& buffer, std::string_view text);

/// Parses a 3-digit status or `-` (0). False on anything else.
bool parse_status(std::string_view v, int& out) noexcept;
/// Parses a byte count or `-` (-1). False on anything else.
bool parse_bytes(std::string_view v, int64_t& out) noexcept;

/// Strips trailing CR, spaces and tabs.
inline std::string_view trim_right(std::string_view s) noexcept {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// The edx parser (edx.cc), kept behind a factory so that simdjson stays in one file.
std::unique_ptr<Parser> make_edx_parser();
/// The `fields:` format (fields.cc): whitespace-separated named fields, named `fields:NAMES`
/// unless `name` says otherwise (`applog`). Throws Error (usage).
std::unique_ptr<Parser> make_fields_parser(std::string_view names, std::string name = {});
/// Reads the modifiers (`<`, `>`, `!200,304`) and the optional `{argument}` of a LogFormat
/// directive whose `%` precedes f[i]; `i` ends on the directive's letter (or at the end). False
/// when a `{` is not closed. Shared by the LogFormat compiler and anonymize's rewriter.
bool scan_directive(std::string_view f, size_t& i, std::string_view& arg) noexcept;
/// The LogFormat compiler (logformat.cc). Throws Error (usage) on a bad format string. A nickname
/// of Apache's stock configuration (`common`, `combined`, `vhost_combined`, `referer`, `agent`)
/// stands for its string.
std::unique_ptr<Parser> make_logformat_parser(std::string_view logformat);
/// The Apache LogFormat string a `logformat:` value stands for: quotes removed, nicknames expanded.
std::string logformat_string(std::string_view logformat);
/// An nginx `log_format` (the string, a whole `log_format NAME '...' '...';` statement, or a name:
/// `combined`, `main`, `upstreaminfo`) as the equivalent Apache LogFormat string, which
/// make_logformat_parser compiles (so that anonymize rewrites nginx logs as it does Apache ones).
/// Throws Error (usage) naming `--format` on a bad string.
std::string nginx_to_logformat(std::string_view nginx);
/// An nginx log_format parser (named `nginxformat:...` after `spec`).
std::unique_ptr<Parser> make_nginx_parser(std::string_view spec);
/// True when `format` looks like a bare nginx log_format (it uses `$variables`).
bool looks_like_nginx_format(std::string_view format) noexcept;

/// The `applog` format: what `generate --format applog` writes, with an optional referer that may
/// be written "Direct Entry".
inline constexpr std::string_view kApplogFields =
    "date time level request_id session user action method url referer? none=\"Direct Entry\"";

/// JSON access logs with a field mapping (jsonlog.cc): `json` (every known mapping), `json:nginx`,
/// `json:caddy`, `json:traefik`, `json:ecs`, or `json:FIELD=PATH,...` after an optional preset.
/// Throws Error (usage) on a bad mapping.
std::unique_ptr<Parser> make_json_parser(std::string_view spec);
/// The dotted paths a JSON mapping reads the user and the client address from (for anonymize).
void json_mapping_paths(std::string_view spec, std::vector<std::string>& user_paths,
                        std::vector<std::string>& ip_paths);

// ---------------------------------------------------------------------------------------------
// Line prefixes (prefix.cc): syslog (RFC 3164 and RFC 5424), CRI (containerd, CRI-O) and Docker's
// json-file wrapper, in front of any format.

enum class LinePrefix : uint8_t { kNone, kSyslog, kCri, kDocker };

/// What a prefix gives: the message after it (the inner format's line), and its host and time.
struct PrefixParts {
  /// The inner line: a view into the line (syslog, CRI) or Docker's decoded `log` text (valid
  /// until the next read of the same DockerLineReader).
  std::string_view message;
  /// The bytes of the line that hold the message: the rest of the line, or Docker's JSON string
  /// token with its quotes (anonymize replaces it with the rewritten message, re-escaped).
  size_t message_begin = 0, message_end = 0;
  bool decoded = false;  ///< Docker: `message` is decoded text, not a slice of the line
  bool had_newline = false;  ///< Docker: the `log` text ended with the newline stripped from message
  std::string_view host;
  int64_t time_us = kNoTime;
  bool partial = false;  ///< a fragment of a longer line (CRI `P`, a full 16 KiB Docker chunk)
};

/// Reads Docker json-file lines `{"log":"...\n","stream":"stdout","time":"..."}` with simdjson
/// (jsonlog.cc); one per thread.
class DockerLineReader {
 public:
  DockerLineReader();
  ~DockerLineReader();
  DockerLineReader(const DockerLineReader&) = delete;
  DockerLineReader& operator=(const DockerLineReader&) = delete;
  /// kNone and the parts, or why the line is not such a wrapper. A `log` without its final newline
  /// of exactly 16 KiB is a fragment (Docker splits longer lines there).
  ParseError read(std::string_view line, PrefixParts& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The current UTC year and month, for RFC 3164 times, which have no year: a time more than a
/// month ahead of now belongs to the year before.
struct SyslogYear {
  int year = 1970;
  unsigned month = 1;
  static SyslogYear now() noexcept;
};

/// Splits a syslog line: `<PRI>` (optional), then RFC 5424 (`1 TIMESTAMP HOST APP PROCID MSGID
/// SD MSG`) or RFC 3164 / rsyslog (`Mmm dd hh:mm:ss` or an ISO 8601 time, then HOST, then an
/// optional `TAG[PID]:`). `tagged` is set when a 3164 line has a tag (detection wants one). False
/// when the line has no such prefix.
bool split_syslog(std::string_view line, const SyslogYear& year, PrefixParts& out, bool* tagged = nullptr) noexcept;
/// Splits a CRI line `2016-10-06T00:17:09.669794202Z stdout F message`. False when it is not one.
bool split_cri(std::string_view line, PrefixParts& out) noexcept;
/// The prefix a --format value starts with (`syslog+`, `cri+`, `docker+`), its length included.
LinePrefix format_prefix(std::string_view format, size_t& length) noexcept;
/// `syslog`, `cri` or `docker`.
std::string_view prefix_name(LinePrefix p) noexcept;
/// A parser reading `inner` lines behind a prefix; `name` is the whole --format value.
std::unique_ptr<Parser> make_prefixed_parser(LinePrefix prefix, std::unique_ptr<Parser> inner, std::string name);
/// Splits off the prefix of any kind, Docker through `docker`. kNone, kBadPrefix or kBadJson.
ParseError split_prefix(LinePrefix prefix, std::string_view line, const SyslogYear& year, DockerLineReader& docker,
                        PrefixParts& out);

// ---------------------------------------------------------------------------------------------
// Open edX course keys (edx.cc): one rule for every place a course appears.

/// The course id found in `text`: a course key (`course-v1:Org+Course+Run`, a CCX key
/// `ccx-v1:Org+Course+Run+ccx@N`), a usage or asset key
/// (`block-v1:Org+Course+Run+type@...`, `asset-v1:...`, kept up to the run and written as a
/// course-v1 key), an old id (`Org/Course/Run`), or a URL holding one of those
/// (`/courses/<id>/...`, `/xblock/block-v1:...`). Empty when none. A rebuilt course-v1 key is
/// written into `scratch` (which the result then views).
std::string_view course_key_of(std::string_view text, std::string& scratch) noexcept;

}  // namespace logpipe::detail
