// Thresholds file: toml++ is used here and nowhere else in the core.
#include "logpipe/config.h"

#include "logpipe/classify.h"

#include "logpipe/error.h"
#include "logpipe/text.h"
#include "logpipe/timeutil.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <charconv>
#include <algorithm>
#include <cmath>
#include <vector>

namespace logpipe {
namespace {

std::string known_metrics() {
  std::string s;
  for (const auto& m : kMetrics) {
    if (!s.empty()) s += ", ";
    s += m.name;
  }
  return s;
}

std::string where(std::string_view name, const toml::node& node) {
  const auto& src = node.source();
  return fmt::format("{}:{}", name, src.begin.line);
}

int64_t seconds_value(std::string_view name, const toml::node& node, std::string_view key, bool allow_zero) {
  std::optional<double> v = node.value<double>();
  // A size under half a microsecond rounds to 0, which would divide by zero in the engine.
  int64_t us = v && duration_in_range(*v * 1e6) ? static_cast<int64_t>(std::llround(*v * 1e6)) : -1;
  if (us < 0 || (!allow_zero && us == 0))
    usage_error("{}: [window] {} must be a {} number of seconds (at most 1e12)", where(name, node), key,
                allow_zero ? "non-negative" : "positive");
  return us;
}

// Levenshtein distance, capped: small enough tables that the quadratic cost is nothing.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

constexpr std::string_view kTables[] = {"window", "errors", "metrics", "baselines", "input", "alerts", "tls", "kafka", "prometheus"};

std::string string_value(std::string_view name, const toml::node& node, std::string_view table, std::string_view key) {
  std::optional<std::string> v = node.value<std::string>();
  if (!v || v->empty()) usage_error("{}: [{}] {} must be a non-empty string", where(name, node), table, key);
  return *v;
}

// `endpoint = "..."` or `endpoints = ["...", ...]`.
void endpoint_list(std::string_view name, const toml::node& node, std::string_view table, std::string_view key,
                   std::vector<std::string>& out) {
  if (const toml::array* list = node.as_array()) {
    if (list->empty()) usage_error("{}: [{}] {} must not be empty", where(name, node), table, key);
    for (const auto& item : *list) out.push_back(string_value(name, item, table, key));
  } else {
    out.push_back(string_value(name, node, table, key));
  }
}

// Flattens a [kafka] table: nested tables (dotted TOML keys) join with '.'; values become the
// text librdkafka expects.
void flatten_kafka(std::string_view name, const toml::table& table, const std::string& prefix,
                   std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& [key, node] : table) {
    if (prefix.empty() && (key == "option_file" || key == "consumer" || key == "producer"))
      continue;  // ours, not librdkafka's
    std::string full = prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    if (const toml::table* t = node.as_table()) {
      flatten_kafka(name, *t, full, out);
    } else if (auto s = node.value_exact<std::string>()) {
      out.emplace_back(full, *s);
    } else if (auto b = node.value_exact<bool>()) {
      out.emplace_back(full, *b ? "true" : "false");
    } else if (auto i = node.value_exact<int64_t>()) {
      out.emplace_back(full, std::to_string(*i));
    } else if (auto d = node.value_exact<double>()) {
      out.emplace_back(full, fmt::format("{}", *d));
    } else {
      usage_error("{}: [kafka] {} must be a string, number or boolean", where(name, node), full);
    }
  }
}

void parse_service_tables(const toml::table& root, std::string_view name, ServiceSettings& s) {
  auto table_of = [&](std::string_view t) -> const toml::table* {
    const toml::node* n = root.get(t);
    if (!n) return nullptr;
    if (!n->is_table()) usage_error("{}: '{}' must be a table", where(name, *n), t);
    return n->as_table();
  };
  auto unknown = [&](std::string_view table, std::string_view key, const toml::node& node, std::string_view expected) {
    usage_error("{}: unknown key [{}] {} (expected {})", where(name, node), table, key, expected);
  };
  if (const toml::table* t = table_of("input")) {
    for (const auto& [key, node] : *t) {
      std::string_view k = key.str();
      if (k == "endpoint" || k == "endpoints") endpoint_list(name, node, "input", k, s.inputs);
      else if (k == "listen") s.listen = string_value(name, node, "input", k);
      else if (k == "format") s.format = string_value(name, node, "input", k);
      else if (k == "rejects") s.rejects = string_value(name, node, "input", k);
      else if (k == "state") s.state = string_value(name, node, "input", k);
      else if (k == "group") s.group = string_value(name, node, "input", k);
      else if (k == "where") s.where = string_value(name, node, "input", k);
      else if (k == "bots") s.bots = string_value(name, node, "input", k);
      else if (k == "follow" || k == "scale_out") {
        std::optional<bool> b = node.value_exact<bool>();
        if (!b) usage_error("{}: [input] {} must be true or false", where(name, node), k);
        (k == "follow" ? s.follow : s.scale_out) = *b;
      } else if (k == "idle_exit") {
        int64_t us = 0;
        if (auto text = node.value_exact<std::string>()) {
          if (!parse_duration(*text, us) || us <= 0)
            usage_error("{}: [input] idle_exit: bad duration '{}' (examples: 10s, 5m)", where(name, node), *text);
        } else {
          std::optional<double> v = node.value<double>();
          if (!v || !std::isfinite(*v) || *v <= 0)
            usage_error("{}: [input] idle_exit must be a duration such as \"10s\" or a positive number of seconds",
                        where(name, node));
          us = static_cast<int64_t>(std::llround(*v * 1e6));
        }
        s.idle_exit_us = us;
      } else {
        unknown("input", k, node, "endpoint, endpoints, listen, format, rejects, state, group, where, bots, follow, scale_out, "
                "idle_exit");
      }
    }
  }
  if (const toml::table* t = table_of("alerts")) {
    for (const auto& [key, node] : *t) {
      std::string_view k = key.str();
      if (k == "endpoint" || k == "endpoints") endpoint_list(name, node, "alerts", k, s.alerts);
      else if (k == "generator_url") s.generator_url = string_value(name, node, "alerts", k);
      else if (k == "runbook_url") s.runbook_url = string_value(name, node, "alerts", k);
      else if (k == "severity") {
        // [alerts.severity] METRIC = "LEVEL": the Alertmanager severity label of that metric.
        if (!node.is_table()) usage_error("{}: [alerts] severity must be a table of METRIC = \"LEVEL\"", where(name, node));
        for (const auto& [metric, level] : *node.as_table()) {
          if (find_metric(metric.str()) == kMetricCount)
            usage_error("{}: [alerts.severity] unknown metric '{}'", where(name, level), metric.str());
          s.severities.emplace_back(std::string(metric.str()), string_value(name, level, "alerts.severity", metric.str()));
        }
      } else unknown("alerts", k, node, "endpoint, endpoints, generator_url, runbook_url, severity");
    }
  }
  if (const toml::table* t = table_of("prometheus")) {
    for (const auto& [key, node] : *t) {
      std::string_view k = key.str();
      if (k == "listen") s.metrics_listen = string_value(name, node, "prometheus", k);
      else if (k == "top_keys") {
        std::optional<int64_t> n = node.value_exact<int64_t>();
        if (!n || *n < 0 || *n > 1000)
          usage_error("{}: [prometheus] top_keys must be a whole number from 0 to 1000", where(name, node));
        s.metrics_top_keys = static_cast<size_t>(*n);
      } else unknown("prometheus", k, node, "listen, top_keys");
    }
  }
  if (const toml::table* t = table_of("tls")) {
    for (const auto& [key, node] : *t) {
      std::string_view k = key.str();
      if (k == "cert") s.tls_cert = string_value(name, node, "tls", k);
      else if (k == "key") s.tls_key = string_value(name, node, "tls", k);
      else if (k == "ca") s.tls_ca = string_value(name, node, "tls", k);
      else unknown("tls", k, node, "cert, key, ca");
    }
  }
  if (const toml::table* t = table_of("kafka")) {
    if (const toml::node* f = t->get("option_file")) s.kafka_option_file = string_value(name, *f, "kafka", "option_file");
    flatten_kafka(name, *t, "", s.kafka_options);
    // [kafka.consumer] and [kafka.producer]: settings for one role (after the shared ones).
    for (auto [role, out] : {std::pair{"consumer", &s.kafka_consumer_options}, std::pair{"producer", &s.kafka_producer_options}}) {
      const toml::node* n = t->get(role);
      if (!n) continue;
      if (!n->is_table()) usage_error("{}: [kafka] {} must be a table ([kafka.{}])", where(name, *n), role, role);
      flatten_kafka(name, *n->as_table(), "", *out);
    }
  }
  // A top-level table one or two letters away from a known one is a typo ([allerts] would
  // silently send alerts to stdout); anything else is left for tools' notes.
  for (const auto& [key, node] : root) {
    std::string_view k = key.str();
    bool known = false, near = false;
    for (std::string_view t : kTables) {
      known = known || k == t;
      near = near || edit_distance(k, t) <= 2;
    }
    if (!known && near) {
      std::string list;
      for (std::string_view t : kTables) list += fmt::format("{}[{}]", list.empty() ? "" : ", ", t);
      usage_error("{}: unknown table [{}] (known: {})", where(name, node), k, list);
    }
  }
}

}  // namespace

ThresholdConfig parse_threshold_config(std::string_view text, std::string_view name) {
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    usage_error("{}:{}: {}", name, e.source().begin.line, e.description());
  }
  ThresholdConfig c;
  if (const toml::table* window = root["window"].as_table()) {
    for (const auto& [key, node] : *window) {
      std::string origin = fmt::format("{}: [window] {}", where(name, node), key.str());
      if (key == "size_s") {
        c.window_us = seconds_value(name, node, "size_s", false);
        c.origins.window = origin;
      } else if (key == "hop_s") {
        c.hop_us = seconds_value(name, node, "hop_s", false);
        c.origins.hop = origin;
      } else if (key == "lateness_s") {
        c.lateness_us = seconds_value(name, node, "lateness_s", true);
        c.origins.lateness = origin;
      } else if (key == "max_keys") {
        std::optional<int64_t> v = node.value_exact<int64_t>();
        if (!v || *v < 16 || static_cast<uint64_t>(*v) > kMaxKeysLimit)
          usage_error("{}: [window] max_keys must be an integer from 16 to {}", where(name, node), kMaxKeysLimit);
        c.service.max_keys = static_cast<size_t>(*v);
        c.origins.max_keys = origin;
      } else usage_error("{}: unknown key [window] {} (expected size_s, hop_s, lateness_s, max_keys)", where(name, node), key.str());
    }
  } else if (root.contains("window")) {
    usage_error("{}: 'window' must be a table", name);
  }
  if (const toml::table* errors = root["errors"].as_table()) {
    for (const auto& [key, node] : *errors) {
      const toml::array* list = node.as_array();
      if (key == "statuses") {
        if (!list) usage_error("{}: [errors] statuses must be an array such as [500, \"4xx\", \"502-504\"]", where(name, node));
        std::bitset<1000> statuses;
        for (const auto& item : *list) {
          std::string spec;
          if (auto i = item.value<int64_t>()) spec = std::to_string(*i);
          else if (auto s = item.value<std::string>()) spec = *s;
          if (!ErrorRules::add_statuses(spec, statuses))
            usage_error("{}: [errors] statuses: bad entry (expected 500, \"5xx\" or \"400-499\")", where(name, item));
        }
        c.error_statuses = statuses;
      } else if (key == "levels") {
        if (!list) usage_error("{}: [errors] levels must be an array such as [\"ERROR\", \"FATAL\"]", where(name, node));
        std::vector<std::string> levels;
        for (const auto& item : *list) {
          auto text = item.value<std::string>();
          if (!text || text->find(',') != std::string::npos || !ErrorRules::parse_levels(*text, levels))
            usage_error("{}: [errors] levels: bad entry (expected a level name such as \"ERROR\")", where(name, item));
          c.error_levels.emplace_back(levels.front());
        }
        if (list->empty()) c.error_levels.clear();
        c.has_error_levels = true;
      } else {
        usage_error("{}: unknown key [errors] {} (expected statuses, levels)", where(name, node), key.str());
      }
    }
  }
  if (const toml::table* metrics = root["metrics"].as_table()) {
    for (const auto& [metric_name, node] : *metrics) {
      MetricId id = find_metric(metric_name.str());
      if (id == kMetricCount)
        usage_error("{}: unknown metric [metrics.{}] (known: {})", where(name, node), metric_name.str(), known_metrics());
      const toml::table* t = node.as_table();
      if (!t) usage_error("{}: [metrics.{}] must be a table", where(name, node), metric_name.str());
      const std::string_view metric_text = metric_name.str();  // lambdas cannot capture bindings (clang 14)
      auto number = [&](const toml::node& value, std::string_view key, double lo) {
        std::optional<double> v = value.value<double>();
        if (!v || !std::isfinite(*v) || *v < lo)
          usage_error("{}: [metrics.{}] {} must be a number of at least {}", where(name, value), metric_text, key, lo);
        return *v;
      };
      CusumRule cusum;
      bool statistical = false, cusum_keys = false;
      for (const auto& [key, value] : *t) {
        if (key == "rule") {
          std::optional<std::string> v = value.value<std::string>();
          if (!v || (*v != "cusum" && *v != "threshold"))
            usage_error("{}: [metrics.{}] rule must be \"threshold\" or \"cusum\"", where(name, value), metric_name.str());
          statistical = *v == "cusum";
        } else if (key == "limit_fast") { cusum.limit_fast = number(value, key, 0); cusum_keys = true;
        } else if (key == "limit_slow") { cusum.limit_slow = number(value, key, 0); cusum_keys = true;
        } else if (key == "prior") { cusum.prior = number(value, key, 0); cusum_keys = true;
        } else if (key == "prior_weight") { cusum.prior_weight = number(value, key, 0); cusum_keys = true;
        } else if (key == "fast_shift") { cusum.fast_shift = number(value, key, 1.01); cusum_keys = true;
        } else if (key == "slow_shift") { cusum.slow_shift = number(value, key, 1.01); cusum_keys = true;
        } else if (key == "fast_leak") { cusum.fast_leak = number(value, key, 0); cusum_keys = true;
        } else if (key == "slow_leak") { cusum.slow_leak = number(value, key, 0); cusum_keys = true;
        } else if (key == "prior_share") { cusum.prior_share = number(value, key, 0); cusum_keys = true;
        } else if (key == "half_life") { cusum.half_life = number(value, key, 1); cusum_keys = true;
        } else if (key == "latency_factor") { cusum.latency_factor = number(value, key, 1.01); cusum_keys = true;
        } else if (key == "dispersion") { cusum.dispersion = number(value, key, 1); cusum_keys = true;
        } else if (key == "min_expected") { cusum.min_expected = number(value, key, 0); cusum_keys = true;
        } else if (key == "threshold") {
          std::optional<double> v = value.value<double>();
          if (!v || !std::isfinite(*v) || *v < 0)  // a negative threshold fires in every window
            usage_error("{}: [metrics.{}] threshold must be a number >= 0", where(name, value), metric_name.str());
          c.metrics[id].threshold = *v;
        } else if (key == "min_requests") {
          std::optional<int64_t> v = value.value<int64_t>();
          if (!v || *v < 0)
            usage_error("{}: [metrics.{}] min_requests must be a non-negative integer", where(name, value),
                        metric_name.str());
          c.metrics[id].min_requests = static_cast<uint64_t>(*v);
        } else {
          usage_error("{}: unknown key [metrics.{}] {} (expected threshold, min_requests, or rule = \"cusum\" and "
                      "its limit_fast, limit_slow, prior, prior_share, prior_weight, fast_shift, slow_shift, fast_leak, "
                      "slow_leak, half_life, "
                      "latency_factor, dispersion, min_expected)",
                      where(name, value), metric_name.str(), key.str());
        }
      }
      if (cusum_keys && !statistical)
        usage_error("{}: [metrics.{}] has statistical keys but no rule = \"cusum\"", where(name, node), metric_name.str());
      if (statistical) {
        if (c.metrics[id].threshold)
          usage_error("{}: [metrics.{}] rule = \"cusum\" takes no threshold", where(name, node), metric_name.str());
        if (!(cusum.limit_fast > 0 && cusum.limit_slow > 0))
          usage_error("{}: [metrics.{}] rule = \"cusum\" needs limit_fast and limit_slow above 0", where(name, node),
                      metric_name.str());
        c.metrics[id].cusum = cusum;
      }
    }
  }
  if (const toml::table* baselines = root["baselines"].as_table()) {
    for (const auto& [metric_name, node] : *baselines) {
      MetricId id = find_metric(metric_name.str());
      const toml::table* t = node.as_table();
      if (id == kMetricCount || !t)
        usage_error("{}: [baselines.{}]: not a metric table (known: {})", where(name, node), metric_name.str(), known_metrics());
      for (const auto& [key, value] : *t) {
        std::optional<double> v = value.value<double>();
        if (!v || !std::isfinite(*v) || *v < 0)
          usage_error("{}: [baselines.{}] \"{}\" must be a non-negative number", where(name, value), metric_name.str(), key.str());
        c.baselines[id].emplace_back(std::string(key.str()), *v);
      }
    }
  }
  parse_service_tables(root, name, c.service);
  return c;
}

std::string read_settings_file(const std::string& path, std::string_view option) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) system_error(errno, fmt::format("{}: cannot open '{}'", option, path));
  std::string text;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) runtime_error("{}: cannot read '{}'", option, path);
  return text;
}

ThresholdConfig load_threshold_config(const std::string& path) {
  return parse_threshold_config(read_settings_file(path, "--config"), path);
}

void ThresholdConfig::apply_to(EngineConfig& engine) const {
  if (window_us) engine.window_us = *window_us;
  if (hop_us) engine.hop_us = *hop_us;
  if (lateness_us) engine.lateness_us = *lateness_us;
  if (service.max_keys) engine.max_keys = *service.max_keys;
  for (size_t m = 0; m < kMetricCount; ++m)
    if (metrics[m].min_requests) engine.min_requests[m] = *metrics[m].min_requests;
  apply_to(engine.errors);
}

void ThresholdConfig::apply_to(ErrorRules& errors) const {
  if (error_statuses) errors.statuses = *error_statuses;
  if (has_error_levels) errors.levels = error_levels;
}

AlertRules ThresholdConfig::rules() const {
  AlertRules r;
  for (size_t m = 0; m < kMetricCount; ++m) {
    r.metrics[m].threshold = metrics[m].threshold;
    r.metrics[m].cusum = metrics[m].cusum;
    for (const auto& [key, value] : baselines[m]) r.baselines[m][key] = value;
  }
  return r;
}

std::array<std::optional<double>, kMetricCount> ThresholdConfig::thresholds() const {
  std::array<std::optional<double>, kMetricCount> t;
  for (size_t m = 0; m < kMetricCount; ++m) t[m] = metrics[m].threshold;
  return t;
}

std::string format_threshold_config(const ThresholdConfig& c, const std::array<std::string, kMetricCount>* comments) {
  std::string out;
  auto seconds = [](int64_t us) { return fmt::format("{}", static_cast<double>(us) / 1e6); };
  if (c.window_us || c.hop_us || c.lateness_us) {
    out += "[window]\n";
    if (c.window_us) out += fmt::format("size_s = {}\n", seconds(*c.window_us));
    if (c.hop_us) out += fmt::format("hop_s = {}\n", seconds(*c.hop_us));
    if (c.lateness_us) out += fmt::format("lateness_s = {}\n", seconds(*c.lateness_us));
  }
  if (c.error_statuses) {
    out += "\n[errors]\nstatuses = [";
    bool first = true;
    for (size_t s = 100; s < 1000; ++s) {
      if (!c.error_statuses->test(s)) continue;
      out += fmt::format("{}{}", first ? "" : ", ", s);
      first = false;
    }
    out += "]\n";
  }
  if (c.has_error_levels) {
    out += c.error_statuses ? "levels = [" : "\n[errors]\nlevels = [";
    for (size_t i = 0; i < c.error_levels.size(); ++i) out += fmt::format("{}\"{}\"", i ? ", " : "", c.error_levels[i]);
    out += "]\n";
  }
  // Shortest round-trip form; a whole number keeps a ".0" so that TOML reads a float.
  auto real = [](double d) {
    std::string v = fmt::format("{}", d);
    if (v.find_first_of(".eEn") == std::string::npos) v += ".0";
    return v;
  };
  for (size_t m = 0; m < kMetricCount; ++m) {
    const MetricSettings& s = c.metrics[m];
    if (!s.threshold && !s.min_requests && !s.cusum) continue;
    out += '\n';
    if (comments && !(*comments)[m].empty()) out += fmt::format("# {}\n", (*comments)[m]);
    out += fmt::format("[metrics.{}]\n", kMetrics[m].name);
    if (s.threshold) out += fmt::format("threshold = {}\n", real(*s.threshold));
    if (s.min_requests) out += fmt::format("min_requests = {}\n", *s.min_requests);
    if (s.cusum) {
      const CusumRule& r = *s.cusum;
      const CusumRule d;
      out += "rule = \"cusum\"\n";
      out += fmt::format("limit_fast = {}\nlimit_slow = {}\nprior = {}\n", real(r.limit_fast), real(r.limit_slow),
                         real(r.prior));
      // The other parameters only when they differ from the defaults (docs/detection.md).
      auto other = [&](const char* key, double v, double def) {
        if (v != def) out += fmt::format("{} = {}\n", key, real(v));
      };
      other("prior_weight", r.prior_weight, d.prior_weight);
      other("fast_shift", r.fast_shift, d.fast_shift);
      other("slow_shift", r.slow_shift, d.slow_shift);
      other("fast_leak", r.fast_leak, d.fast_leak);
      other("slow_leak", r.slow_leak, d.slow_leak);
      other("prior_share", r.prior_share, d.prior_share);
      other("half_life", r.half_life, d.half_life);
      other("latency_factor", r.latency_factor, d.latency_factor);
      other("dispersion", r.dispersion, d.dispersion);
      other("min_expected", r.min_expected, d.min_expected);
    }
  }
  for (size_t m = 0; m < kMetricCount; ++m) {
    if (c.baselines[m].empty()) continue;
    out += fmt::format("\n[baselines.{}]\n", kMetrics[m].name);
    for (const auto& [key, value] : c.baselines[m]) {
      std::string quoted;
      append_json_string(quoted, key);  // a JSON string is a TOML basic string
      out += fmt::format("{} = {}\n", quoted, real(value));
    }
  }
  return out;
}

std::pair<MetricId, std::string_view> parse_metric_assignment(std::string_view text, std::string_view option) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos) usage_error("{}: expected NAME=VALUE, got '{}'", option, text);
  std::string_view metric = text.substr(0, eq);
  MetricId id = find_metric(metric);
  if (id == kMetricCount) usage_error("{}: unknown metric '{}' (known: {})", option, metric, known_metrics());
  return {id, text.substr(eq + 1)};
}

namespace detail {
std::string toml_version() {  // for --version (version.cc)
  return fmt::format("toml++ {}.{}.{}", TOML_LIB_MAJOR, TOML_LIB_MINOR, TOML_LIB_PATCH);
}
}  // namespace detail

}  // namespace logpipe
