// Small text helpers shared by every output: JSON string escaping, human byte sizes, RFC 3339
// times for people. Defined once here (text.cc) and tested in tests/unit/text_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace logpipe {

/// Appends `s` as a JSON string literal, quotes included: control characters, quotes and
/// backslashes are escaped, and bytes that are not valid UTF-8 become \u00XX, so that the output
/// is always valid JSON whatever the log held.
void append_json_string(std::string& out, std::string_view s);

/// Escapes a Prometheus label value (backslash, double quote, newline).
std::string prometheus_label(std::string_view value);

/// `512 B`, `1.5 KiB`, `3.2 GiB` (powers of 1024, one decimal).
std::string human_bytes(uint64_t bytes);

/// `1,234,567`: digits grouped by three with commas, for people (JSON and CSV keep plain digits).
std::string grouped(uint64_t v);

/// `'sha256-BASE64'` of an inline script, for a Content-Security-Policy's script-src (the HTML
/// report, the live page: nothing but that script may run).
std::string csp_script_hash(std::string_view script);

/// ASCII lower case (bytes outside A-Z unchanged: UTF-8 stays valid).
constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

/// `2025-06-23T08:00:00Z` (seconds precision), or `-` for an absent time (kNoTime).
std::string time_text(int64_t us);

/// Calls `f(item)` for each item of a `sep`-separated list, with the spaces around it trimmed:
/// `a, b,,c` gives `a`, `b`, an empty item, `c`; an empty list gives one empty item. For option
/// values such as `--status-mix 404=3,500=1` and `json:nginx,ip=x`.
template <typename F>
void for_each_list_item(std::string_view list, char sep, F&& f) {
  size_t i = 0;
  for (;;) {
    size_t end = list.find(sep, i);
    if (end == std::string_view::npos) end = list.size();
    std::string_view item = list.substr(i, end - i);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    f(item);
    if (end == list.size()) return;
    i = end + 1;
  }
}

}  // namespace logpipe
