// logpipe anonymize: pseudonymise users (HMAC-SHA256, as FUN did) and drop PII, keeping every
// other byte of each line.
#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cli/command.h"
#include "logpipe/anonymize.h"
#include "logpipe/config.h"
#include "logpipe/error.h"
#include "logpipe/io/endpoint.h"
#include "logpipe/io/files.h"
#include "logpipe/io/inputs.h"
#include "logpipe/malformed.h"
#include "logpipe/pump.h"

namespace logpipe::cli {
namespace {

struct AnonymizeCliOptions {
  InputOptions input;
  std::string key_file;
  std::string key_env;
  std::vector<std::string> hash_fields;
  std::vector<std::string> drop;
  bool no_default_drop = false;
  std::string ip = "keep";
  std::string prefix = "keep";
  std::string profile = "default";
  std::vector<std::string> scrub;
  bool remap_ids = false;
  std::string user_info;
  bool audit = false;
  // Whether the flag was given (a profile sets only what was not).
  bool ip_given = false, prefix_given = false, scrub_given = false;
  std::string output = "-";
  unsigned threads = 2;
  std::string listen;
  EndpointOptions net;  ///< --tls-*, --kafka-option[-file], --group, --idle-exit (input and -o)
};

// The whole file is the key, minus one trailing newline ("\n" or "\r\n"): `echo secret > key`
// must give the key `secret`, which is what FUN's Python used as its secret string.
// A key that cannot be read is a usage error (exit 2), as a missing key is.
std::string read_key_file(const std::string& path) {
  std::string key;
  try {
    key = read_settings_file(path, "--key-file");
  } catch (const Error& e) {
    usage_error("{}", e.what());
  }
  // Whoever reads the key can re-identify every user of the anonymised logs.
  warn_if_readable_by_others(path, "the HMAC key");
  if (!key.empty() && key.back() == '\n') {
    key.pop_back();
    if (!key.empty() && key.back() == '\r') key.pop_back();
  }
  return key;
}

// Forwards to the output and remembers whether it failed, so that an output error (disk full) is
// never mistaken for an input cut short (which keeps what was written and renames it into place).
class OutputGuard final : public ByteSink {
 public:
  explicit OutputGuard(ByteSink& sink) : sink_(sink) {}
  void write(std::string_view data) override { guarded([&] { sink_.write(data); }); }
  void flush() override { guarded([&] { sink_.flush(); }); }
  void close() override { guarded([&] { sink_.close(); }); }
  bool all_delivered() const noexcept override { return sink_.all_delivered(); }
  const std::string& name() const noexcept override { return sink_.name(); }
  bool failed() const noexcept { return failed_; }

 private:
  template <class F>
  void guarded(F&& f) {
    try {
      f();
    } catch (...) {
      failed_ = true;
      throw;
    }
  }
  ByteSink& sink_;
  bool failed_ = false;
};

// --audit: what would still identify someone, one row per kind found; exit 1 when any is found.
int print_audit(const AnonymizeStats& stats) {
  size_t kinds = 0;
  uint64_t total = 0;
  for (size_t k = 0; k < kFindingKinds; ++k)
    if (stats.findings[k].count != 0 && static_cast<Finding>(k) != Finding::kUserId) {
      ++kinds;
      total += stats.findings[k].count;
    }
  std::string out = fmt::format("anonymize --audit: {} line{} read ({} rejected)\n", stats.lines,
                                stats.lines == 1 ? "" : "s", stats.rejected);
  for (size_t k = 0; k < kFindingKinds; ++k) {
    const auto& f = stats.findings[k];
    if (f.count == 0) continue;
    const bool info = static_cast<Finding>(k) == Finding::kUserId;
    out += fmt::format("  {:<46} {:>10}  first at {}{}\n", finding_label(static_cast<Finding>(k)), f.count, f.first,
                       info ? "  (not counted: use --remap-ids)" : "");
  }
  if (kinds == 0)
    out += "nothing found that identifies someone\n";
  else
    out += fmt::format("{} findings of {} kinds: not safe to share as it is (see docs/anonymize.md)\n", total, kinds);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return kinds == 0 ? kExitOk : kExitRuntime;
}

int run_anonymize(AnonymizeCliOptions& c) {
  // Parse and validate everything before reading any log (STYLE.md rule 4).
  AnonymizeOptions o;
  if (c.audit) {
    if (c.output != "-") usage_error("--audit writes no output: -o/--output does not apply");
    // Nothing is written: the pseudonyms computed on the way are thrown away, so any key will do.
    o.key = "logpipe --audit";
  } else if (!c.key_file.empty()) {
    o.key = read_key_file(c.key_file);
    if (o.key.empty()) usage_error("--key-file '{}': the key is empty", c.key_file);
  } else {
    const char* v = std::getenv(c.key_env.c_str());
    if (!v) usage_error("--key-env {}: the variable is not set", c.key_env);
    o.key = v;
    if (o.key.empty()) usage_error("--key-env {}: the key is empty", c.key_env);
  }
  o.format = c.input.format;
  if (o.format != "auto") make_parser(o.format);  // rejects an unknown format now
  o.hash_fields = {"username"};
  for (const auto& f : c.hash_fields)
    if (f != "username") o.hash_fields.push_back(f);
  if (!c.no_default_drop)
    for (auto f : kDefaultDropFields) o.drop_fields.emplace_back(f);
  for (const auto& f : c.drop) o.drop_fields.push_back(f);
  // --profile share: everything that identifies someone, unless a flag says otherwise.
  const bool share = c.profile == "share";
  if (share && !c.ip_given) c.ip = "truncate";
  if (share && !c.prefix_given) c.prefix = "strip";
  o.remap_ids = c.remap_ids || share;
  std::vector<std::string> scrub = c.scrub_given ? c.scrub
                                   : share       ? std::vector<std::string>{"emails", "phones", "urls", "ips"}
                                                 : std::vector<std::string>{"emails", "urls"};
  o.scrub_emails = o.scrub_phones = o.scrub_url_users = o.scrub_ips = false;
  for (const auto& what : scrub) {
    if (what == "emails") o.scrub_emails = true;
    else if (what == "phones") o.scrub_phones = true;
    else if (what == "urls") o.scrub_url_users = true;
    else if (what == "ips") o.scrub_ips = true;
    else if (what == "none" && scrub.size() == 1) continue;
    else usage_error("--scrub: '{}' is not one of emails, phones, urls, ips (or none alone)", what);
  }
  if (!c.user_info.empty()) {
    std::string csv;
    try {
      csv = read_settings_file(c.user_info, "--user-info");
    } catch (const Error& e) {
      usage_error("{}", e.what());
    }
    o.users = parse_user_info(csv, c.user_info);
    if (user_info_size(*o.users) == 0) usage_error("--user-info {}: no user in the table", c.user_info);
  }
  o.audit = c.audit;
  o.ip = c.ip == "hash" ? IpMode::kHash : c.ip == "truncate" ? IpMode::kTruncate : IpMode::kKeep;
  o.strip_prefix = c.prefix == "strip";
  if (c.threads == 0) usage_error("--threads: must be at least 1");
  o.threads = c.threads;
  o.stop_at_reject = c.input.strict;
  if (o.format != "auto") {
    AnonymizeOptions check = o;
    Anonymizer validate(check);  // bad paths, --hash-field with an access-log format
  }

  std::vector<std::string> endpoints = resolve_inputs(c.input.inputs, c.listen, c.net);
  finish_endpoint_options(c.net);  // LOGPIPE_KAFKA_* from the environment, TLS flag checks
  auto inputs = open_pump_inputs(endpoints, c.net, FileReading::kBatch, c.input.verbose);
  EndpointOptions output_options = c.net;
  output_options.listen = false;
  // A file is replaced only once complete: an error or a full disk leaves no half-anonymised copy.
  auto sink = endpoint_scheme(c.output) == "file" ? open_output_replacing(c.output)
                                                  : open_sink(c.output, output_options);
  MalformedLog malformed(open_rejects(c.input.rejects), c.input.strict);
  RecordPump pump(pump_options(c.input, 1), malformed);

  // An input that fails mid-read (a compressed file cut short): what was read before is written
  // and the counts printed, then exit 1; Kafka offsets are not committed then.
  std::string input_error;
  OutputGuard guard(*sink);
  AnonymizeWriter writer(o, guard, malformed);
  try {
    pump.run_lines(inputs, writer);
  } catch (const Error& e) {
    if (e.exit_code() != kExitRuntime || guard.failed()) throw;
    input_error = e.what();
  }
  const AnonymizeStats& stats = writer.stats();
  // A stop signal that cut a file short: like calibrate, nothing replaces the output then.
  finish_whole_output(pump, inputs, *sink, c.output, malformed, input_error.empty(), fmt::format("{} lines", stats.lines),
                      fmt::format("{} of the lines", stats.written));
  if (c.input.verbose)
    fmt::print(stderr, "logpipe: {} lines read, {} written, {} rejected ({} bytes in, {} out)\n",
               stats.lines, stats.written, stats.rejected, stats.bytes_in, stats.bytes_out);
  malformed.print_summary(stderr);
  if (!input_error.empty()) runtime_error("{}", input_error);
  if (c.audit) return print_audit(stats);
  return kExitOk;
}

}  // namespace

RunFn setup_anonymize(CLI::App& command) {
  auto o = std::make_shared<AnonymizeCliOptions>();
  command.footer(
      "The key never appears on the command line. A username becomes\n"
      "hmac.new(key, username.encode(), hashlib.sha256).hexdigest(), as in FUN's shared logs.\n"
      "Lines that cannot be rewritten safely (not a JSON object, unparsable access-log line) are\n"
      "never written: they are counted on stderr and kept only in --rejects.");
  auto* key_file = command.add_option(
      "--key-file", o->key_file,
      "Read the HMAC key from FILE (whole content; one trailing newline is stripped)");
  key_file->type_name("FILE");
  auto* key_env = command.add_option("--key-env", o->key_env,
                                     "Read the HMAC key from environment variable VAR");
  key_env->type_name("VAR");
  key_file->excludes(key_env);
  key_env->excludes(key_file);
  command
      .add_option("--hash-field", o->hash_fields,
                  "Also hash this edx dotted JSON path (username, context.username, event.username and "
                  "event.user always are) or fields: field; repeatable")
      ->type_name("PATH")
      ->allow_extra_args(false);  // `--hash-field a FILE`: FILE stays an input
  command
      .add_option("--drop", o->drop,
                  "edx: also remove these dotted JSON paths (comma-separated; default list: "
                  "email, address, full_name, first_name, last_name, phone, mailing_address; never the event's name)")
      ->delimiter(',')
      ->type_name("FIELD,...")
      ->allow_extra_args(false);
  command.add_flag("--no-default-drop", o->no_default_drop,
                   "edx: do not remove the default PII fields");
  auto* ip = command
                 .add_option("--ip", o->ip,
                             "Client addresses: keep, hash (HMAC hex) or truncate (/24 IPv4, /48 IPv6); "
                             "edx: ip, context.ip, context.client.ip")
                 ->check(CLI::IsMember({"keep", "hash", "truncate"}))
                 ->capture_default_str();
  auto* prefix = command
                     .add_option("--prefix", o->prefix,
                                 "Lines behind a syslog, CRI or Docker prefix (FUN's syslog+edx): keep the prefix's "
                                 "bytes, or strip it and write the rewritten message alone")
                     ->check(CLI::IsMember({"keep", "strip"}))
                     ->capture_default_str();
  command
      .add_option("--profile", o->profile,
                  "share: everything that identifies someone (--scrub emails,phones,urls,ips --remap-ids --ip truncate "
                  "--prefix strip, unless given); default: the defaults of each flag")
      ->check(CLI::IsMember({"default", "share"}))
      ->capture_default_str();
  auto* scrub = command
                    .add_option("--scrub", o->scrub,
                                "JSON string values: replace e-mail addresses (<<EMAIL>>), phone numbers "
                                "(<<PHONE_NUMBER>>), names in /u/NAME and /users/NAME URLs (pseudonym), IPv4 addresses (/24); "
                                "comma-separated, default emails,urls; none for no scrubbing")
                    ->delimiter(',')
                    ->type_name("WHAT,...")
                    ->allow_extra_args(false);
  command.add_flag("--remap-ids", o->remap_ids,
                   "edx: context.user_id, event.user_id and numeric /users/ID by a keyed permutation (same key, "
                   "same id)");
  command
      .add_option("--user-info", o->user_info,
                  "CSV of username,full name,e-mail: each line's user's full name and username are replaced in its "
                  "string values (<<FULLNAME>>, <<USERNAME>>)")
      ->type_name("FILE");
  command.add_flag("--audit", o->audit,
                   "Write nothing: report what would still identify someone (kinds, counts, first FILE:LINE); "
                   "exit 1 when anything is found");
  command.add_option("-o,--output", o->output, "Write to ENDPOINT (default -; .gz/.zst compress)")
      ->type_name("ENDPOINT");
  command
      .add_option("-j,--threads", o->threads,
                  "Rewriting threads (blocks are written in input order)")
      ->check(whole_number(1, 64))
      ->capture_default_str();
  add_input_options(command, o->input);
  add_listen_option(command, o->listen, "reading ends on SIGTERM/SIGINT or after --idle-exit");
  add_endpoint_options(command, o->net, /*input_side=*/true);
  return [o, key_file, key_env, ip, prefix, scrub] {
    o->ip_given = ip->count() != 0;
    o->prefix_given = prefix->count() != 0;
    o->scrub_given = scrub->count() != 0;
    if (key_file->count() == 0 && key_env->count() == 0 && !o->audit)
      usage_error("anonymize: a key is required: --key-file FILE or --key-env VAR");
    return run_anonymize(*o);
  };
}

}  // namespace logpipe::cli
