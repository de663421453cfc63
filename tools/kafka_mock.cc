// logpipe-kafka-mock: a Kafka cluster for tests and benchmarks, made of librdkafka's mock brokers
// (rdkafka_mock.h). It speaks the real Kafka protocol on loopback, so our producer and consumer
// and an independent client (kcat) talk to it exactly as they would to a real cluster.
//
//   logpipe-kafka-mock [--brokers N] [--bootstrap-file FILE] [TOPIC[:PARTITIONS]]...
//
// Prints the bootstrap servers (one line) on stdout, writes them to FILE when asked (atomically:
// the file appears complete), then serves until SIGTERM/SIGINT. Reads commands on stdin, one per
// line, to simulate outages: `down ID`, `up ID` (ID -1 = every broker), `topic NAME PARTITIONS`,
// `topic-error NAME CODE` (every Metadata answer for NAME carries Kafka error CODE, e.g. 29 =
// TOPIC_AUTHORIZATION_FAILED, 3 = UNKNOWN_TOPIC_OR_PART; 0 clears it).
// Each command is acknowledged on stdout with `ok ...` or `error ...`.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <poll.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "logpipe-kafka-mock: %s\n", message.c_str());
  std::exit(2);
}

struct TopicSpec {
  std::string name;
  int partitions = 1;
};

TopicSpec parse_topic(const std::string& arg) {
  TopicSpec t;
  size_t colon = arg.find(':');
  t.name = arg.substr(0, colon);
  if (colon != std::string::npos) t.partitions = std::atoi(arg.c_str() + colon + 1);
  if (t.name.empty() || t.partitions <= 0) die("bad topic '" + arg + "' (expected NAME[:PARTITIONS])");
  return t;
}

void create_topic(rd_kafka_mock_cluster_t* cluster, const TopicSpec& t) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster, t.name.c_str(), t.partitions, 1);
  if (err) die("cannot create topic '" + t.name + "': " + rd_kafka_err2str(err));
}

// Executes one stdin command; returns the acknowledgement.
std::string run_command(rd_kafka_mock_cluster_t* cluster, const std::string& line) {
  char verb[16] = {0};
  char name[256] = {0};
  int number = 0;
  if (std::sscanf(line.c_str(), "%15s %d", verb, &number) == 2 &&
      (std::strcmp(verb, "down") == 0 || std::strcmp(verb, "up") == 0)) {
    rd_kafka_resp_err_t err = verb[0] == 'd' ? rd_kafka_mock_broker_set_down(cluster, number)
                                             : rd_kafka_mock_broker_set_up(cluster, number);
    if (err) return std::string("error ") + rd_kafka_err2str(err);
    return "ok " + line;
  }
  if (std::sscanf(line.c_str(), "topic %255s %d", name, &number) == 2 && number > 0) {
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster, name, number, 1);
    if (err) return std::string("error ") + rd_kafka_err2str(err);
    return "ok " + line;
  }
  if (std::sscanf(line.c_str(), "topic-error %255s %d", name, &number) == 2 && number >= 0) {
    rd_kafka_mock_topic_set_error(cluster, name, static_cast<rd_kafka_resp_err_t>(number));
    return "ok " + line;
  }
  return "error unknown command '" + line + "' (expected: down ID, up ID, topic NAME PARTITIONS, topic-error NAME CODE)";
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 1;
  std::string bootstrap_file;
  std::vector<TopicSpec> topics;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--brokers" || a == "-n") && i + 1 < argc) {
      brokers = std::atoi(argv[++i]);
      if (brokers <= 0) die("--brokers must be positive");
    } else if (a == "--bootstrap-file" && i + 1 < argc) {
      bootstrap_file = argv[++i];
    } else if (a == "-h" || a == "--help") {
      std::printf(
          "usage: logpipe-kafka-mock [--brokers N] [--bootstrap-file FILE] [TOPIC[:PARTITIONS]]...\n"
          "Runs a librdkafka mock cluster on loopback until SIGTERM. stdin commands:\n"
          "  down ID | up ID        take broker ID (-1 = all) down / bring it back\n"
          "  topic NAME PARTITIONS  create a topic\n"
          "  topic-error NAME CODE  answer Metadata for NAME with Kafka error CODE (0 clears)\n");
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      die("unknown option '" + a + "' (see --help)");
    } else {
      topics.push_back(parse_topic(a));
    }
  }

  // The mock cluster needs a client instance for its bookkeeping; a producer that never
  // produces is the lightest one.
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) die(std::string("cannot create the client instance: ") + errstr);
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (!cluster) die("cannot create the mock cluster");
  for (const TopicSpec& t : topics) create_topic(cluster, t);

  std::string bootstraps = rd_kafka_mock_cluster_bootstraps(cluster);
  if (!bootstrap_file.empty()) {
    std::string tmp = bootstrap_file + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f || std::fprintf(f, "%s\n", bootstraps.c_str()) < 0 || std::fclose(f) != 0 ||
        std::rename(tmp.c_str(), bootstrap_file.c_str()) != 0)
      die("cannot write '" + bootstrap_file + "': " + std::strerror(errno));
  }
  std::printf("%s\n", bootstraps.c_str());
  std::fflush(stdout);

  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART: poll() returns on the signal
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  bool stdin_open = true;
  std::string pending;
  while (!g_stop) {
    pollfd p{0, POLLIN, 0};
    // A bounded wait so that a signal arriving between the check and the wait is seen.
    int r = poll(&p, stdin_open ? 1 : 0, 500);
    if (r <= 0) continue;
    char buf[512];
    ssize_t n = read(0, buf, sizeof buf);
    if (n <= 0) {  // stdin closed (or /dev/null): keep serving until a signal
      stdin_open = false;
      continue;
    }
    pending.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (line.empty()) continue;
      std::printf("%s\n", run_command(cluster, line).c_str());
      std::fflush(stdout);
    }
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
