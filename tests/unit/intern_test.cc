#include "logpipe/intern.h"

#include <doctest/doctest.h>

#include <string>

using namespace logpipe;

TEST_CASE("string table: dense ids, stable strings, growth") {
  StringTable t;
  CHECK(t.intern("/a") == 0);
  CHECK(t.intern("/b") == 1);
  CHECK(t.intern("/a") == 0);
  CHECK(t.intern("") == 2);
  CHECK(t.find("/c") == StringTable::kNotFound);
  for (int i = 0; i < 100000; ++i) t.intern("key-" + std::to_string(i));
  CHECK(t.size() == 100003);
  CHECK(t.find("key-99999") == 100002);
  CHECK(t.str(0) == "/a");
  CHECK(t.str(2) == "");
  std::string big(1 << 20, 'x');
  uint32_t id = t.intern(big);
  CHECK(t.str(id) == big);
  CHECK(t.intern("after-big") == id + 1);
  CHECK(t.str(id + 1) == "after-big");
  t.clear();
  CHECK(t.size() == 0);
  CHECK(t.intern("/b") == 0);
}
