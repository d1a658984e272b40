"""Progress on stderr while a run is waited for: a bar on a terminal, sparse lines otherwise.

A log file or an agent's captured stderr must stay short, so without a terminal only changes
worth reading are printed: queue position, each node as it starts, sampler steps at quarter
marks, and a heartbeat every 30 s.
"""

import sys
import time

from .units import human_bytes, human_seconds

LONG_RUN_NOTE_AFTER = 600.0
HEARTBEAT = 30.0
BAR_WIDTH = 24


class Reporter:
    """What a run tells its caller as it goes. This one keeps it all to itself: the default for
    library callers. The command line's `Progress` draws it on stderr; the MCP server sends it on
    as progress notifications."""

    label = ""
    resume_hint = None  # a NextStep: how to pick the run up again from another process

    def note(self, text):
        """A warning or a decision worth one line (an upload, a conversion, the server chosen)."""

    def queued(self, position):
        """0 once running, else the place in the queue."""

    def node(self, k, total, node_id, class_type, title):
        """The k-th node of `total` started."""

    def step(self, value, maximum):
        """A node's own progress (sampler steps)."""

    def message(self, text):
        """A line about the wait itself (a lost socket, a retry)."""

    def tick(self):
        """Called from the wait loop, about twice a second."""

    def transfer(self, name, done, total, rate):
        """A download's progress: bytes so far, the whole (None when unknown), bytes per second."""

    def done(self):
        """The wait is over."""


class Progress(Reporter):
    """Receives what the watcher learns; decides what a person sees."""

    def __init__(self, stream=None, enabled=True, tty=None, clock=time.monotonic):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty() if tty is None else tty
        self.clock = clock
        self.start = clock()
        self.label = ""
        self.state = ""
        self.steps = None
        self.last_line = ""
        self.last_print = self.start
        self.last_quarter = -1
        self.noted_long_run = False
        self.resume_hint = None

    def elapsed(self):
        return self.clock() - self.start

    # -- events -------------------------------------------------------------------------------
    def queued(self, position):
        text = "running" if position == 0 else f"queued at position {position}"
        self._set(text)

    def node(self, k, total, node_id, class_type, title):
        name = class_type or "?"
        if title and title != class_type:
            name += f" '{title}'"
        self.steps = None
        self.last_quarter = -1
        self._set(f"node {k}/{total}: #{node_id} {name}" if total else f"node #{node_id} {name}")

    def step(self, value, maximum):
        if not maximum:
            return
        self.steps = (int(value), int(maximum))
        quarter = int(4 * value / maximum)
        if self.tty or quarter != self.last_quarter:
            self.last_quarter = quarter
            self._show(force=not self.tty)

    def note(self, text):
        """Always shown, even with progress off (--quiet): warnings must reach the user."""
        self._clear_bar()
        print(text, file=self.stream, flush=True)

    def message(self, text):
        """A line that must be seen whatever the mode (a warning, a lost socket)."""
        if not self.enabled:
            return
        self._clear_bar()
        print(text, file=self.stream, flush=True)

    def tick(self):
        """Called from the wait loop; keeps the bar moving and prints the long-run note once."""
        if not self.enabled:
            return
        if not self.noted_long_run and self.elapsed() >= LONG_RUN_NOTE_AFTER:
            self.noted_long_run = True
            hint = f"; resume later with: {self.resume_hint}" if self.resume_hint else ""
            self.message(f"still running after {human_seconds(self.elapsed())}: it carries on on the "
                         f"server even if this process stops{hint}")
        if self.tty:
            self._show()
        elif self.clock() - self.last_print >= HEARTBEAT:
            self._show(force=True)

    def done(self):
        self._clear_bar()

    def transfer(self, name, done, total, rate):
        """A bar on a terminal; without one a line at each tenth (or every 30 s when the size is unknown)."""
        if not self.enabled:
            return
        text = f"{name}: {human_bytes(done)}"
        if total:
            text += f" of {human_bytes(total)} ({100 * done / total:.0f}%)"
        text += f"  {human_bytes(rate)}/s"
        if total and rate > 0 and done < total:
            text += f"  {human_seconds((total - done) / rate)} left"
        if self.tty:
            if total:
                filled = int(BAR_WIDTH * done / total)
                text = "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "] " + text
            print("\r\x1b[2K" + text[:200], end="", file=self.stream, flush=True)
            self.last_line = text
            return
        tenth = int(10 * done / total) if total else None
        due = tenth != self.last_quarter if total else self.clock() - self.last_print >= HEARTBEAT
        if due or (total and done == total):
            self.last_quarter = tenth
            self.last_print = self.clock()
            print(text, file=self.stream, flush=True)

    # -- drawing ------------------------------------------------------------------------------
    def _set(self, state):
        if state == self.state:
            return
        self.state = state
        self._show(force=True)

    def _line(self):
        parts = [p for p in (self.label, self.state) if p]
        if self.steps:
            v, m = self.steps
            if self.tty:
                filled = int(BAR_WIDTH * v / m) if m else 0
                parts.append("[" + "#" * filled + "." * (BAR_WIDTH - filled) + f"] {v}/{m}")
            else:
                parts.append(f"step {v}/{m}")
        parts.append(human_seconds(self.elapsed()))
        return "  ".join(parts)

    def _show(self, force=False):
        if not self.enabled:
            return
        line = self._line()
        if self.tty:
            if line != self.last_line:
                print("\r\x1b[2K" + line[:200], end="", file=self.stream, flush=True)
        elif force:
            print(line, file=self.stream, flush=True)
        self.last_line = line
        self.last_print = self.clock()

    def _clear_bar(self):
        if self.enabled and self.tty and self.last_line:
            print("\r\x1b[2K", end="", file=self.stream, flush=True)
            self.last_line = ""
