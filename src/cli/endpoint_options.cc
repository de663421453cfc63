// The flags of the network endpoints, registered once here for every command that opens one
// (generate -o, stream --input/--alerts, ...), so that their spelling and help never diverge.
//
// Kafka settings go to librdkafka unchanged. Secrets (sasl.password, ssl.key.password, ...) are
// refused on the command line, where `ps` and shell history would show them: they come from
// --kafka-option-file or LOGPIPE_KAFKA_<KEY> environment variables instead.
#include "cli/command.h"

#include "logpipe/config.h"
#include "logpipe/error.h"
#include "logpipe/timeutil.h"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <sys/stat.h>
#include <string>
#include <string_view>
#include <tuple>

extern char** environ;

namespace logpipe::cli {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Splits KEY=VALUE; `where` names the flag or file line for the message. The value is never
// included in a message: it may be a password.
std::pair<std::string, std::string> split_key_value(std::string_view text, const std::string& where) {
  size_t eq = text.find('=');
  std::string_view key = eq == std::string_view::npos ? std::string_view{} : trim(text.substr(0, eq));
  if (key.empty()) usage_error("{}: expected KEY=VALUE", where);
  return {std::string(key), std::string(text.substr(eq + 1))};
}

// A byte count: digits with an optional K, M or G (powers of 1024). False when malformed or
// beyond what a size_t holds.
bool parse_byte_count(std::string_view text, size_t& out) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return false;
  uint64_t value = 0;
  auto r = std::from_chars(text.data(), text.data() + digits, value);
  if (r.ec != std::errc()) return false;
  std::string_view unit = text.substr(digits);
  unsigned shift = 0;
  if (unit == "K" || unit == "k") shift = 10;
  else if (unit == "M" || unit == "m") shift = 20;
  else if (unit == "G" || unit == "g") shift = 30;
  else if (!unit.empty()) return false;
  if (value > (UINT64_MAX >> shift)) return false;
  out = static_cast<size_t>(value << shift);
  return true;
}

}  // namespace

bool is_secret_key(std::string_view key) {
  return key.find("password") != std::string_view::npos ||
         key.find("secret") != std::string_view::npos || key == "ssl.key.pem" ||
         key == "sasl.oauthbearer.config";
}

void warn_if_readable_by_others(const std::string& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || (st.st_mode & (S_IRGRP | S_IROTH)) == 0) return;
  fmt::print(stderr,
             "logpipe: warning: '{}' holds {} and is readable by {}; run chmod 600 on it (or chmod 640 for a "
             "service group)\n",
             path, what, (st.st_mode & S_IROTH) ? "every user" : "its group");
}

void warn_if_secrets_exposed(const std::string& path, const std::vector<std::pair<std::string, std::string>>& options) {
  for (const auto& [key, value] : options)
    if (is_secret_key(key)) return warn_if_readable_by_others(path, key);
}

// Reads `key=value` lines ('#' comments and blank lines allowed; the value runs to the end of the
// line, spaces kept except around the key). The content is never echoed.
void read_kafka_option_file(const std::string& path, std::vector<std::pair<std::string, std::string>>& out) {
  std::string content = read_settings_file(path, "--kafka-option-file");
  std::vector<std::pair<std::string, std::string>> options;
  std::string_view rest = content;
  for (int line_number = 1; !rest.empty(); ++line_number) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view t = trim(line);
    if (t.empty() || t.front() == '#') continue;
    options.push_back(split_key_value(line, fmt::format("{}:{}", path, line_number)));
  }
  warn_if_secrets_exposed(path, options);
  out.insert(out.end(), options.begin(), options.end());
}

void add_endpoint_options(CLI::App& command, EndpointOptions& o, bool input_side) {
  const char* group = "Endpoint options";
  // CLI11's ExistingFile without its description, which would print as "FILE:FILE" in --help.
  CLI::Validator existing_file = CLI::ExistingFile;
  existing_file.description("");
  command.add_option("--tls-cert", o.tls_cert, "PEM certificate for tls:// (server, or client cert)")
      ->type_name("FILE")
      ->check(existing_file)
      ->group(group);
  command.add_option("--tls-key", o.tls_key, "PEM private key of --tls-cert")
      ->type_name("FILE")
      ->check(existing_file)
      ->group(group);
  command
      .add_option("--tls-ca", o.tls_ca,
                  "CA bundle: a client verifies the server; a server requires client certificates")
      ->type_name("FILE")
      ->check(existing_file)
      ->group(group);
  // Defined before --kafka-option: CLI11 runs callbacks in definition order, so settings given on
  // the command line override those of the file.
  command
      .add_option_function<std::string>(
          "--kafka-option-file", [&o](const std::string& path) { read_kafka_option_file(path, o.kafka_options); },
          "File of librdkafka KEY=VALUE lines (for passwords: never on the command line)")
      ->type_name("FILE")
      ->check(existing_file)
      ->group(group);
  // --kafka-option for both roles, then one per role (applied after it); secrets stay off argv.
  for (auto [flag, out, help] :
       {std::tuple{"--kafka-option", &o.kafka_options,
                   "librdkafka setting passed unchanged (repeatable), e.g. security.protocol=SASL_SSL; a property "
                   "of one role only (group.id, acks) goes to that role"},
        std::tuple{"--kafka-consumer-option", &o.kafka_consumer_options,
                   "librdkafka setting for Kafka consumers (inputs) only, after --kafka-option (repeatable)"},
        std::tuple{"--kafka-producer-option", &o.kafka_producer_options,
                   "librdkafka setting for Kafka producers (outputs) only, after --kafka-option (repeatable)"}}) {
    std::string name = flag;
    command
        .add_option_function<std::vector<std::string>>(
            name,
            [out = out, name](const std::vector<std::string>& values) {
              for (const std::string& v : values) {
                auto kv = split_key_value(v, name);
                if (is_secret_key(kv.first))
                  usage_error("{} {}: secrets are not accepted on the command line; use --kafka-option-file or "
                              "the environment variable LOGPIPE_KAFKA_{}",
                              name, kv.first, kafka_env_name(kv.first));
                out->push_back(std::move(kv));
              }
            },
            help)
        ->type_name("KEY=VALUE")
        ->take_all()
        ->allow_extra_args(false)
        ->group(group);
  }
  command
      .add_option_function<std::string>(
          "--retry-for",
          [&o](const std::string& text) {
            if (!parse_duration(text, o.retry_for_us) || o.retry_for_us <= 0)
              usage_error("--retry-for: bad duration '{}' (expected e.g. 30s, 5m, 250ms)", text);
          },
          "tcp://, tls:// and kafka:// outputs: keep trying to reach a server that is down for DURATION "
          "(default 60s), then fail (kafka://: librdkafka's message.timeout.ms)")
      ->type_name("DURATION")
      ->group(group);
  if (!input_side) return;
  command.add_option("--group", o.kafka_group, "Kafka consumer group (instances share partitions)")
      ->type_name("ID")
      ->capture_default_str()
      ->group(group);
  command
      .add_option_function<std::string>(
          "--idle-exit",
          [&o](const std::string& text) {
            if (!parse_duration(text, o.idle_exit_us) || o.idle_exit_us <= 0)
              usage_error("--idle-exit: bad duration '{}' (expected e.g. 30s, 5m, 250ms)", text);
          },
          "End an input after DURATION without data (network inputs; with stream also pipes and followed files)")
      ->type_name("DURATION")
      ->group(group);
  command
      .add_option_function<std::string>(
          "--max-line-bytes",
          [&o](const std::string& text) {
            constexpr size_t kMin = 1u << 10, kMax = 1u << 30;
            if (!parse_byte_count(text, o.max_line_bytes) || o.max_line_bytes < kMin || o.max_line_bytes > kMax)
              usage_error("--max-line-bytes: expected a size from 1K to 1G such as 64M, got '{}'", text);
          },
          "Longest line kept whole (K, M, G suffixes; default 64M): a longer one is cut there, counted as one "
          "malformed line, its rest skipped (files, pipes and sockets)")
      ->type_name("BYTES")
      ->group(group);
}

void add_listen_option(CLI::App& command, std::string& listen, const std::string& what) {
  command.add_option("--listen", listen,
                     "Serve an input endpoint instead of FILES: tcp://HOST:PORT, tls://HOST:PORT or "
                     "udp://HOST:PORT (many clients; port 0 = any free port); " + what)
      ->type_name("ENDPOINT");
}

std::vector<std::string> resolve_inputs(std::vector<std::string> inputs, const std::string& listen,
                                        EndpointOptions& o) {
  if (!listen.empty()) {
    if (!inputs.empty()) usage_error("--listen: cannot be combined with --input or FILES");
    std::string_view scheme = endpoint_scheme(listen);
    if (scheme != "tcp" && scheme != "udp" && scheme != "tls")
      usage_error("--listen: expected tcp://HOST:PORT, tls://HOST:PORT or udp://HOST:PORT, got '{}'",
                  listen);
    inputs.push_back(listen);
    o.listen = true;
  }
  if (inputs.empty()) inputs.push_back("-");
  return inputs;
}

std::string kafka_env_name(std::string_view key) {
  std::string name;
  for (char c : key)
    name.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return name;
}

void finish_endpoint_options(EndpointOptions& o) {
  // LOGPIPE_KAFKA_SASL_PASSWORD=x -> sasl.password=x. Inserted first: files and flags win.
  std::vector<std::pair<std::string, std::string>> from_env;
  constexpr std::string_view kPrefix = "LOGPIPE_KAFKA_";
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry = *e;
    if (entry.substr(0, kPrefix.size()) != kPrefix) continue;
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos || eq == kPrefix.size()) continue;
    std::string key;
    for (char c : entry.substr(kPrefix.size(), eq - kPrefix.size()))
      key.push_back(c == '_' ? '.' : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    from_env.emplace_back(std::move(key), std::string(entry.substr(eq + 1)));
  }
  o.kafka_options.insert(o.kafka_options.begin(), from_env.begin(), from_env.end());
  o.stop = &g_stop_requested;  // outputs waiting for a server honour SIGINT/SIGTERM
  if (o.tls_key.empty() != o.tls_cert.empty())
    usage_error("--tls-cert and --tls-key go together (a certificate needs its private key)");
  if (!o.tls_key.empty()) warn_if_readable_by_others(o.tls_key, "a TLS private key");
}

}  // namespace logpipe::cli
