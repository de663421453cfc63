// The file/stdin line source: CR stripping, last line without newline, follow (growth, rotation).
#include "logpipe/io/endpoint.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <string>

using namespace logpipe;

namespace {

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() / (std::string("logpipe_fl_") + std::to_string(::getpid()) + name)).string();
}

void write_file(const std::string& path, const std::string& text, const char* mode = "wb") {
  std::FILE* f = std::fopen(path.c_str(), mode);
  REQUIRE(f);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

}  // namespace

TEST_CASE("file lines: CR is stripped, blank lines kept, the last line needs no newline") {
  std::string p = temp_path("a");
  write_file(p, "a\r\nb\n\nc");
  auto src = open_line_source(p, EndpointOptions{});
  std::string_view line;
  std::vector<std::string> got;
  while (src->next(line, 100) == LineSource::Status::kLine) got.emplace_back(line);
  CHECK(got == std::vector<std::string>{"a", "b", "", "c"});
  CHECK(src->line_number() == 4);
  CHECK_FALSE(src->truncated());
  std::filesystem::remove(p);
}

TEST_CASE("file lines: follow waits at the end, reads appended lines, then the rotated file") {
  std::string p = temp_path("f");
  write_file(p, "one\n");
  EndpointOptions o;
  o.follow = true;
  auto src = open_line_source(p, o);
  std::string_view line;
  REQUIRE(src->next(line, 50) == LineSource::Status::kLine);
  CHECK(line == "one");
  CHECK(src->next(line, 50) == LineSource::Status::kTimeout);
  write_file(p, "two\npart", "ab");
  REQUIRE(src->next(line, 50) == LineSource::Status::kLine);
  CHECK(line == "two");
  CHECK(src->next(line, 50) == LineSource::Status::kTimeout);  // "part" waits for its newline
  std::filesystem::rename(p, p + ".1");
  write_file(p, "three\n");
  REQUIRE(src->next(line, 50) == LineSource::Status::kLine);
  CHECK(line == "part");  // the old file's unterminated last line, delivered at rotation
  REQUIRE(src->next(line, 50) == LineSource::Status::kLine);
  CHECK(line == "three");
  CHECK(src->line_number() == 1);
  std::filesystem::remove(p);
  std::filesystem::remove(p + ".1");
}
