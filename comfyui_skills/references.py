"""Earlier outputs named the way a chat user points at them: `last`, `last:N`, `PROMPT_ID:N`, a path.

- `last`: the newest output file of the project;
- `last:N`: the Nth file the newest command made (one generate.py/run.py call, however many
  prompts its --count, --seeds or --sweep queued), in the order it listed them, from 1;
- `PROMPT_ID:N`: the Nth output of that prompt, from 1;
- anything else is a path.

Read from the run records in state/runs/ (pipeline.remember/settle), which hold each prompt's
command, project, outputs and settings.
"""

import json
import re
from pathlib import Path

from . import config, nextsteps
from .errors import InputError

LAST = re.compile(r"last(?::(\d+))?", re.I)
BY_PROMPT = re.compile(r"([0-9a-fA-F][0-9a-fA-F-]{7,}):(\d+)")


class Ref:
    """A resolved reference: the local file and, when it was made here, the record that made it."""

    def __init__(self, path, record=None):
        self.path = str(path)
        self._record = record

    @property
    def record(self):
        """The run record that made the file (looked up on first use: a path costs a scan of the records)."""
        if self._record is None:
            self._record = record_of_file(self.path) or {}
        return self._record or None

    @property
    def settings(self):
        return (self.record or {}).get("settings") or {}

    def __str__(self):
        return self.path


def records(project=None):
    """Every run record of the project that ended with outputs, oldest first."""
    folder = config.state_dir() / "runs"
    out = []
    for path in folder.glob("*.json") if folder.is_dir() else []:
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(rec, dict) or not rec.get("outputs"):
            continue
        if project and (rec.get("project") or "default") != project:
            continue
        out.append(rec)
    out.sort(key=_order)
    return out


def _order(rec):
    command = rec.get("command") or {}
    return (command.get("t") or 0, rec.get("submitted_at") or "", command.get("index") or 0)


def files_of(recs):
    """[(path, record)] of the output files (not text) of records, in their order."""
    return [(o["path"], r) for r in recs for o in r.get("outputs") or []
            if o.get("path") and o.get("kind") != "text"]


def newest_command(project=None):
    """The records of the newest command that made files, in the order it queued them."""
    recs = records(project)
    if not recs:
        return []
    newest = (recs[-1].get("command") or {}).get("id")
    if newest is None:
        return [recs[-1]]
    return [r for r in recs if (r.get("command") or {}).get("id") == newest]


def is_reference(text):
    return bool(text) and (LAST.fullmatch(str(text)) is not None or BY_PROMPT.fullmatch(str(text)) is not None)


def resolve(text, option="image", project=None):
    """A Ref for `text` (see the module doc), given to `option`; InputError in one line for one that
    names nothing."""
    if text is None:
        return None
    flag = nextsteps.flag(option)
    text = str(text)
    project = project or "default"
    m = LAST.fullmatch(text)
    if m and not Path(text).exists():
        made = files_of(newest_command(project))
        if not made:
            raise InputError(f"{flag} {text}: project {project} has no outputs yet",
                             hint=f"make one first ({nextsteps.step('generate', '<what to make>')}), or give a "
                                  "file path")
        if m.group(1) is None:
            return Ref(*made[-1])
        n = int(m.group(1))
        if not 1 <= n <= len(made):
            rec = made[0][1]
            raise InputError(f"{flag} {text}: the newest command ({rec.get('file')}, "
                             f"{rec.get('submitted_at')}) made {len(made)} file(s); give last:1 to last:{len(made)}")
        return Ref(*made[n - 1])
    m = BY_PROMPT.fullmatch(text)
    if m and not Path(text).exists():
        pid, n = m.group(1), int(m.group(2))
        rec = _record(pid)
        if rec is None:
            raise InputError(f"{flag} {text}: no run recorded under prompt {pid} in {config.state_dir() / 'runs'}",
                             hint=f"{nextsteps.step('gallery', json=True)} lists the prompt ids of what was made")
        made = files_of([rec])
        if not 1 <= n <= len(made):
            raise InputError(f"{flag} {text}: prompt {pid} made {len(made)} file(s); "
                             + (f"give {pid}:1 to {pid}:{len(made)}" if made else "nothing to use"))
        return Ref(*made[n - 1])
    return Ref(text)


def _record(prompt_id):
    path = config.state_dir() / "runs" / f"{Path(prompt_id).name}.json"
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


def record_of_file(path):
    """The record of the run that wrote this output file, or None."""
    try:
        want = Path(path).resolve()
    except OSError:
        return None
    if not want.is_file():
        return None
    for rec in reversed(records()):
        for o in rec.get("outputs") or []:
            if o.get("path") and Path(o["path"]).resolve() == want:
                return rec
    return None
