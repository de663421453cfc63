#!/usr/bin/env python3
"""Every `logpipe ...` command line of the docs runs, or at least parses (docs_command_lines.sh).

Pages: README.md, docs/*.md (shell code blocks and inline `logpipe COMMAND ...` spans) and the
EXAMPLES of man/*.1. For each logpipe invocation found:

- a static check always: the command exists, every flag is in `logpipe COMMAND --help`, a flag
  with a value has one, values of flags with a fixed set of choices are among them, endpoint
  schemes are known, and none of the usage errors the test can see without running (--listen with
  --input or FILES, a --listen scheme other than tcp/tls/udp, --tls-cert without --tls-key);
- then the whole shell line runs in a scratch directory (with `logpipe` and `build/logpipe` the
  built binary, small sample files made beforehand) and must exit 0, or the status that an
  `<!-- example: exit N -->` marker states;
- unless it cannot run here: it names a network endpoint or a listener, follows a file, runs as
  a cron line, in a chroot or with systemctl, or a marker says why (see DEVELOPERS.md, "Command
  lines in the docs"). Those are parse-checked only, and counted with their reason.
"""
import collections, glob, os, re, shlex, subprocess, sys, time

src, logpipe, tmp = sys.argv[1:4]
failures, counts, reasons = [], collections.Counter(), collections.Counter()


def fail(where, message):
    failures.append(f"{where}: {message}")


# ---- what the binary accepts ---------------------------------------------------------------
def help_of(*args):
    return subprocess.run([logpipe, *args, "--help"], capture_output=True, text=True, check=True).stdout


commands = re.findall(r"^  ([a-z]+) {2,}", help_of().split("Subcommands:")[1], re.M)
assert {"generate", "stream", "calibrate", "anonymize", "analyze"} <= set(commands), commands
flags = {}  # command -> {flag: (takes_value, choices or None)}
excludes = {}  # command -> [(flag, flag)] that CLI11 refuses together
long_names = {}  # command -> {"-o": "--output", "--output": "--output"}
schemes = set()
for command in commands:
    text = help_of(command)
    schemes |= set(re.findall(r"\b([a-z][a-z+]*)://", text))
    table = {"--help": (False, None), "-h": (False, None)}
    for m in re.finditer(r"^  (-[^\s,]+(?:,-[^\s,]+)*)(?: (\S.*?))?(?: {2,}|$)", text, re.M):
        names, kind = m.group(1).split(","), m.group(2) or ""
        takes_value = bool(kind) and not kind.startswith(("Excludes", "Needs"))
        choices = re.search(r":\{([^}]*)\}", kind)
        for other in re.findall(r"Excludes: ((?:--?[\w-]+ ?)+)", kind):
            excludes.setdefault(command, []).extend((names[-1], o) for o in other.split())
        for name in names:
            table[name] = (takes_value, choices.group(1).split(",") if choices else None)
            long_names.setdefault(command, {})[name] = names[-1]
    flags[command] = table
schemes -= {"http", "https"}  # in the descriptions of URL flags, not endpoints

# ---- what the docs say ---------------------------------------------------------------------
# setup: a line of a ```console block without logpipe, run before the next ones (it makes their files)
Example = collections.namedtuple("Example", "where line marker setup", defaults=(False,))
MARKER = re.compile(r"<!--\s*example:\s*(.*?)\s*-->|^\.\\\"\s*example:\s*(.*)$")


def markdown_examples(page, text):
    lines = text.split("\n")
    marker, block, lang, start = None, None, None, 0
    for n, raw in enumerate(lines, 1):
        if raw.lstrip().startswith("```"):
            if block is None:
                block, lang, start = [], raw.strip()[3:].strip(), n
            else:
                if lang in ("", "sh", "bash", "shell", "console", "cron"):
                    yield from shell_lines(page, start, block, marker or ("parse-only: a crontab line" if lang == "cron" else None),
                                           console=lang == "console")
                block, marker = None, None
            continue
        if block is not None:
            block.append(raw)
            continue
        m = MARKER.search(raw)
        if m:
            marker = m.group(1)
        elif raw.strip():
            # Inline spans: `logpipe COMMAND ...` in prose and tables, parse-checked only.
            for span in re.findall(r"`((?:build/)?logpipe [a-z-][^`]*)`", raw):
                yield Example(f"{page}:{n}", span, "parse-only: an inline span")
            marker = None


def shell_lines(page, start, block, marker, console=False):
    """The command lines of a block: continuations joined, comments dropped; a line that starts
    with `[` continues a synopsis."""
    lines = []
    for example in shell_lines_joined(page, start, block, marker, console):
        if lines and example.line.startswith("["):
            lines[-1] = lines[-1]._replace(line=lines[-1].line + " " + example.line)
        else:
            lines.append(example)
    return lines


def shell_lines_joined(page, start, block, marker, console):
    joined, first = "", None
    for n, raw in enumerate(block, start + 1):
        line = raw
        if console:
            if not line.startswith("$ ") and not joined:
                continue  # output
            line = line[2:] if line.startswith("$ ") else line
        if first is None:
            first = n
        if line.rstrip().endswith("\\"):
            joined += line.rstrip()[:-1] + " "
            continue
        joined += line
        if joined.strip() and not joined.lstrip().startswith("#"):
            yield Example(f"{page}:{first}", joined.strip(), marker, setup=console)
        joined, first = "", None


def roff_to_text(line):
    line = re.sub(r"^\.B[IR]? ", "", line)
    return line.replace("\\-", "-").replace("\\e", "\\").replace("\\(aq", "'").replace("\\&", "")


def man_examples(page, text):
    lines = text.split("\n")
    inside, marker, joined, first = False, None, "", None
    for n, raw in enumerate(lines, 1):
        if raw.startswith(".SH") or raw.startswith(".SS"):
            inside = raw.strip() == ".SH EXAMPLES"
            continue
        if not inside:
            continue
        m = MARKER.search(raw)
        if m:
            marker = m.group(2)
            continue
        if raw.startswith(".") and not re.match(r"^\.B[IR]? ", raw):
            continue
        line = roff_to_text(raw)
        if first is None:
            first = n
        if line.rstrip().endswith("\\"):
            joined += line.rstrip()[:-1] + " "
            continue
        joined += line
        if re.search(r"(^|[\s|;(/])logpipe\s", joined) and not joined.lstrip().startswith("#"):
            yield Example(f"{page}:{first}", joined.strip(), marker)
            marker = None
        joined, first = "", None


# ---- one line: invocations and the static check --------------------------------------------
WRAPPERS = {"sudo", "nice", "exec", "time", "env"}
SEPARATORS = {"|", "||", "&&", ";", "&", "(", ")", "|&"}
REDIRECTS = re.compile(r"^[0-9]*[<>]+&?$")
CRON = re.compile(r"^\s*(?:[\d*/,-]+\s+){5}")


def invocations(line):
    """The argument lists of the logpipe invocations of one shell line, and what wraps them."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split, lexer.commenters = True, "#"
    try:
        tokens = list(lexer)
    except ValueError as e:
        return None, str(e)
    found, wrapped, segment = [], set(), []
    for token in tokens + [";"]:
        if token not in SEPARATORS:
            segment.append(token)
            continue
        words = segment
        while words and (re.match(r"^[A-Za-z_][A-Za-z_0-9]*=", words[0]) or words[0] in WRAPPERS):
            words = words[1:]
        if words and words[0] == "timeout":
            words = words[1:]
            while words and words[0].startswith("-"):
                words = words[2:] if words[0] in ("-s", "-k") else words[1:]
            words = words[1:]
        if words and words[0] == "chroot":
            wrapped.add("runs in a chroot")
            words = words[2:]
        if words and words[0] in ("systemctl", "journalctl"):
            wrapped.add("talks to systemd")
        if len(words) >= 3 and words[0] in ("sh", "bash") and words[1] == "-c":
            inner, _ = invocations(words[2])
            found += inner or []
        elif words and (words[0] == "logpipe" or words[0].endswith("/logpipe")):
            args = []
            for word in words[1:]:
                if REDIRECTS.match(word):
                    break
                args.append(word)
            found.append(args)
        segment = []
    return found, wrapped


def check_invocation(args, partial=False):
    """Usage errors visible without running: a list of messages, empty when it parses. A partial
    line (an inline span, a synopsis) may end with a flag and leave out its value."""
    if not args:
        return ["no command"]
    command, rest = args[0], args[1:]
    if command in ("--version", "-V", "--help", "-h"):
        return []
    if command not in flags:
        return [f"unknown command '{command}' (logpipe --help lists {', '.join(commands)})"]
    table, errors, given, positionals = flags[command], [], {}, []
    i = 0
    while i < len(rest):
        word = rest[i]
        i += 1
        if "..." in word or word == "-" or not word.startswith("-"):
            if "..." not in word:
                positionals.append(word)
            continue
        name, value = (word.split("=", 1) + [None])[:2] if word.startswith("--") else (word[:2], word[2:] or None)
        if name not in table:
            errors.append(f"{command}: unknown flag {name}")
            continue
        takes_value, choices = table[name]
        if takes_value and value is None:
            if i >= len(rest):
                if not partial:
                    errors.append(f"{command}: {name} needs a value")
                continue
            value = rest[i]
            if value.startswith("--") or (re.match(r"^-[a-zA-Z]", value) and not partial):
                errors.append(f"{command}: {name} needs a value, not the flag {value}")
                continue
            i += 1
        elif not takes_value and value is not None and word.startswith("--"):
            errors.append(f"{command}: {name} takes no value")
        if choices and value is not None and not PLACEHOLDER.match(value) and value not in choices:
            errors.append(f"{command}: {name} {value}: not one of {', '.join(choices)}")
        given.setdefault(long_names[command].get(name, name), []).append(value)
    for a, b in excludes.get(command, []):
        if a in given and b in given:
            errors.append(f"{command}: {a} and {b} exclude each other (exit 2)")
    for value in [v for vs in given.values() for v in vs if v] + positionals:
        m = re.match(r"^([a-z][a-z+]*)://", value)
        if m and m.group(1) not in schemes and not value.startswith(("http://", "https://")):
            errors.append(f"{command}: unknown endpoint scheme {m.group(1)}:// in '{value}'")
    if "--listen" in given:
        if "--input" in given or positionals:
            errors.append(f"{command}: --listen cannot be combined with --input or FILES (exit 2)")
        for value in given["--listen"]:
            if value and "..." not in value and not re.match(r"^(tcp|tls|udp)://", value):
                errors.append(f"{command}: --listen {value}: not tcp://, tls:// or udp://")
    if ("--tls-cert" in given) != ("--tls-key" in given) and "--config" not in given:
        errors.append(f"{command}: --tls-cert and --tls-key go together (exit 2)")
    return errors


NETWORK = re.compile(r"\b(?:tcp|tls|udp|kafka|alertmanager(?:\+tls)?)://")


def synopsis_args(line):
    """`logpipe analyze [--report text|json] [-o FILE]`: the command and its flags, no values."""
    words = line.split()
    command = words[1] if len(words) > 1 else ""
    return [command] + [m for m in re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", line)]


PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z_]+|.*\.\.\..*)$")  # FORMAT, FILE, ...
SHARED = re.compile(r"\.\./shared/")


def why_not_run(example, found, wrapped):
    """The reason a line is parse-checked only, or None when it runs."""
    marker = example.marker or ""
    if wrapped:
        return sorted(wrapped)[0]
    if CRON.match(example.line):
        return "a crontab line"
    if NETWORK.search(example.line):
        return "needs a server or a broker"
    for args in found:
        if "--listen" in args or "--metrics-listen" in args:
            return "serves a listener"
        if "-f" in args or "--follow" in args:
            return "follows a file until stopped"
        if args[:1] == ["generate"] and "--no-pace" not in args and "--rate" in args \
                and not {"--count", "-n", "--duration"} & set(args):
            return "paced generate: runs until interrupted"
        if args[:1] == ["generate"] and "--no-pace" not in args and "--profile" in args \
                and not {"--count", "-n", "--duration"} & set(args):
            return "paced by its profile: runs until interrupted"
    for args in found:
        placeholders = [a for a in args if PLACEHOLDER.match(a) and "..." not in a and a + "=" not in example.line]
        if placeholders:
            return f"has placeholders ({placeholders[0]})"
    if marker.startswith("parse-only"):
        return marker.split(":", 1)[1].strip() if ":" in marker else "marked parse-only"
    if SHARED.search(example.line):
        return "reads ../shared/data (the team's data, not in a clone)"
    if re.search(r"(?<![\w.])/(?:var|etc|usr|srv|opt)/", example.line):
        return "reads or writes the host's files"
    return None


# ---- the scratch directory: the files the examples read -------------------------------------
base = f"{tmp}/base"
os.makedirs(f"{tmp}/bin")
os.makedirs(f"{base}/build")
os.symlink(logpipe, f"{tmp}/bin/logpipe")
os.symlink(logpipe, f"{base}/build/logpipe")
for name in ("samples", "tests", "packaging", "scripts"):
    os.symlink(os.path.join(src, name), f"{base}/{name}")
env = dict(os.environ, PATH=f"{tmp}/bin:" + os.environ["PATH"], LC_ALL="C.UTF-8")


def sh(command, cwd):
    subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=cwd, check=True, env=env)


# Small versions of the files the docs name (generated: combined unless the name says otherwise).
sh(f"""
logpipe generate --no-pace --count 3000 --seed 1 --start 2025-06-23T08:00:00Z > access.log
cp access.log small.log; cp access.log history.log; cp access.log access.log.1
gzip -c access.log > access.log.1.gz
for d in 22 23; do zstd -q -c access.log > access.log-2025-06-$d.zst; done
logpipe generate --no-pace --count 2000 --seed 2 --with-duration --start 2025-06-23T08:00:00Z > timed.log
logpipe generate --format edx --no-pace --count 1000 --seed 1 --start 2015-04-01T08:00:00Z > tracking.log
for d in 01 02; do gzip -c tracking.log > tracking.log-201504$d.gz; done
logpipe generate --format applog --no-pace --count 1000 --seed 1 > app.log
logpipe generate --format clickstream --no-pace --count 500 --seed 1 > click.log
cp samples/thresholds.toml thresholds.toml; cp samples/thresholds.toml rules.toml
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > key; cp key hmac.key; cp key k; chmod 600 key hmac.key k
python3 tests/cli/stream_traffic.py t.log; gzip -k t.log
""", base)
# Pages whose examples describe another kind of file under the same name.
PAGE_FILES = {
    "docs/formats.md": "cp timed.log access.log",  # its logformat example ends with %D
    "man/logpipe-calibrate.1": "cp t.log history.log",  # `grep -c firing` needs an alert
    "man/logpipe-anonymize.1":  # `logformat:%v %h ...`: a virtual host before a common log line
        "logpipe generate --format common --no-pace --count 500 | sed 's/^/shop.example.com /' > access.log",
}

# ---- run -----------------------------------------------------------------------------------
pages = [("README.md", "md")] + [(os.path.relpath(p, src), "md") for p in sorted(glob.glob(f"{src}/docs/*.md"))] \
      + [(os.path.relpath(p, src), "man") for p in sorted(glob.glob(f"{src}/man/*.1"))]
slow, verbose = [], os.environ.get("VERBOSE")
limit = 150 if os.environ.get("LOGPIPE_SANITIZE") else 30  # seconds per line; ASan is ~5x slower
def verdict(example, what):
    if verbose:
        print(f"{what:>40}  {example.where}: {example.line[:100]}")

for page, kind in pages:
    text = open(os.path.join(src, page), encoding="utf-8").read()
    examples = markdown_examples(page, text) if kind == "md" else man_examples(page, text)
    scratch = f"{tmp}/{page.replace('/', '_')}"
    subprocess.run(["cp", "-a", base, scratch], check=True)
    if page in PAGE_FILES:
        sh(PAGE_FILES[page], scratch)
    for example in examples:
        # /tmp/NAME in a doc is a file of the scratch directory here.
        line = re.sub(r"(?<![\w.])/tmp/", scratch + "/", example.line)
        if "[-" in line:  # a synopsis: `logpipe analyze [--report text|json] [-o FILE]`
            args = synopsis_args(line)
            for e in [f"{args[0]}: unknown flag {f}" for f in args[1:] if f not in flags.get(args[0], {})] \
                    if args[0] in flags else [f"unknown command '{args[0]}'"]:
                fail(example.where, f"{e}\n    {example.line}")
            counts["parse-checked"] += 1
            reasons["a synopsis"] += 1
            continue
        found, wrapped = invocations(line)
        if found is None:
            fail(example.where, f"does not parse as a shell line ({wrapped}): {example.line}")
            continue
        if not found:
            if example.setup:
                subprocess.run(["bash", "-c", line], cwd=scratch, env=env, capture_output=True, timeout=30)
            continue
        partial = (example.marker or "").endswith("an inline span")
        errors = [e for args in found for e in check_invocation(args, partial)]
        for e in errors:
            fail(example.where, f"{e}\n    {example.line}")
        if (example.marker or "").startswith("skip"):
            counts["skipped"] += 1
            reasons["skipped: " + example.marker.split(":", 1)[-1].strip()] += 1
            continue
        reason = why_not_run(example, found, wrapped)
        if reason:
            counts["parse-checked"] += 1
            reasons[reason] += 1
            verdict(example, reason)
            continue
        expected = 0
        m = re.match(r"exit (\d+)", example.marker or "")
        if m:
            expected = int(m.group(1))
        started = time.monotonic()
        try:
            run = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=scratch, env=env,
                                 capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            fail(example.where, f"still running after {limit} s (mark it parse-only with a reason): {example.line}")
            continue
        counts["run"] += 1
        verdict(example, f"run, exit {run.returncode}")
        if time.monotonic() - started > 3:
            slow.append(f"  {time.monotonic() - started:4.1f} s  {example.where}")
        if run.returncode != expected:
            fail(example.where, f"exit {run.returncode}, not {expected}: {example.line}\n    "
                 + "\n    ".join(run.stderr.strip().split("\n")[-4:]))

print(f"{counts['run']} run, {counts['parse-checked']} parse-checked, {counts['skipped']} skipped")
for reason, n in sorted(reasons.items(), key=lambda r: -r[1]):
    print(f"  {n:3d}  {reason}")
if slow:
    print("slowest runs (keep the test short: smaller --count, or mark parse-only):")
    print("\n".join(slow))
if failures:
    print(f"\n{len(failures)} doc command line(s) broken:")
    print("\n".join(failures))
    sys.exit(1)
