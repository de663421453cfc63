#include "logpipe/io/files.h"
#include "logpipe/error.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

using namespace logpipe;

namespace {

// Serves a string in chunks of a given size, to exercise buffer boundaries.
class StringSource : public ByteSource {
 public:
  StringSource(std::string data, size_t chunk) : data_(std::move(data)), chunk_(chunk) {}
  size_t read(char* buf, size_t n) override {
    size_t k = std::min(std::min(n, chunk_), data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  const std::string& name() const noexcept override { return name_; }

 private:
  std::string data_;
  size_t chunk_, pos_ = 0;
  std::string name_ = "test";
};

std::vector<std::string> lines_of(const std::string& data, size_t chunk, size_t buffer) {
  StringSource src(data, chunk);
  LineReader reader(src, buffer);
  std::vector<std::string> out;
  std::string_view line;
  while (reader.next(line)) out.emplace_back(line);
  return out;
}

}  // namespace

TEST_CASE("line reader: CRLF, empty lines, last line without newline") {
  for (size_t chunk : {1, 3, 7, 4096}) {
    for (size_t buffer : {4, 16, 1 << 20}) {
      auto lines = lines_of("a\r\n\nbb\ncc", chunk, buffer);
      REQUIRE(lines.size() == 4);
      CHECK(lines[0] == "a");
      CHECK(lines[1] == "");
      CHECK(lines[2] == "bb");
      CHECK(lines[3] == "cc");
    }
  }
}

TEST_CASE("line reader: a line over the cap is one cut piece, then its rest in pieces to skip") {
  // Every chunking and buffer size gives the same pieces: the first 10 bytes of a long line as
  // kCut (one line number), the rest as kRest (same number), ordinary lines around it whole; a
  // line of exactly the cap is whole.
  const std::string input = "ab\n" + std::string(35, 'x') + "\n" + std::string(10, 'y') + "\nc\n" + std::string(12, 'z');
  for (size_t chunk : {1, 3, 7, 4096}) {
    for (size_t buffer : {4, 16, 1 << 20}) {
      StringSource src(input, chunk);
      LineReader reader(src, buffer, 10);
      std::vector<std::string> whole, cut;
      std::vector<uint64_t> cut_numbers;
      size_t rest = 0;
      std::string_view line;
      while (reader.next(line)) {
        if (reader.line_size() == LineSize::kWhole) whole.emplace_back(line);
        if (reader.line_size() == LineSize::kCut) {
          cut.emplace_back(line);
          cut_numbers.push_back(reader.line_number());
        }
        if (reader.line_size() == LineSize::kRest) {
          rest += line.size();
          CHECK(reader.line_number() == cut_numbers.back());
        }
      }
      CHECK(whole == std::vector<std::string>{"ab", std::string(10, 'y'), "c"});
      CHECK(cut == std::vector<std::string>{std::string(10, 'x'), std::string(10, 'z')});
      CHECK(cut_numbers == std::vector<uint64_t>{2, 5});
      CHECK(rest == 25 + 2);
      CHECK(reader.line_number() == 5);
    }
  }
}

TEST_CASE("line reader: a line longer than the buffer grows it") {
  std::string big(100000, 'x');
  auto lines = lines_of("s\n" + big + "\nt\n", 1000, 64);
  REQUIRE(lines.size() == 3);
  CHECK(lines[1] == big);
  CHECK(lines[2] == "t");
}

TEST_CASE("line reader: NUL bytes are data") {
  std::string data("a\0b\nc", 5);
  auto lines = lines_of(data, 2, 16);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == std::string("a\0b", 3));
}

TEST_CASE("line reader: line numbers and bytes") {
  StringSource src("x\ny\n", 100);
  LineReader reader(src);
  std::string_view line;
  REQUIRE(reader.next(line));
  CHECK(reader.line_number() == 1);
  REQUIRE(reader.next(line));
  CHECK(reader.line_number() == 2);
  CHECK(reader.bytes_read() == 4);
  CHECK_FALSE(reader.next(line));
}

namespace {

// Serves `data`, then fails like a gzip file cut short.
class FailingSource : public ByteSource {
 public:
  explicit FailingSource(std::string data) : data_(std::move(data)) {}
  size_t read(char* buf, size_t n) override {
    if (pos_ == data_.size()) throw Error(kExitRuntime, "test: truncated gzip data");
    size_t k = std::min(n, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  const std::string& name() const noexcept override { return name_; }

 private:
  std::string data_;
  size_t pos_ = 0;
  std::string name_ = "test";
};

}  // namespace

TEST_CASE("LineReader: a source that fails hands out its whole lines, then the cut one, then throws") {
  FailingSource source("one\ntwo\nthr");
  LineReader reader(source);
  std::string_view line;
  REQUIRE(reader.next(line));
  CHECK(line == "one");
  CHECK_FALSE(reader.truncated());
  REQUIRE(reader.next(line));
  CHECK(line == "two");
  CHECK_FALSE(reader.truncated());
  REQUIRE(reader.next(line));
  CHECK(line == "thr");
  CHECK(reader.truncated());
  CHECK(reader.line_number() == 3);
  CHECK_THROWS_WITH_AS(reader.next(line), "test: truncated gzip data", Error);
}

TEST_CASE("LineReader: a source that fails after a newline throws with no cut line") {
  FailingSource source("one\n");
  LineReader reader(source);
  std::string_view line;
  REQUIRE(reader.next(line));
  CHECK_FALSE(reader.truncated());
  CHECK_THROWS_AS(reader.next(line), Error);
}
