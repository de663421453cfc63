#include "logpipe/classify.h"

#include <charconv>

namespace logpipe {

std::bitset<1000> ErrorRules::default_statuses() noexcept {
  std::bitset<1000> b;
  for (size_t s = 400; s < 1000; ++s) b.set(s);
  return b;
}

bool ErrorRules::add_statuses(std::string_view spec, std::bitset<1000>& statuses) noexcept {
  auto number = [](std::string_view s, unsigned& out) {
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size() && out >= 100 && out <= 999;
  };
  unsigned lo = 0, hi = 0;
  if (spec.size() == 3 && (spec[1] == 'x' || spec[1] == 'X') && (spec[2] == 'x' || spec[2] == 'X') &&
      spec[0] >= '1' && spec[0] <= '9') {
    lo = static_cast<unsigned>(spec[0] - '0') * 100;
    hi = lo + 99;
  } else if (size_t dash = spec.find('-'); dash != std::string_view::npos) {
    if (!number(spec.substr(0, dash), lo) || !number(spec.substr(dash + 1), hi) || hi < lo) return false;
  } else {
    if (!number(spec, lo)) return false;
    hi = lo;
  }
  for (unsigned s = lo; s <= hi; ++s) statuses.set(s);
  return true;
}

namespace {

// Calls f(entry) for every comma-separated entry, spaces around it trimmed; false as soon as f
// refuses one, or when the list holds no entry.
template <typename F>
bool for_each_entry(std::string_view list, F&& f) {
  bool any = false;
  while (true) {
    size_t comma = list.find(',');
    std::string_view e = list.substr(0, comma);
    while (!e.empty() && e.front() == ' ') e.remove_prefix(1);
    while (!e.empty() && e.back() == ' ') e.remove_suffix(1);
    if (e.empty() || !f(e)) return false;
    any = true;
    if (comma == std::string_view::npos) return any;
    list.remove_prefix(comma + 1);
  }
}

char upper(char c) noexcept { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; }

}  // namespace

bool ErrorRules::parse_statuses(std::string_view list, std::bitset<1000>& statuses) noexcept {
  std::bitset<1000> parsed;
  if (!for_each_entry(list, [&](std::string_view e) { return add_statuses(e, parsed); })) return false;
  statuses = parsed;
  return true;
}

bool ErrorRules::parse_levels(std::string_view list, std::vector<std::string>& levels) {
  std::vector<std::string> parsed;
  bool ok = for_each_entry(list, [&](std::string_view e) {
    std::string name;
    for (char c : e) {
      bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      if (!word) return false;
      name += upper(c);
    }
    parsed.push_back(std::move(name));
    return true;
  });
  if (ok) levels = std::move(parsed);
  return ok;
}

Classifier::Classifier(ErrorRules rules) : rules_(std::move(rules)) {}

bool Classifier::level_is_error(std::string_view level) const noexcept {
  for (const std::string& l : rules_.levels) {
    if (l.size() != level.size()) continue;
    size_t i = 0;
    while (i < l.size() && upper(level[i]) == l[i]) ++i;
    if (i == l.size()) return true;
  }
  return false;
}

}  // namespace logpipe
