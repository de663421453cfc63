// Internal: pieces shared by the access-log parsers (formats.cc, logformat.cc).
#pragma once

#include "logpipe/format.h"

#include <string_view>

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
/// The `fields:` format (fields.cc): whitespace-separated named fields. Throws Error (usage).
std::unique_ptr<Parser> make_fields_parser(std::string_view names);
/// Reads the modifiers (`<`, `>`, `!200,304`) and the optional `{argument}` of a LogFormat
/// directive whose `%` precedes f[i]; `i` ends on the directive's letter (or at the end). False
/// when a `{` is not closed. Shared by the LogFormat compiler and anonymize's rewriter.
bool scan_directive(std::string_view f, size_t& i, std::string_view& arg) noexcept;
/// The LogFormat compiler (logformat.cc). Throws Error (usage) on a bad format string.
std::unique_ptr<Parser> make_logformat_parser(std::string_view logformat);

}  // namespace logpipe::detail
