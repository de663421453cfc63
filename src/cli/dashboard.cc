#include "cli/dashboard.h"

#include "logpipe/error.h"
#include "logpipe/live.h"
#include "logpipe/text.h"
#include "logpipe/timeutil.h"

#include <curses.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <langinfo.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <clocale>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <thread>
#include <vector>

namespace logpipe::cli {

namespace {

enum class SortBy { kRequests, kErrors, kErrorRate };
constexpr const char* kSortNames[] = {"requests", "errors", "error rate"};
constexpr const char* kTableNames[] = {"URLs", "Users", "IPs"};

double error_share(uint64_t errors, uint64_t outcomes) {
  return outcomes ? static_cast<double>(errors) / static_cast<double>(outcomes) : 0;
}

std::string percent(uint64_t errors, uint64_t outcomes) {
  return outcomes ? fmt::format("{:.2f}%", 100 * error_share(errors, outcomes)) : "-";
}

std::string ms(double v) {
  if (v < 0) return "-";
  return v < 1000 ? fmt::format("{:.1f} ms", v) : fmt::format("{:.2f} s", v / 1000);
}

std::string per_second(double v) { return v < 100 ? fmt::format("{:.2f}", v) : grouped(static_cast<uint64_t>(v + 0.5)); }

// A sparkline of the last `width` values, scaled to their maximum (at least `floor`).
std::string sparkline(const std::vector<double>& values, size_t width, double floor, bool utf8) {
  static constexpr const char* kBlocks[] = {"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};
  static constexpr char kAscii[] = "_.,-=+*#";
  const size_t n = std::min(width, values.size());
  double top = floor;
  for (size_t i = values.size() - n; i < values.size(); ++i) top = std::max(top, values[i]);
  std::string out;
  for (size_t i = values.size() - n; i < values.size(); ++i) {
    const int level = std::clamp(static_cast<int>(values[i] / top * 7.999), 0, 7);
    if (utf8) out += kBlocks[level];
    else out += kAscii[level];
  }
  return out;
}

// `s` cut to `width` columns (UTF-8 sequences counted as one column each, not split).
std::string fit(std::string_view s, size_t width) {
  std::string out;
  size_t cols = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80) {
      if (cols == width) break;
      ++cols;
    }
    out += (c < 0x20 || c == 0x7f) ? '?' : s[i];
  }
  out.append(width - cols, ' ');
  return out;
}

}  // namespace

struct Dashboard::Impl {
  const LiveBoard& board;
  std::string title;
  SCREEN* screen = nullptr;
  bool utf8 = false;
  std::thread thread;
  std::atomic<bool> stopping{false};
  bool stopped = false;
  // stderr while the screen is up.
  int saved_stderr = -1, pipe_read = -1;
  std::string pending;          // a line not ended yet
  std::deque<std::string> log;  // the last lines (shown)
  std::string captured;         // everything (written out at the end)
  // View state (the UI thread's).
  bool paused = false, editing = false;
  SortBy sort = SortBy::kRequests;
  size_t table = 0, scroll = 0;
  std::string filter, typing;
  LiveSnapshot shown;

  Impl(const LiveBoard& b, std::string t) : board(b), title(std::move(t)) {}

  void drain() {
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(pipe_read, buf, sizeof buf);
      if (n <= 0) break;
      captured.append(buf, static_cast<size_t>(n));
      pending.append(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
        log.push_back(pending.substr(0, nl));
        pending.erase(0, nl + 1);
        if (log.size() > 50) log.pop_front();
      }
    }
  }

  void line(int y, std::string_view text, int attributes = 0) {
    if (y >= LINES) return;
    attron(attributes);
    mvaddstr(y, 0, fit(text, static_cast<size_t>(COLS)).c_str());
    attroff(attributes);
  }

  void draw() {
    if (!paused) shown = board.snapshot();
    erase();
    const size_t cols = static_cast<size_t>(COLS);
    const LiveWindow* w = shown.windows.empty() ? nullptr : &shown.windows.back();
    std::string head = fmt::format("logpipe stream  {}  window {}  {}", paused ? "PAUSED" : "live",
                                   w ? fmt::format("{} - {}", time_text(w->start_us), time_text(w->end_us).substr(11))
                                     : std::string("none closed yet"),
                                   title);
    line(0, head, A_REVERSE);
    int y = 1;
    if (w) {
      std::string counts = fmt::format("requests {}  {} req/s  errors {}  error rate {}  5xx {}",
                                       grouped(w->totals.requests), per_second(w->request_rate),
                                       grouped(w->totals.errors), percent(w->totals.errors, w->totals.with_status),
                                       grouped(w->totals.server_errors));
      std::string latency = fmt::format("latency p50 {}  p95 {}  p99 {}", ms(w->p50_ms), ms(w->p95_ms), ms(w->p99_ms));
      if (counts.size() + 2 + latency.size() <= cols) {
        line(y++, counts + "  " + latency);
      } else {  // narrow: two lines
        line(y++, counts);
        line(y++, latency);
      }
      std::vector<double> rates, errors;
      for (const LiveWindow& x : shown.windows) {
        rates.push_back(x.request_rate);
        errors.push_back(x.error_rate);
      }
      const size_t spark = cols > 24 ? cols - 24 : 1;
      double top_rate = *std::max_element(rates.begin(), rates.end());
      double top_error = std::max(0.01, *std::max_element(errors.begin(), errors.end()));
      line(y++, fmt::format("req/s {:>9} {}", per_second(top_rate), sparkline(rates, spark, 1, utf8)));
      line(y++, fmt::format("errors {:>7.1f}% {}", 100 * top_error, sparkline(errors, spark, 0.01, utf8)));
    } else {
      line(y++, "waiting for the first window to close...");
    }
    line(y++, fmt::format("open alerts {}  ({} fired, {} resolved)", shown.open.size(), shown.fired, shown.resolved),
         shown.open.empty() ? A_BOLD : A_BOLD | A_STANDOUT);
    const size_t alert_rows = std::min<size_t>(shown.open.size(), LINES >= 40 ? 8 : 3);
    for (size_t i = 0; i < alert_rows; ++i) {
      std::string text;
      append_alert_text(text, shown.open[shown.open.size() - 1 - i]);  // newest first
      if (!text.empty() && text.back() == '\n') text.pop_back();
      line(y++, text);
    }
    // The table.
    std::vector<const LiveKey*> rows;
    if (w)
      for (const LiveKey& k : w->top[table])
        if (filter.empty() || k.key.find(filter) != std::string::npos) rows.push_back(&k);
    auto rank = [&](const LiveKey* a, const LiveKey* b) {
      switch (sort) {
        case SortBy::kErrors:
          if (a->errors != b->errors) return a->errors > b->errors;
          break;
        case SortBy::kErrorRate: {
          double x = error_share(a->errors, a->outcomes), z = error_share(b->errors, b->outcomes);
          if (x != z) return x > z;
          break;
        }
        case SortBy::kRequests: break;
      }
      return a->requests != b->requests ? a->requests > b->requests : a->key < b->key;
    };
    std::stable_sort(rows.begin(), rows.end(), rank);
    ++y;
    line(y++, fmt::format("{} ({} of the window's {})  sorted by {}{}", kTableNames[table], rows.size(),
                          w ? (table == 0 ? w->urls : table == 1 ? w->users : w->ips) : 0, kSortNames[int(sort)],
                          editing ? "  filter: " + typing + "_" : filter.empty() ? "" : "  filter: " + filter),
         A_BOLD);
    const bool urls = table == 0;
    const size_t numbers = urls ? 44 : 33;
    const size_t key_width = cols > numbers + 10 ? cols - numbers : 10;
    line(y++, fmt::format("{}{:>11}{:>11}{:>11}{}", fit("key", key_width), "requests", "errors", "error rate",
                          urls ? fmt::format("{:>11}", "p99") : ""),
         A_UNDERLINE);
    const int log_rows = LINES >= 40 ? 4 : 2;
    const int table_rows = std::max(0, LINES - y - log_rows - 1);
    scroll = std::min(scroll, rows.size() > static_cast<size_t>(table_rows) ? rows.size() - table_rows : 0);
    for (int i = 0; i < table_rows && scroll + i < rows.size(); ++i) {
      const LiveKey& k = *rows[scroll + i];
      line(y++, fmt::format("{}{:>11}{:>11}{:>11}{}", fit(k.key, key_width - 1) + " ", grouped(k.requests),
                            grouped(k.errors), percent(k.errors, k.outcomes),
                            urls ? fmt::format("{:>11}", ms(k.p99_ms)) : ""),
           k.errors ? A_BOLD : 0);
    }
    // Messages, then the keys.
    int ly = LINES - log_rows - 1;
    for (size_t i = log.size() > static_cast<size_t>(log_rows) ? log.size() - log_rows : 0; i < log.size(); ++i)
      line(ly++, log[i], A_DIM);
    line(LINES - 1, "q quit  p pause  s sort  Tab urls/users/ips  / filter  Up/Down scroll", A_REVERSE);
    refresh();
  }

  // True when the key changed what is shown.
  bool key(int ch) {
    if (editing) {
      if (ch == '\n' || ch == KEY_ENTER) {
        filter = typing;
        editing = false;
      } else if (ch == 27) {
        editing = false;
        filter.clear();
      } else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
        if (!typing.empty()) typing.pop_back();
      } else if (ch >= 0x20 && ch < 0x7f) {
        typing += static_cast<char>(ch);
      } else {
        return false;
      }
      scroll = 0;
      return true;
    }
    switch (ch) {
      case 'q': case 'Q': ::kill(::getpid(), SIGINT); return false;  // as Ctrl-C: stream ends cleanly
      case 'p': case 'P': case ' ': paused = !paused; return true;
      case 's': case 'S': sort = static_cast<SortBy>((static_cast<int>(sort) + 1) % 3); return true;
      case '\t': table = (table + 1) % 3; scroll = 0; return true;
      case '/': editing = true; typing = filter; return true;
      case 27: filter.clear(); return true;
      case KEY_DOWN: case 'j': ++scroll; return true;
      case KEY_UP: case 'k': if (scroll) --scroll; return true;
      case KEY_RESIZE: return true;
      default: return false;
    }
  }

  void run() {
    auto last = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    uint64_t version = UINT64_MAX;
    while (!stopping) {
      const int ch = getch();  // waits up to 200 ms
      bool redraw = ch != ERR && key(ch);
      drain();
      const auto now = std::chrono::steady_clock::now();
      if (now - last >= std::chrono::seconds(1)) {
        redraw = redraw || paused || board.version() != version || !log.empty();
        last = now;
      }
      if (redraw) {
        draw();
        version = shown.version;
      }
    }
  }
};

Dashboard::Dashboard(const LiveBoard& board, std::string title) : impl_(std::make_unique<Impl>(board, std::move(title))) {
  if (!::isatty(STDOUT_FILENO) || !::isatty(STDIN_FILENO))
    usage_error("--dashboard needs a terminal on stdin and stdout (read the input with --input or a file argument)");
  std::setlocale(LC_ALL, "");
  impl_->utf8 = std::strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
  impl_->screen = newterm(nullptr, stdout, stdin);
  if (!impl_->screen) usage_error("--dashboard: the terminal '{}' is unknown", std::getenv("TERM") ? std::getenv("TERM") : "");
  cbreak();  // Ctrl-C still stops the stream
  noecho();
  keypad(stdscr, TRUE);
  curs_set(0);
  set_escdelay(25);
  timeout(200);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) == 0) {
    std::fflush(stderr);
    impl_->saved_stderr = ::dup(STDERR_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[1]);
    impl_->pipe_read = fds[0];
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  }
  impl_->thread = std::thread([this] { impl_->run(); });
}

Dashboard::~Dashboard() { stop(); }

void Dashboard::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->stopping = true;
  impl_->thread.join();
  endwin();
  delscreen(impl_->screen);
  if (impl_->saved_stderr >= 0) {
    std::fflush(stderr);
    ::dup2(impl_->saved_stderr, STDERR_FILENO);
    ::close(impl_->saved_stderr);
    impl_->drain();
    ::close(impl_->pipe_read);
    if (!impl_->captured.empty()) {
      if (impl_->captured.back() != '\n') impl_->captured += '\n';
      (void)!::write(STDERR_FILENO, impl_->captured.data(), impl_->captured.size());
    }
  }
}

}  // namespace logpipe::cli
