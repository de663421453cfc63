#include "logpipe/text.h"

#include "logpipe/record.h"

#include <doctest/doctest.h>

using namespace logpipe;

TEST_CASE("append_json_string: invalid UTF-8 and control bytes are escaped, valid UTF-8 kept") {
  std::string out;
  append_json_string(out, std::string_view("a\"b\\c\n\x01\xc3\xa9\xff\xed\xa0\x80", 13));
  CHECK(out == R"("a\"b\\c\n\u0001é\u00ff\u00ed\u00a0\u0080")");
}

TEST_CASE("append_json_string: overlong and surrogate UTF-8 sequences are escaped byte by byte") {
  std::string out;
  append_json_string(out, std::string_view("\xc0\xaf\xf4\x90\x80\x80\xf0\x9f\x98\x80", 10));
  // c0 af: overlong '/'; f4 90 80 80: above U+10FFFF; f0 9f 98 80: U+1F600, kept.
  CHECK(out == "\"\\u00c0\\u00af\\u00f4\\u0090\\u0080\\u0080\xf0\x9f\x98\x80\"");
}

TEST_CASE("grouped: commas every three digits from the right") {
  CHECK(grouped(0) == "0");
  CHECK(grouped(999) == "999");
  CHECK(grouped(1000) == "1,000");
  CHECK(grouped(123456) == "123,456");
  CHECK(grouped(1234567) == "1,234,567");
  CHECK(grouped(UINT64_MAX) == "18,446,744,073,709,551,615");
}

TEST_CASE("ascii_lower: A-Z only") {
  CHECK(ascii_lower('A') == 'a');
  CHECK(ascii_lower('Z') == 'z');
  CHECK(ascii_lower('a') == 'a');
  CHECK(ascii_lower('@') == '@');
  CHECK(ascii_lower('[') == '[');
  CHECK(ascii_lower('\xc3') == '\xc3');
}

TEST_CASE("human_bytes: bytes below 1 KiB exact, then one decimal per power of 1024") {
  CHECK(human_bytes(0) == "0 B");
  CHECK(human_bytes(1023) == "1023 B");
  CHECK(human_bytes(1024) == "1.0 KiB");
  CHECK(human_bytes(1536) == "1.5 KiB");
  CHECK(human_bytes(5ull << 30) == "5.0 GiB");
}

TEST_CASE("time_text: RFC 3339 seconds, '-' for an absent time") {
  CHECK(time_text(kNoTime) == "-");
  CHECK(time_text(0) == "1970-01-01T00:00:00Z");
  CHECK(time_text(1750665600'999999) == "2025-06-23T08:00:00Z");  // fraction dropped
  CHECK(time_text(-1'000'000) == "1969-12-31T23:59:59Z");
}
