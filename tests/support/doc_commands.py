"""Find the shell commands the docs show, so a test can run every one of them.

A command is a line in a ```bash / ```sh block that runs one of the pack's scripts. A trailing
`# exit N ...` comment says which exit code the line documents (default 0). `$NAME` placeholders are
filled from the environment the test provides (e.g. $PROMPT_ID). A `--url` naming the default local
address is pointed at the server under test: the doc shows the user's server, the test has its own.
"""

import re
import shlex

from conftest import ROOT

DOCS = ["README.md", "SKILL.md", "skills/*/SKILL.md", "references/*.md"]
FENCE = re.compile(r"^[ \t]*```(bash|sh|shell|console)[ \t]*\n(.*?)^[ \t]*```", re.M | re.S)
SCRIPT = re.compile(r"^(?:\$ )?(?:\.venv/bin/)?python3? (scripts/\w+\.py)(.*)$")
EXIT = re.compile(r"\s+#\s*exit\s+(\d+)\b.*$")


def doc_files():
    seen = []
    for pattern in DOCS:
        seen.extend(sorted(ROOT.glob(pattern)))
    return seen


def commands():
    """[(doc, line, script, argv_text, expected_exit)] for every script line in every doc."""
    found = []
    for doc in doc_files():
        text = doc.read_text(encoding="utf-8")
        for block in FENCE.finditer(text):
            for line in block.group(2).splitlines():
                line = line.strip()
                for part in line.split(" && "):
                    m = SCRIPT.match(part.strip())
                    if not m:
                        continue
                    rest, expected = m.group(2), 0
                    e = EXIT.search(rest)
                    if e:
                        rest, expected = rest[:e.start()], int(e.group(1))
                    rest = rest.split(" #", 1)[0]
                    found.append((doc.relative_to(ROOT).as_posix(), part.strip(), m.group(1), rest.strip(), expected))
    return found


DEFAULT_ADDRESS = re.compile(r"\b(?:127\.0\.0\.1|localhost):8188\b")


def argv(script, rest, env):
    # Keep the doc's own spelling (bare host:port or a full URL): only the address moves.
    under_test = env["COMFYUI_URL"].split("://", 1)[-1].rstrip("/")
    words = [re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), m.group(0)), w) for w in shlex.split(rest)]
    return [script, *(DEFAULT_ADDRESS.sub(under_test, w) for w in words)]
