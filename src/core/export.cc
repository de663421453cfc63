// Records as JSON lines (include/logpipe/export.h). The ECS mapping is one table, written in an
// order where fields of one object are next to each other, so that nested objects are opened and
// closed by comparing each path with the one before. The mapping's contract is docs/export.md.
#include "logpipe/export.h"
#include "logpipe/geoip.h"

#include "logpipe/netaddr.h"
#include "logpipe/text.h"
#include "logpipe/timeutil.h"

#include <fmt/format.h>

#include <array>
#include <charconv>

namespace logpipe {
namespace {

// One field of the document: a dotted path and a value.
struct Item {
  std::string_view path;
  enum Kind : uint8_t { kText, kNumber, kTime } kind = kText;
  std::string_view text;
  int64_t number = 0;
};

// Splits `path` at dots into `parts`; returns their count (at most 4).
size_t split_path(std::string_view path, std::array<std::string_view, 4>& parts) {
  size_t n = 0;
  for (;;) {
    const size_t dot = path.find('.');
    if (dot == std::string_view::npos || n == parts.size() - 1) {
      parts[n++] = path;
      return n;
    }
    parts[n++] = path.substr(0, dot);
    path.remove_prefix(dot + 1);
  }
}

void append_time(std::string& out, int64_t us) {
  char buf[32];
  const size_t n = format_rfc3339_seconds(us, buf);
  int64_t frac = us % 1'000'000;
  if (frac < 0) frac += 1'000'000;
  out += '"';
  if (frac == 0) {
    out.append(buf, n);
  } else {
    out.append(buf, n - 1);  // without its Z
    char f[8];
    auto r = fmt::format_to_n(f, sizeof f, ".{:06}Z", frac);
    out.append(f, r.size);
  }
  out += '"';
}

// Writes the items as one object, nesting dotted paths (`nested`) or writing them as they are.
template <size_t N>
void write_items(std::string& out, const std::array<Item, N>& items, size_t count, bool nested) {
  out += '{';
  std::array<std::string_view, 4> open{};  // the objects opened, outermost first
  size_t depth = 0;
  std::array<bool, 5> any{};  // an object of that depth already holds a member
  for (size_t i = 0; i < count; ++i) {
    const Item& it = items[i];
    std::array<std::string_view, 4> parts{};
    size_t n = 1;
    if (nested) n = split_path(it.path, parts);
    else parts[0] = it.path;
    size_t common = 0;
    while (common < depth && common + 1 < n && open[common] == parts[common]) ++common;
    while (depth > common) {
      out += '}';
      --depth;
    }
    for (; depth + 1 < n; ++depth) {
      if (any[depth]) out += ',';
      any[depth] = true;
      append_json_string(out, parts[depth]);
      out += ":{";
      open[depth] = parts[depth];
      any[depth + 1] = false;
    }
    if (any[depth]) out += ',';
    any[depth] = true;
    append_json_string(out, parts[n - 1]);
    out += ':';
    switch (it.kind) {
      case Item::kText: append_json_string(out, it.text); break;
      case Item::kNumber: {
        char num[24];
        auto r = std::to_chars(num, num + sizeof num, it.number);
        out.append(num, static_cast<size_t>(r.ptr - num));
        break;
      }
      case Item::kTime: append_time(out, it.number); break;
    }
  }
  while (depth > 0) {
    out += '}';
    --depth;
  }
  out += '}';
}

bool is_address(std::string_view ip) {
  std::array<unsigned char, 16> a;
  return parse_ip_address(ip, a);
}

}  // namespace

void append_record_json(std::string& out, const Record& r, ExportNames names, const GeoInfo* geo) {
  std::array<Item, 48> items;
  size_t n = 0;
  auto text = [&](std::string_view path, std::string_view v) {
    if (!v.empty() && n < items.size()) items[n++] = Item{path, Item::kText, v, 0};
  };
  auto number = [&](std::string_view path, int64_t v) {
    if (n < items.size()) items[n++] = Item{path, Item::kNumber, {}, v};
  };
  if (names == ExportNames::kEcs) {
    if (r.time_us != kNoTime) items[n++] = Item{"@timestamp", Item::kTime, {}, r.time_us};
    // source.ip is an `ip` field in Elasticsearch: a host name (%h without HostnameLookups off)
    // would make the document fail, so it goes to source.address.
    if (!r.ip.empty()) text(is_address(r.ip) ? "source.ip" : "source.address", r.ip);
    if (geo) {  // ECS geo and as fields, beside source.ip
      text("source.geo.country_iso_code", geo->country_code);
      text("source.geo.country_name", geo->country_name);
      text("source.geo.city_name", geo->city);
      if (geo->asn) number("source.as.number", geo->asn);
      text("source.as.organization.name", geo->as_org);
    }
    text("user.name", r.user);
    text("http.request.method", r.method);
    text("http.request.referrer", r.referer);
    std::string_view version = r.protocol;
    if (version.starts_with("HTTP/")) version.remove_prefix(5);
    text("http.version", version);
    if (r.status != 0) number("http.response.status_code", r.status);
    if (r.bytes >= 0) number("http.response.body.bytes", r.bytes);
    text("url.original", r.url);
    text("url.path", r.path());
    if (const size_t q = r.url.find('?'); q != std::string_view::npos) text("url.query", r.url.substr(q + 1));
    text("url.domain", r.host);
    text("user_agent.original", r.agent);
    if (r.duration_us >= 0) number("event.duration", r.duration_us * 1000);  // ECS: nanoseconds
    text("log.level", r.level);
    text("labels.ident", r.ident);
    text("event_type", r.event_type);  // edX fields under their own names
    text("course_id", r.course_id);
    text("success", r.success);
    text("session", r.session);
  } else {
    if (r.time_us != kNoTime) items[n++] = Item{"time", Item::kTime, {}, r.time_us};
    text("ip", r.ip);
    if (geo) {
      text("country", geo->country_code);
      text("country_name", geo->country_name);
      text("city", geo->city);
      if (geo->asn) number("asn", geo->asn);
      text("as_org", geo->as_org);
    }
    text("ident", r.ident);
    text("user", r.user);
    text("method", r.method);
    text("url", r.url);
    text("protocol", r.protocol);
    if (r.status != 0) number("status", r.status);
    if (r.bytes >= 0) number("bytes", r.bytes);
    text("referer", r.referer);
    text("agent", r.agent);
    text("session", r.session);
    text("host", r.host);
    text("event_type", r.event_type);
    text("course_id", r.course_id);
    text("success", r.success);
    if (r.duration_us >= 0) number("duration_us", r.duration_us);
    text("level", r.level);
  }
  const size_t mapped = n;
  write_items(out, items, mapped, names == ExportNames::kEcs);
  if (r.extra.empty()) return;
  // The other fields of a `fields:` format, under their own names (never nested), after the
  // mapped ones.
  out.pop_back();
  bool first = mapped == 0;
  for (const auto& [name, value] : r.extra) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, name);
    out += ':';
    append_json_string(out, value);
  }
  out += '}';
}

ExportWriter::ExportWriter(const ExportOptions& options, ByteSink& out) : options_(options), out_(out) {
  if (!options_.bulk_index.empty()) {
    action_ = "{\"" + options_.bulk_action + "\":{\"_index\":";
    append_json_string(action_, options_.bulk_index);
    action_ += "}}\n";
  }
  buffer_.reserve(1 << 20);
}

ParseError ExportWriter::on_record(const Record& record) {
  buffer_ += action_;
  const GeoInfo* geo = options_.geoip && !record.ip.empty() ? &options_.geoip->lookup(record.ip) : nullptr;
  append_record_json(buffer_, record, options_.names, geo);
  buffer_ += '\n';
  ++written_;
  if (buffer_.size() >= (1 << 20) - 8192) {
    out_.write(buffer_);
    buffer_.clear();
  }
  return ParseError::kNone;
}

void ExportWriter::finish() {
  if (!buffer_.empty()) out_.write(buffer_);
  buffer_.clear();
}

}  // namespace logpipe
