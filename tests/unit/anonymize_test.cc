#include "logpipe/anonymize.h"
#include "logpipe/netaddr.h"
#include "logpipe/malformed.h"

#include "fakes.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <string>


using namespace logpipe;
using namespace logpipe::testing;

// Hashes below: Python 3, hmac.new(b"secret", value.encode(), hashlib.sha256).hexdigest().
namespace {

constexpr const char* kStaff = "3a5a718d6fbddb1f5bec3966626d8f9f345cc5c10bd3fdcd3553a3b8548d1b9a";
constexpr const char* kJose =
    "132e79b985339267cd1dac454d61038356e35a05d42426928e07e8e17e984266";  // José
constexpr const char* kSmiley =
    "be63b08b9e62850073d169cdd40a7a35272eeb58b2a6ca2dd7790bc6a9a6578b";  // 😀x
constexpr const char* kIp =
    "06ebceaa785c0cdc17708eeae4c031a1a67a8a5f16e8280593e59380d3990cef";  // 192.0.2.17
constexpr const char* kNumber =
    "f88c7ebe4740db59c873cecf5e1f18e3726a1ad64068a13d764b79028430ab0e";  // 12345
constexpr const char* kBob = "9c90819f883772660da011f41042fabea4a174e2873386b30949f106dbac797e";
constexpr const char* kAlice = "4360c67bc81025114044578d7c4e8e0f02fd0cae99f22d603390e8f9dc9888f8";
constexpr const char* kText =
    "2f443685592900e619f2f3b2350c3c8a5738e2e7a26bc9a244d3393c3cd6abd6";  // text
constexpr const char* kQuote =
    "0181a70869e17900b648802e10edb14db86671a972bf16324891198f295bb2b7";  // a"b

AnonymizeOptions edx_options() {
  AnonymizeOptions o;
  o.key = "secret";
  o.format = "edx";
  for (auto f : kDefaultDropFields) o.drop_fields.emplace_back(f);
  return o;
}

// The rewritten line, or "REJECTED: reason".
std::string run(Anonymizer& a, std::string_view line) {
  std::string out = "unchanged";
  out.clear();
  ParseError e = a.rewrite(line, out);
  if (e != ParseError::kNone) {
    CHECK(out.empty());
    return "REJECTED: " + std::string(describe(e));
  }
  return out;
}

std::string sub(std::string s, const std::string& from, const std::string& to) {
  size_t p = s.find(from);
  REQUIRE(p != std::string::npos);
  return s.replace(p, from.size(), to);
}

}  // namespace

TEST_CASE("edx: username hashed, every other byte kept") {
  Anonymizer a(edx_options());
  std::string line =
      R"({"username": "staff",  "n":1.50E+3, "s":"caf\u00e9 \"x\"", "event": "{\"a\": 1}"})";
  CHECK(run(a, line) == sub(line, "\"staff\"", std::string("\"") + kStaff + "\""));
  // Compact spacing, username last.
  CHECK(run(a, R"({"a":[1,{"b":null}],"username":"staff"})") ==
        std::string(R"({"a":[1,{"b":null}],"username":")") + kStaff + "\"}");
}

TEST_CASE("edx: the decoded username is hashed (escapes, surrogate pairs)") {
  Anonymizer a(edx_options());
  CHECK(run(a, R"({"username": "Jos\u00e9"})") == std::string(R"({"username": ")") + kJose + "\"}");
  CHECK(run(a, "{\"username\": \"Jos\xc3\xa9\"}") ==
        std::string(R"({"username": ")") + kJose + "\"}");
  CHECK(run(a, R"({"username": "\ud83d\ude00x"})") ==
        std::string(R"({"username": ")") + kSmiley + "\"}");
  CHECK(run(a, R"({"username": "a\"b"})") == std::string(R"({"username": ")") + kQuote + "\"}");
  // A key spelled with an escape is still `username` (json.loads sees the same key).
  CHECK(run(a, R"({"user\u006eame": "staff"})") ==
        std::string(R"({"user\u006eame": ")") + kStaff + "\"}");
}

TEST_CASE("edx: empty and null usernames stay; numbers are hashed as written; others refused") {
  Anonymizer a(edx_options());
  CHECK(run(a, R"({"username": "", "x": 1})") == R"({"username": "", "x": 1})");
  CHECK(run(a, R"({"username": null})") == R"({"username": null})");
  CHECK(run(a, R"({"username": 12345})") == std::string(R"({"username": ")") + kNumber + "\"}");
  // A list (a Django form field, as in edx's POST data) is hashed element by element; a list that
  // holds a list or an object cannot be pseudonymised.
  CHECK(run(a, R"({"username": ["staff", null, "" , 12345]})") ==
        std::string(R"({"username": [")") + kStaff + R"(", null, "" , ")" + kNumber + "\"]}");
  CHECK(run(a, R"({"username": []})") == R"({"username": []})");
  CHECK(run(a, R"({"username": ["staff", ["bob"]]})") == "REJECTED: bad field value");
  CHECK(run(a, R"({"username": [{"n": "bob"}]})") == "REJECTED: bad field value");
  CHECK(run(a, R"({"username": ["staff",]})").starts_with("REJECTED"));
  CHECK(run(a, R"({"username": true})") == "REJECTED: bad field value");
  // A duplicated key is hashed at every occurrence (json.loads keeps the last one).
  CHECK(run(a, R"({"username": "staff", "username": "bob"})") ==
        std::string(R"({"username": ")") + kStaff + R"(", "username": ")" + kBob + "\"}");
}

TEST_CASE("edx: dropped members take exactly one separator with them") {
  Anonymizer a(edx_options());
  CHECK(run(a, R"({"a": 1, "email": "x@y", "b": 2})") == R"({"a": 1, "b": 2})");
  CHECK(run(a, R"({"email": "x@y", "a": 1})") == R"({"a": 1})");
  CHECK(run(a, R"({"a": 1, "email": "x@y"})") == R"({"a": 1})");
  CHECK(run(a, R"({"a": 1 , "email" : "x@y" })") == R"({"a": 1 })");
  CHECK(run(a, R"({"email": "x@y"})") == R"({})");
  CHECK(run(a, R"({ "email": {"nested": [1, 2]} })") == R"({  })");
  CHECK(run(a, R"({"full_name": "J", "email": "x", "a": 1, "phone": "1", "address": "2"})") ==
        R"({"a": 1})");
  CHECK(
      run(a, R"({"a":1,"full_name":"J","email":"x","b":{"email":"kept: not top level"},"phone":"1"})") ==
      R"({"a":1,"b":{"email":"kept: not top level"}})");
  // edX's `name` is the event's name, kept byte for byte.
  CHECK(run(a, R"({"name": "edx.course.enrollment.activated", "email": "x"})") ==
        R"({"name": "edx.course.enrollment.activated"})");
  CHECK(run(a, R"({"first_name": "J", "username": "staff", "last_name": "D"})") ==
        std::string(R"({"username": ")") + kStaff + "\"}");
}

TEST_CASE("edx: every place an event names its user is hashed by default") {
  Anonymizer a(edx_options());  // no --hash-field
  CHECK(run(a, R"({"username": "staff", "context": {"user_id": 5, "username": "bob"}, "event": {"user": "alice"}})") ==
        std::string(R"({"username": ")") + kStaff + R"(", "context": {"user_id": 5, "username": ")" + kBob +
            R"("}, "event": {"user": ")" + kAlice + R"("}})");
  CHECK(run(a, R"({"event": "{\"username\": \"alice\", \"user\": \"bob\"}"})") ==
        std::string(R"({"event": "{\"username\": \")") + kAlice + R"(\", \"user\": \")" + kBob + R"(\"}"})");
  // A key spelled with escapes, at either level, is still found (a string is only skipped when
  // its raw bytes cannot name a key).
  CHECK(run(a, R"({"event": "{\"\\u0075ser\": \"bob\"}"})") ==
        std::string(R"({"event": "{\"\\u0075ser\": \")") + kBob + R"(\"}"})");
  CHECK(run(a, R"({"event": "{\"\u0075ser\": \"bob\"}"})") ==
        std::string(R"({"event": "{\"\u0075ser\": \")") + kBob + R"(\"}"})");
  CHECK(run(a, R"({"event": "{\"a\": \"bob\"}"})") == R"({"event": "{\"a\": \"bob\"}"})");
  // A bad type there rejects the line, as for the top-level username, also inside a string.
  CHECK(run(a, R"({"context": {"username": {"n": "bob"}}})") == "REJECTED: bad field value");
  // A sign-up names the new user in its POST data.
  CHECK(run(a, R"({"event": "{\"POST\": {\"username\": [\"bob\"]}}"})") ==
        std::string(R"({"event": "{\"POST\": {\"username\": [\")") + kBob + R"(\"]}}"})");
  CHECK(run(a, R"({"event": "{\"username\": \"bob\", \"user\": {\"id\": 1}}"})") == "REJECTED: bad field value");
  // --hash-field event: the member itself is hashed (a string) or rejects the line (an object),
  // whatever the default paths below it.
  AnonymizeOptions o = edx_options();
  o.hash_fields.push_back("event");
  Anonymizer whole(o);
  CHECK(run(whole, R"({"event": {"user": "bob", "answer": "my name is Bob"}})") == "REJECTED: bad field value");
  CHECK(run(whole, R"({"event": "text"})") == std::string(R"({"event": ")") + kText + "\"}");
}

TEST_CASE("edx: --hash-field and --drop paths reach into nested objects") {
  AnonymizeOptions o = edx_options();
  o.hash_fields = {"username", "context.username", "event.username"};
  o.drop_fields.push_back("context.email");
  o.drop_fields.push_back("event.POST");
  Anonymizer a(o);
  CHECK(
      run(a,
          R"({"username": "staff", "context": {"user_id": 5, "email": "x", "username": "bob"}, "event": {"username": "alice", "POST": {}}})") ==
      std::string(R"({"username": ")") + kStaff + R"(", "context": {"user_id": 5, "username": ")" +
          kBob + R"("}, "event": {"username": ")" + kAlice + R"("}})");
  // `event` as a JSON-encoded string: the JSON inside is rewritten, its escapes kept.
  CHECK(run(a, R"({"username": "", "event": "{\"username\": \"alice\"}"})") ==
        std::string(R"({"username": "", "event": "{\"username\": \")") + kAlice + R"(\"}"})");
  CHECK(
      run(a,
          R"({"event": "{\"a\": \"caf\\u00e9\", \"username\": \"Jos\\u00e9\", \"POST\": {\"x\": [1]}}"})") ==
      std::string(R"({"event": "{\"a\": \"caf\\u00e9\", \"username\": \")") + kJose + R"(\"}"})");
  CHECK(run(a, R"({"event": "{\"POST\": {}, \"GET\": {}}"})") == R"({"event": "{\"GET\": {}}"})");
  // Strings that are not a complete JSON object have no path to follow: unchanged.
  for (std::string_view s : {R"({"event": "a=3,b=4"})", R"({"event": "{\"username\": \"al"})",
                             R"({"event": ""})", R"({"event": "{} x"})"})
    CHECK(run(a, s) == s);
  // A path through a non-object is simply absent.
  CHECK(run(a, R"({"context": "text", "event": [1]})") == R"({"context": "text", "event": [1]})");
}

TEST_CASE("edx: --ip hash and --ip truncate rewrite ip, context.ip and context.client.ip") {
  AnonymizeOptions o = edx_options();
  o.ip = IpMode::kHash;
  Anonymizer hash(o);
  CHECK(run(hash, R"({"ip": "192.0.2.17", "context": {"host": "192.0.2.17"}})") ==
        std::string(R"({"ip": ")") + kIp + R"(", "context": {"host": "192.0.2.17"}})");
  CHECK(run(hash, R"({"context": {"ip": "192.0.2.17", "client": {"ip": "192.0.2.17"}}})") ==
        std::string(R"({"context": {"ip": ")") + kIp + R"(", "client": {"ip": ")" + kIp + R"("}}})");
  CHECK(run(hash, R"({"ip": ""})") == R"({"ip": ""})");
  o.ip = IpMode::kTruncate;
  Anonymizer truncate(o);
  CHECK(run(truncate, R"({"ip": "192.0.2.17"})") == R"({"ip": "192.0.2.0"})");
  CHECK(run(truncate, R"({"ip": "2001:db8:abcd:12::1"})") == R"({"ip": "2001:db8:abcd::"})");
  CHECK(run(truncate, R"({"ip": "not an address"})").find("\"ip\": \"") == 1);
  CHECK(run(truncate, R"({"ip": "not an address"})").find("not") == std::string::npos);
}

TEST_CASE("edx: a syslog prefix is kept as it is and the JSON behind it rewritten (issue 18)") {
  // FUN's tracking lines: `May  9 10:11:12 lms-1 tracking[123]: {...}`. analyze read them; anonymize
  // refused them as "not a JSON object".
  Anonymizer a(edx_options());
  CHECK(run(a, R"(May  9 10:11:12 lms-1 tracking[123]: {"username": "staff"})") ==
        std::string(R"(May  9 10:11:12 lms-1 tracking[123]: {"username": ")") + kStaff + "\"}");
  AnonymizeOptions o = edx_options();
  o.format = "syslog+edx";
  Anonymizer prefixed(o);
  CHECK(run(prefixed, R"(<14>May  9 10:11:12 lms-1 tracking[123]: {"username": "staff"})") ==
        std::string(R"(<14>May  9 10:11:12 lms-1 tracking[123]: {"username": ")") + kStaff + "\"}");
  CHECK(run(prefixed, R"({"username": "staff"})") == "REJECTED: missing or bad line prefix (syslog, CRI or Docker JSON)");
  // Other text before the object may hold a name: rejected, as before.
  CHECK(run(a, R"(exported by bob@example.org {"username": "staff"})") == "REJECTED: not a JSON object");
  CHECK(run(a, R"(Jan 1 host app: {"username": "staff"})") == "REJECTED: not a JSON object");  // no time
}

TEST_CASE("edx: lines that are not one complete JSON object are rejected") {
  Anonymizer a(edx_options());
  CHECK(run(a, "# comment with bob@example.org") == "REJECTED: not a JSON object");
  CHECK(run(a, R"(["username", "staff"])") == "REJECTED: not a JSON object");
  CHECK(run(a, R"({"username": "staff"} trailing)") ==
        "REJECTED: unexpected data after the last field");
  CHECK(run(a, R"({"username": "staff"}{})") == "REJECTED: unexpected data after the last field");
  CHECK(run(a, R"({"username": "staff", "email": "x@y)") == "REJECTED: invalid or truncated JSON");
  CHECK(run(a, R"({"username": "staff",})") == "REJECTED: invalid or truncated JSON");
  CHECK(run(a, R"({"a": 01})") == "REJECTED: invalid or truncated JSON");
  CHECK(run(a, R"({"a": "\x"})") == "REJECTED: invalid or truncated JSON");
  CHECK(run(a, R"({"a": "\u12G4"})") == "REJECTED: invalid or truncated JSON");
  CHECK(run(a, "{\"a\": \"tab\there\"}") == "REJECTED: invalid or truncated JSON");
  CHECK(run(a, R"({"a": [1, 2})") == "REJECTED: invalid or truncated JSON");
  CHECK(run(a, R"({"a": tru})") == "REJECTED: invalid or truncated JSON");
  CHECK(run(a, std::string(5000, '[')) == "REJECTED: not a JSON object");
  CHECK(run(a, "{\"a\":" + std::string(5000, '[')) == "REJECTED: invalid or truncated JSON");
  // What json.loads accepts is accepted: NaN, Infinity, exponents, whitespace around the object.
  CHECK(run(a, R"( {"a": NaN, "b": -Infinity, "c": 1e-7, "d": -0.5} )") ==
        R"( {"a": NaN, "b": -Infinity, "c": 1e-7, "d": -0.5} )");
}

TEST_CASE("combined and common: %u hashed; -, empty and anonymous kept; --ip truncate") {
  AnonymizeOptions o;
  o.key = "secret";
  o.format = "combined";
  Anonymizer a(o);
  std::string line =
      R"(192.0.2.17 - staff [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 2326 "-" "Mozilla")";
  CHECK(run(a, line) == sub(line, "staff", kStaff));
  std::string dash =
      R"(192.0.2.17 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 2326 "-" "staff")";
  CHECK(run(a, dash) == dash);
  std::string anon =
      R"(192.0.2.17 - anonymous [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 2326 "-" "-")";
  CHECK(run(a, anon) == anon);
  CHECK(run(a, "garbage") == "REJECTED: bad or missing time");

  o.ip = IpMode::kTruncate;
  Anonymizer t(o);
  CHECK(run(t, line) == sub(sub(line, "staff", kStaff), "192.0.2.17", "192.0.2.0"));
  // An nginx client list: every address is rewritten.
  std::string list =
      R"(10.0.0.2, 10.0.0.1, 2001:db8:1:2::9 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "-" "-")";
  CHECK(
      run(t, list) ==
      R"(10.0.0.0, 10.0.0.0, 2001:db8:1:: - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "-" "-")");

  o.ip = IpMode::kHash;
  o.format = "common";
  Anonymizer h(o);
  std::string common =
      R"(192.0.2.17 - bob [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 2326)";
  CHECK(run(h, common) == std::string(kIp) + " - " + kBob +
                              R"( [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 2326)");
}

TEST_CASE("clickstream: the cookie user is hashed as well as %u") {
  AnonymizeOptions o;
  o.key = "secret";
  o.format = "clickstream";
  Anonymizer a(o);
  std::string line =
      R"(192.0.2.17 - bob [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 2326 "-" "Mozilla" "user = alice; PHPSESSID=abc")";
  CHECK(run(a, line) == sub(sub(line, "bob", kBob), "alice", kAlice));
  std::string anonymous =
      R"(192.0.2.17 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 2326 "-" "Mozilla" "user = anonymous; PHPSESSID=abc")";
  CHECK(run(a, anonymous) == anonymous);
}

TEST_CASE("logformat: %u, cookie user and client found through the core parser") {
  AnonymizeOptions o;
  o.key = "secret";
  o.format = R"(logformat:%v %h %l %u %t "%r" %>s %b %D "%{Cookie}i")";
  o.ip = IpMode::kTruncate;
  Anonymizer a(o);
  std::string line =
      R"(www.example.org 192.0.2.17 - bob [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 1234 "user = alice; sid=1")";
  CHECK(run(a, line) ==
        sub(sub(sub(line, "bob", kBob), "alice", kAlice), "192.0.2.17", "192.0.2.0"));
  CHECK(run(a, "www.example.org broken") != "www.example.org broken");
  CHECK(run(a, "www.example.org broken").starts_with("REJECTED"));
}

TEST_CASE("fields: the user, the client and --hash-field fields are hashed") {
  AnonymizeOptions o;
  o.key = "secret";
  o.format = "fields:date time level ip session user action method url";
  o.hash_fields = {"username", "session"};
  o.ip = IpMode::kTruncate;
  Anonymizer a(o);
  std::string line = "2023-12-22 22:07:37.780 INFO 203.0.113.5 session_1755 user_213 view GET /login";
  CHECK(run(a, line) ==
        "2023-12-22 22:07:37.780 INFO 203.0.113.0 "
        "26391efd1613f0d3a37269dd81b7d06d0c668b2b044567f7c3aeaf93fa9cb792 "  // session_1755
        "99951d73888c602ddf732ecccd055326bfa8fb8ca63d693a42e0253a16f1b09c "  // user_213
        "view GET /login");
  std::string dash = "2023-12-22 22:07:37.780 INFO - - - view GET /login";
  CHECK(run(a, dash) == dash);
}

TEST_CASE("nginxformat and Apache nicknames: the user and the client rewritten like LogFormat fields") {
  AnonymizeOptions o;
  o.key = "secret";
  o.ip = IpMode::kHash;
  o.format = R"(nginxformat:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent)";
  Anonymizer a(o);
  std::string line = R"(192.0.2.17 - bob [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 2326)";
  CHECK(run(a, line) == sub(sub(line, "bob", kBob), "192.0.2.17", kIp));
  o.format = "logformat:combined";  // Debian's string, with %O
  Anonymizer nick(o);
  std::string combined = R"(192.0.2.17 - bob [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 2326 "-" "ua")";
  CHECK(run(nick, combined) == sub(sub(combined, "bob", kBob), "192.0.2.17", kIp));
}

TEST_CASE("json: the mapping's user and client paths are rewritten; applog like fields:") {
  AnonymizeOptions o;
  o.key = "secret";
  o.ip = IpMode::kHash;
  o.format = "json:nginx";
  Anonymizer a(o);
  std::string line = R"({"remote_addr":"192.0.2.17","remote_user":"bob","status":200,"request":"GET / HTTP/1.1"})";
  CHECK(run(a, line) == sub(sub(line, "bob", kBob), "192.0.2.17", kIp));
  o.format = "json:caddy";
  Anonymizer caddy(o);
  std::string nested = R"({"request":{"client_ip":"192.0.2.17","uri":"/"},"user_id":"bob","status":200})";
  CHECK(run(caddy, nested) == sub(sub(nested, "bob", kBob), "192.0.2.17", kIp));
  o.format = "applog";
  o.ip = IpMode::kKeep;
  Anonymizer app(o);
  std::string app_line = "2023-12-22 22:07:37.780 INFO req_1 s1 bob view_page GET /login Direct Entry";
  CHECK(run(app, app_line) == sub(app_line, "bob", kBob));
}

TEST_CASE("prefixes: syslog and CRI bytes kept; Docker's log string decoded, rewritten, encoded again") {
  AnonymizeOptions o;
  o.key = "secret";
  o.format = "cri+combined";
  Anonymizer cri(o);
  std::string access = R"(192.0.2.17 - bob [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 2326 "-" "ua")";
  CHECK(run(cri, "2016-10-06T00:17:09.669794202Z stdout F " + access) ==
        "2016-10-06T00:17:09.669794202Z stdout F " + sub(access, "bob", kBob));
  CHECK(run(cri, "2016-10-06T00:17:09.669794202Z stdout P " + access) ==
        "REJECTED: partial line (a fragment split by the container runtime)");
  o.format = "docker+combined";
  Anonymizer docker(o);
  std::string wrapped =
      R"({"log":"192.0.2.17 - bob [10/Oct/2000:13:55:36 -0700] \"GET /caf\u00e9 HTTP/1.0\" 200 2326 \"-\" \"ua\"\n","stream":"stdout","time":"2016-10-05T00:00:30.082640485Z"})";
  CHECK(run(docker, wrapped) ==
        std::string(R"({"log":"192.0.2.17 - )") + kBob +
            "\x20[10/Oct/2000:13:55:36 -0700] \\\"GET /caf\xc3\xa9 HTTP/1.0\\\" 200 2326 \\\"-\\\" \\\"ua\\\"\\n\""
            R"(,"stream":"stdout","time":"2016-10-05T00:00:30.082640485Z"})");
  // --prefix strip: the rewritten message alone (Docker's decoded, without its newline).
  o.strip_prefix = true;
  Anonymizer docker_strip(o);
  CHECK(run(docker_strip, wrapped) == "192.0.2.17 - " + std::string(kBob) +
                                          " [10/Oct/2000:13:55:36 -0700] \"GET /caf\xc3\xa9 HTTP/1.0\" 200 2326 \"-\" \"ua\"");
  o.format = "cri+combined";
  Anonymizer cri_strip(o);
  CHECK(run(cri_strip, "2016-10-06T00:17:09.669794202Z stdout F " + access) == sub(access, "bob", kBob));
}

TEST_CASE("setup errors: empty key, --hash-field on access logs") {
  AnonymizeOptions o = edx_options();
  o.key = "";
  CHECK_THROWS_WITH(Anonymizer{o}, doctest::Contains("empty"));
  o = edx_options();
  o.format = "combined";
  o.hash_fields.push_back("context.username");
  CHECK_THROWS_WITH(Anonymizer{o}, doctest::Contains("--hash-field"));
  o = edx_options();
  o.drop_fields.push_back("a..b");
  CHECK_THROWS_WITH(Anonymizer{o}, doctest::Contains("--drop"));
}

TEST_CASE("truncate_ip: /24 and /48 in canonical form") {
  std::string out;
  CHECK(truncate_ip("203.0.113.254", out));
  CHECK(out == "203.0.113.0");
  out.clear();
  CHECK(truncate_ip("::ffff:203.0.113.9", out));
  CHECK(out == "::ffff:203.0.113.0");
  out.clear();
  CHECK(truncate_ip("::1", out));
  CHECK(out == "::");
  out.clear();
  CHECK_FALSE(truncate_ip("host.example.org", out));
  CHECK_FALSE(truncate_ip("", out));
  CHECK(out.empty());
}

TEST_CASE("AnonymizeWriter: order kept across blocks and threads; rejects numbered") {
  // ~3 MB: several 1 MB blocks, processed by 2 threads.
  std::string input, expected;
  for (int i = 0; i < 40000; ++i) {
    if (i % 1000 == 999) {
      input += "not json " + std::to_string(i) + "\n";
      continue;
    }
    if (i % 500 == 0) {
      input += "\n";
      expected += "\n";
      continue;
    }
    std::string line = R"({"i": )" + std::to_string(i) + R"(, "pad": ")" + std::string(40, 'x') +
                       R"(", "email": "e", "username": "staff"})";
    input += line + "\n";
    expected += R"({"i": )" + std::to_string(i) + R"(, "pad": ")" + std::string(40, 'x') +
                R"(", "username": ")" + kStaff + "\"}\n";
  }
  input.pop_back();  // last line without newline: still a line
  for (unsigned threads : {1u, 2u}) {
    CAPTURE(threads);
    AnonymizeOptions o = edx_options();
    o.format = "auto";
    o.threads = threads;
    StringSink sink;
    MalformedLog malformed(nullptr, false);
    AnonymizeWriter writer(o, sink, malformed);
    RecordPump pump(PumpOptions{o.format}, malformed);
    std::vector<std::unique_ptr<PumpInput>> inputs;
    inputs.push_back(std::make_unique<MemoryInput>(input));
    pump.run_lines(inputs, writer);
    const AnonymizeStats& stats = writer.stats();
    CHECK(stats.format == "edx");
    bool same = sink.data == expected;  // not CHECK(a == b): 3 MB in a failure message
    CHECK(same);
    CHECK(stats.lines == 40000);
    CHECK(stats.rejected == 40);
    CHECK(malformed.total() == 40);
    CHECK(stats.written == 39960);
  }
  // --strict: nothing after the first rejected line is written, and its line number is exact.
  AnonymizeOptions o = edx_options();
  o.stop_at_reject = true;
  StringSink sink;
  MalformedLog malformed(nullptr, true);
  AnonymizeWriter writer(o, sink, malformed);
  RecordPump pump(PumpOptions{o.format}, malformed);
  std::vector<std::unique_ptr<PumpInput>> inputs;
  inputs.push_back(std::make_unique<MemoryInput>(input));
  CHECK_THROWS_WITH(pump.run_lines(inputs, writer), "mem:1000: malformed line (not a JSON object)");
  size_t last_written = expected.find("{\"i\": 998,");
  REQUIRE(last_written != std::string::npos);
  bool prefix = sink.data == expected.substr(0, expected.find('\n', last_written) + 1);
  CHECK(prefix);
}

TEST_CASE("AnonymizeWriter: lines of a network input, numbered per client; a cut-short line never written") {
  // A network input is not a plain byte stream: its lines come one by one (no block fast path).
  auto script = std::make_unique<ScriptedLineSource>(std::vector<ScriptedLineSource::Step>{
      line(R"({"username": "staff"})"), line("not json"), line(""), partial(R"({"username": "sta)")});
  std::vector<std::unique_ptr<PumpInput>> inputs;
  inputs.push_back(std::make_unique<ScriptedInput>(std::move(script)));
  StringSink sink;
  MalformedLog malformed(nullptr, false);
  AnonymizeOptions o = edx_options();
  o.format = "auto";
  AnonymizeWriter writer(o, sink, malformed);
  PumpOptions pumping{o.format};
  pumping.max_malformed = 1;  // two bad lines of three: on purpose
  RecordPump pump(pumping, malformed);
  pump.run_lines(inputs, writer);
  CHECK(sink.data == std::string(R"({"username": ")") + kStaff + "\"}\n\n");
  CHECK(malformed.total() == 2);
  CHECK(malformed.count(ParseError::kNotJsonObject) == 1);
  CHECK(malformed.count(ParseError::kTruncatedLine) == 1);
  CHECK(writer.stats().lines == 4);
  CHECK(writer.stats().written == 2);
}
