#!/usr/bin/env bash
# Every C++ block of docs/extending.md that is one of the marked examples of
# tests/unit/extending_test.cc appears there verbatim (the unit test compiles and runs them), and
# none of the three examples is missing from the guide.
set -euo pipefail
python3 - "$SRC/docs/extending.md" "$SRC/tests/unit/extending_test.cc" <<'PY'
import re, sys
doc, test = open(sys.argv[1]).read(), open(sys.argv[2]).read()
def dedent(text):
    lines = text.split('\n')
    ind = min(len(l) - len(l.lstrip()) for l in lines if l.strip())
    return '\n'.join(l[ind:] for l in lines)
examples = {m.group(1): dedent(m.group(2))
            for m in re.finditer(r'// \[example: (\w+)\]\n(.*?)\n[ ]*// \[end\]', test, re.S)}
assert set(examples) == {'format', 'job', 'run'}, examples.keys()
blocks = [dedent(b) for b in re.findall(r'```cpp\n(.*?)\n[ ]*```', doc, re.S)]
for name, code in examples.items():
    assert code in blocks, 'docs/extending.md lacks the current "%s" example' % name
print('ok')
PY
