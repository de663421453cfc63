// Free-text scrubbing and id remapping (src/core/scrub.h) and their use by anonymize: e-mails,
// phone numbers, a user's names, names in profile URLs, --remap-ids, --audit.
//
// The finders' cases are edx-analytics-pipeline's own unit tests (tests/data/peers/eap-obfuscate.tsv,
// see its README): the same input gives the same output here.
#include "logpipe/anonymize.h"
#include "scrub.h"

#include <doctest/doctest.h>

#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace logpipe;
using namespace logpipe::detail;

namespace {

std::string replaced(std::string_view text, const std::vector<TextMatch>& matches) {
  std::string out;
  size_t pos = 0;
  for (const TextMatch& m : matches) {
    REQUIRE(m.begin >= pos);
    out.append(text.substr(pos, m.begin - pos));
    switch (m.kind) {
      case TextFind::kEmail: out += "<<EMAIL>>"; break;
      case TextFind::kPhone: out += "<<PHONE_NUMBER>>"; break;
      case TextFind::kFullname: out += "<<FULLNAME>>"; break;
      case TextFind::kUsername: out += "<<USERNAME>>"; break;
      case TextFind::kUrlUser: out += "<<URL_USER>>"; break;
      case TextFind::kIpv4: out += "<<IP>>"; break;
    }
    pos = m.end;
  }
  out.append(text.substr(pos));
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == sep) out.emplace_back();
    else out.back() += c;
  }
  return out;
}

// Python's re.finditer over the whole text, as obfuscate_text orders the finders: e-mails, the
// full names one after the other, the username, phone numbers.
std::string obfuscate(const std::string& text, const std::string& finder, const std::string& parameter) {
  std::vector<TextMatch> matches, more;
  if (finder == "email" || finder == "obfuscate") find_emails(text, matches);
  if (finder == "fullname") {
    UserPatterns(std::string(), parameter).find(text, matches);
  } else if (finder == "username") {
    UserPatterns(parameter, std::string()).find(text, matches);
  } else if (finder == "obfuscate") {
    auto parts = split(parameter, '|');
    for (size_t i = 1; i < parts.size(); ++i) {
      more.clear();
      UserPatterns(std::string(), parts[i]).find(text, more);
      merge_matches(matches, more);
    }
    more.clear();
    UserPatterns(parts[0], std::string()).find(text, more);
    merge_matches(matches, more);
  }
  if (finder == "phone" || finder == "obfuscate") {
    more.clear();
    find_phones(text, more);
    merge_matches(matches, more);
  }
  return replaced(text, matches);
}

std::string run(Anonymizer& a, std::string_view line) {
  std::string out;
  ParseError e = a.rewrite(line, out);
  if (e != ParseError::kNone) return "REJECTED: " + std::string(describe(e));
  return out;
}

constexpr const char* kBob = "9c90819f883772660da011f41042fabea4a174e2873386b30949f106dbac797e";

AnonymizeOptions share_options() {
  AnonymizeOptions o;
  o.key = "secret";
  o.format = "edx";
  for (auto f : kDefaultDropFields) o.drop_fields.emplace_back(f);
  o.scrub_phones = true;
  o.remap_ids = true;
  o.ip = IpMode::kTruncate;
  return o;
}

}  // namespace

TEST_CASE("edx-analytics-pipeline's obfuscation test cases give its expected output") {
  std::string path = std::string(LOGPIPE_SOURCE_DIR) + "/tests/data/peers/eap-obfuscate.tsv";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, path);
  std::string row;
  std::getline(in, row);
  CHECK(row == "finder\ttext\tparameter\texpected\tcase");
  std::set<std::string> finders;
  size_t cases = 0;
  while (std::getline(in, row)) {
    auto f = split(row, '\t');
    REQUIRE(f.size() == 5);
    CAPTURE(f[4]);
    CAPTURE(f[1]);
    CHECK(obfuscate(f[1], f[0], f[2]) == f[3]);
    finders.insert(f[0]);
    ++cases;
  }
  CHECK(cases == 100);
  CHECK(finders == std::set<std::string>{"email", "phone", "username", "fullname", "obfuscate"});
}

TEST_CASE("e-mail and phone finders: boundaries, several matches, text around") {
  std::vector<TextMatch> m;
  find_emails("a@b.c, x.y@z.example.org; not@this @x.y bad@-x.com end@host.", m);
  CHECK(replaced("a@b.c, x.y@z.example.org; not@this @x.y bad@-x.com end@host.", m) ==
        "<<EMAIL>>, <<EMAIL>>; not@this @x.y bad@-x.com end@host.");  // as Python's re: two labels at least
  m.clear();
  find_emails("mail@host_name.com a..b@c.de .lead@x.io", m);
  CHECK(replaced("mail@host_name.com a..b@c.de .lead@x.io", m) == "mail@host_name.com a..<<EMAIL>> .<<EMAIL>>");
  m.clear();
  // Times, dates, versions and ids are not phone numbers.
  std::string quiet = "2014-06-16T15:17:26.542134+00:00 v1.2.3 5551234567 12:30 block-v1:edX+DemoX+Demo_Course";
  find_phones(quiet, m);
  CHECK(m.empty());
  find_phones("call 555-1212 or +33 1 23 45 67 89, not 123.4567", m);
  CHECK(replaced("call 555-1212 or +33 1 23 45 67 89, not 123.4567", m) ==
        "call <<PHONE_NUMBER>> or <<PHONE_NUMBER>>, not 123.4567");
}

TEST_CASE("names in profile URLs") {
  std::vector<TextMatch> m;
  std::string t = "https://lms.example/u/bob?tab=1 /users/al%20ice/ /u/ /api/users/ x/u/z";
  find_url_users(t, m);
  CHECK(replaced(t, m) == "https://lms.example/u/<<URL_USER>>?tab=1 /users/<<URL_USER>>/ /u/ /api/users/ x/u/<<URL_USER>>");
}

TEST_CASE("--user-info table: header, quotes, errors") {
  auto t = UserTable::parse("username,name,email\nbob,\"Tables, Bobby\",bob@example.org\n\nal,Al\n", "u.csv");
  CHECK(t.size() == 2);
  REQUIRE(t.find("bob") != nullptr);
  CHECK(t.find("Bob") == nullptr);  // usernames are matched as logged
  CHECK(t.find("bob")->name_patterns() == std::vector<std::string>{"tables bobby", "tables", "bobby"});
  CHECK(t.emails() == std::vector<std::string>{"bob@example.org"});
  CHECK_THROWS_WITH(UserTable::parse("a,b,c,d\n", "u.csv"), doctest::Contains("u.csv:1"));
  CHECK_THROWS_WITH(UserTable::parse("a\n\"open\n", "u.csv"), doctest::Contains("u.csv:2"));
  CHECK_THROWS_WITH(UserTable::parse("a\n,Nobody\n", "u.csv"), doctest::Contains("username is empty"));
}

TEST_CASE("--remap-ids: a keyed one-to-one map that keeps small ids small") {
  IdRemapper a("secret"), b("secret"), other("other key");
  std::set<uint64_t> seen;
  for (uint64_t id = 0; id < 20000; ++id) {
    uint64_t v = a.remap(id);
    CHECK(v < (1ull << 32));
    seen.insert(v);
  }
  CHECK(seen.size() == 20000);  // no two ids share an image
  CHECK(a.remap(42) == b.remap(42));
  CHECK(a.remap(42) != other.remap(42));
  CHECK(a.remap(42) != 42);
  uint64_t big = (1ull << 40) + 7;
  CHECK(a.remap(big) >= (1ull << 32));
  CHECK(a.remap(big) == b.remap(big));
  // The whole 2^16 x 2^16 Feistel is a permutation: the ids of a dense range map to distinct ids.
  std::set<uint64_t> wide;
  for (uint64_t id = (1ull << 32) - 5000; id < (1ull << 32); ++id) wide.insert(a.remap(id));
  CHECK(wide.size() == 5000);
}

TEST_CASE("anonymize scrubs string values: e-mails by default, the rest by option") {
  AnonymizeOptions o;
  o.key = "secret";
  o.format = "edx";
  for (auto f : kDefaultDropFields) o.drop_fields.emplace_back(f);
  Anonymizer def(o);
  // Inside plain strings, arrays, nested objects and JSON held in a string; keys never change.
  CHECK(run(def, R"({"a": "mail bob@example.org now", "bob@example.org": ["x@y.zz"], "n": {"m": "tel 555-1212"}})") ==
        R"({"a": "mail <<EMAIL>> now", "bob@example.org": ["<<EMAIL>>"], "n": {"m": "tel 555-1212"}})");
  CHECK(run(def, R"({"event": "{\"POST\": {\"email\": [\"a@b.cd\"]}}"})") ==
        R"({"event": "{\"POST\": {\"email\": [\"<<EMAIL>>\"]}}"})");
  // An escaped string is decoded first: \u0040 is '@', the escapes around the match are kept.
  CHECK(run(def, R"({"a": "\"bob\u0040example.org\"\n"})") == R"({"a": "\"<<EMAIL>>\"\n"})");
  // A dropped member is not scrubbed (it is removed); a hashed one is hashed.
  CHECK(run(def, R"({"email": "a@b.cd", "username": "bob"})") == std::string(R"({"username": ")") + kBob + "\"}");
  // Profile URLs: the name is pseudonymised like the username, so analyses still join.
  CHECK(run(def, R"({"page": "https://lms/u/bob#x", "referer": "/users/bob/posts"})") ==
        std::string(R"({"page": "https://lms/u/)") + kBob + R"(#x", "referer": "/users/)" + kBob + "/posts\"}");
  // An already pseudonymised name and a numeric id (without --remap-ids) stay.
  std::string done = std::string(R"({"page": "/u/)") + kBob + R"(", "r": "/users/42"})";
  CHECK(run(def, done) == done);

  o.scrub_emails = o.scrub_url_users = false;
  Anonymizer none(o);
  std::string plain = R"({"a": "bob@example.org /u/bob", "username": ""})";
  CHECK(run(none, plain) == plain);
}

TEST_CASE("--profile share: ids remapped, phones scrubbed, the user's names with --user-info") {
  AnonymizeOptions o = share_options();
  o.users = parse_user_info("bob,Bobby Tables,bob@example.org\n", "users.csv");
  Anonymizer a(o);
  detail::IdRemapper ids("secret");
  std::string id42 = std::to_string(ids.remap(42));
  // The username comes after the free text: the line's user is known once the object is read.
  CHECK(run(a, R"({"event": {"answer": "I am Bobby (BOB), 201-555-1212", "user_id": "42"}, "context": {"user_id": 42}, "username": "bob"})") ==
        std::string(R"({"event": {"answer": "I am <<FULLNAME>> (<<USERNAME>>), <<PHONE_NUMBER>>", "user_id": ")") + id42 +
            R"("}, "context": {"user_id": )" + id42 + R"(}, "username": ")" + kBob + "\"}");
  // The same in JSON held in a string, and another user's names are left alone.
  CHECK(run(a, R"({"username": "bob", "event": "{\"body\": \"Bobby Tables and Alice\"}"})") ==
        std::string(R"({"username": ")") + kBob + R"(", "event": "{\"body\": \"<<FULLNAME>> and Alice\"}"})");
  CHECK(run(a, R"({"username": "alice", "event": {"body": "Bobby Tables"}})").find("Bobby Tables") != std::string::npos);
  // Ids that are not whole numbers are hashed as strings; null and "" stay; objects reject.
  CHECK(run(a, R"({"context": {"user_id": null}, "event": {"user_id": ""}})") ==
        R"({"context": {"user_id": null}, "event": {"user_id": ""}})");
  CHECK(run(a, R"({"context": {"user_id": -3}})").find("\"user_id\": \"") != std::string::npos);
  CHECK(run(a, R"({"context": {"user_id": {"id": 3}}})").starts_with("REJECTED"));
  // Numeric profile URLs are ids: remapped.
  CHECK(run(a, R"({"page": "/courses/x/discussion/forum/users/42"})") ==
        R"({"page": "/courses/x/discussion/forum/users/)" + id42 + "\"}");
  // Client addresses of the mobile apps' context too.
  CHECK(run(a, R"({"context": {"client": {"ip": "192.0.2.77"}}})") == R"({"context": {"client": {"ip": "192.0.2.0"}}})");
}

TEST_CASE("--audit counts what would still identify someone, and nothing in a shared file") {
  AnonymizeOptions share = share_options();
  share.users = parse_user_info("bob,Bobby Tables,bob@example.org\n", "users.csv");
  AnonymizeOptions audit;
  audit.key = "audit key";
  audit.format = "edx";
  for (auto f : kDefaultDropFields) audit.drop_fields.emplace_back(f);
  audit.audit = true;
  audit.users = share.users;
  Anonymizer check(audit), rewrite(share);
  std::string line =
      R"({"username": "bob", "email": "bob@example.org", "ip": "192.0.2.9", "page": "/u/bob", "context": {"user_id": 7},)"
      R"( "event": {"text": "Bobby at bob@example.org, +33 1 23 45 67 89"}})";
  std::string out;
  REQUIRE(check.rewrite(line, out) == ParseError::kNone);
  auto f = check.findings();
  auto at = [&](Finding k) { return f[static_cast<size_t>(k)]; };
  CHECK(at(Finding::kUserField) == 1);
  CHECK(at(Finding::kPersonalMember) == 1);
  CHECK(at(Finding::kAddress) == 1);
  CHECK(at(Finding::kUrlUser) == 1);
  CHECK(at(Finding::kUserId) == 1);
  CHECK(at(Finding::kEmail) == 1);
  CHECK(at(Finding::kPhone) == 1);
  CHECK(at(Finding::kFullname) == 1);
  std::string shared = run(rewrite, line);
  out.clear();
  REQUIRE(check.rewrite(shared, out) == ParseError::kNone);
  f = check.findings();
  for (size_t k = 0; k < kFindingKinds; ++k) {
    CAPTURE(finding_label(static_cast<Finding>(k)));
    CHECK(f[k] == (static_cast<Finding>(k) == Finding::kUserId ? 1u : 0u));
  }
}

TEST_CASE("--audit with a user table finds any user's full name where the user is a pseudonym") {
  AnonymizeOptions audit;
  audit.key = "audit key";
  audit.format = "edx";
  audit.audit = true;
  audit.users = parse_user_info("bob,Bobby Tables,\nal,Al,\n", "users.csv");
  Anonymizer check(audit);
  std::string out;
  REQUIRE(check.rewrite(std::string(R"({"username": ")") + kBob +
                            R"(", "event": {"t": "I, bobby  TABLES. And Al, and Bobby"}})",
                        out) == ParseError::kNone);
  // Whole names of two words or more only: "Al" alone, or "Bobby" alone, would flag every text.
  CHECK(check.findings()[static_cast<size_t>(Finding::kFullname)] == 1);
}

TEST_CASE("an Anonymizer keeps its user table alive after the options are gone") {
  std::unique_ptr<Anonymizer> a;
  {
    AnonymizeOptions o = share_options();
    o.users = parse_user_info("bob,Bobby Tables,\n", "users.csv");
    a = std::make_unique<Anonymizer>(o);
  }  // found by fuzz_anonymize: the table went with the options
  CHECK(run(*a, R"({"username": "bob", "event": {"t": "Bobby"}})") ==
        std::string(R"({"username": ")") + kBob + R"(", "event": {"t": "<<FULLNAME>>"}})");
}

TEST_CASE("access logs: names in profile URLs of the request and the referer") {
  AnonymizeOptions o;
  o.key = "secret";
  o.format = "combined";
  Anonymizer a(o);
  std::string line =
      R"(192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /u/bob?tab=2 HTTP/1.1" 200 5 "https://lms/users/bob/" "curl")";
  CHECK(run(a, line) == std::string(R"(192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /u/)") + kBob +
                            R"(?tab=2 HTTP/1.1" 200 5 "https://lms/users/)" + kBob + R"(/" "curl")");
  o.remap_ids = true;
  Anonymizer ids(o);
  detail::IdRemapper remapper("secret");
  CHECK(run(ids, R"(192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /users/42 HTTP/1.1" 200 5 "-" "curl")") ==
        R"(192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /users/)" + std::to_string(remapper.remap(42)) +
            R"( HTTP/1.1" 200 5 "-" "curl")");
  o.scrub_url_users = false;
  o.remap_ids = false;
  Anonymizer off(o);
  CHECK(run(off, line) == line);
}
