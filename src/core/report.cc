#include "logpipe/report.h"

#include <fmt/format.h>

#include <algorithm>

namespace logpipe {

std::vector<std::pair<std::string_view, KeyCounts>> KeyedCounts::top(size_t n) const {
  std::vector<std::pair<std::string_view, KeyCounts>> all;
  all.reserve(counts_.size());
  for (uint32_t id = 0; id < counts_.size(); ++id) all.emplace_back(table_.str(id), counts_[id]);
  auto order = [](const auto& a, const auto& b) {
    if (a.second.requests != b.second.requests) return a.second.requests > b.second.requests;
    return a.first < b.first;
  };
  if (n > 0 && n < all.size()) {
    std::partial_sort(all.begin(), all.begin() + static_cast<ptrdiff_t>(n), all.end(), order);
    all.resize(n);
  } else {
    std::sort(all.begin(), all.end(), order);
  }
  return all;
}

void Report::on_record(const Record& r) {
  ++requests;
  bool error = r.status >= 400;
  errors += error;
  if (r.bytes > 0) bytes += static_cast<uint64_t>(r.bytes);
  if (r.status > 0 && r.status < 1000) ++status[static_cast<size_t>(r.status)];
  urls.add(r.path(), error);
  if (!r.ip.empty()) ips.add(r.ip, error);
  if (!r.user.empty()) users.add(r.user, error);
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = p[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        default: fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
      }
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      // Validate one UTF-8 sequence; pass it through when valid, escape the byte otherwise.
      size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
      bool ok = len > 0 && i + len <= n;
      for (size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xc0) == 0x80;
      if (ok && len == 3) {
        unsigned cp = ((c & 0x0f) << 12) | ((p[i + 1] & 0x3f) << 6);
        ok = cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff);
      }
      if (ok && len == 4) {
        unsigned cp = ((c & 0x07) << 18) | ((p[i + 1] & 0x3f) << 12);
        ok = cp >= 0x10000 && cp <= 0x10ffff;
      }
      if (ok) {
        out.append(reinterpret_cast<const char*>(p + i), len);
        i += len - 1;
      } else {
        fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
      }
    }
  }
  out += '"';
}

namespace {

void append_keyed(std::string& out, const char* name, const char* key, const KeyedCounts& counts,
                  size_t top) {
  fmt::format_to(std::back_inserter(out), "\"{}\":[", name);
  bool first = true;
  for (const auto& [k, c] : counts.top(top)) {
    if (!first) out += ',';
    first = false;
    fmt::format_to(std::back_inserter(out), "{{\"{}\":", key);
    append_json_string(out, k);
    fmt::format_to(std::back_inserter(out), ",\"requests\":{},\"errors\":{}}}", c.requests, c.errors);
  }
  out += ']';
}

}  // namespace

std::string Report::to_json(size_t top) const {
  std::string out;
  fmt::format_to(std::back_inserter(out),
                 "{{\"requests\":{},\"errors\":{},\"malformed\":{},\"bytes\":{},\"unique_ips\":{},"
                 "\"unique_users\":{},\"status\":{{",
                 requests, errors, malformed, bytes, ips.size(), users.size());
  bool first = true;
  for (size_t code = 0; code < status.size(); ++code) {
    if (!status[code]) continue;
    if (!first) out += ',';
    first = false;
    fmt::format_to(std::back_inserter(out), "\"{}\":{}", code, status[code]);
  }
  out += "},";
  append_keyed(out, "urls", "url", urls, top);
  out += ',';
  append_keyed(out, "ips", "ip", ips, top);
  out += ',';
  append_keyed(out, "users", "user", users, top);
  out += "}\n";
  return out;
}

}  // namespace logpipe
