"""One benchmark row and the Markdown table they make."""

from dataclasses import dataclass


@dataclass
class Row:
    metric: str
    ours: float | None            # seconds, or a fraction when percent
    baseline: float | None
    target: str = ""
    limit: float | None = None    # pass when ours / baseline <= limit
    absolute: float | None = None  # pass when ours < absolute
    percent: bool = False
    baseline_name: str = ""
    note: str = ""

    @property
    def ratio(self):
        if self.percent or not self.ours or not self.baseline:
            return None
        return self.ours / self.baseline

    @property
    def passed(self):
        """True / False against the target, None when there is no target or no figure to judge."""
        if self.ours is None:
            return None
        if self.absolute is not None:
            return self.ours < self.absolute
        if self.limit is not None:
            return None if self.ratio is None else self.ratio <= self.limit
        return None

    def cells(self):
        show = _percent if self.percent else _seconds
        baseline = f"{show(self.baseline)} ({self.baseline_name})" if self.baseline is not None else (
            "n/a" if self.baseline_name else "—")
        ratio = "—" if self.ratio is None else "<0.01x" if self.ratio < 0.01 else f"{self.ratio:.2f}x"
        result = {True: "pass", False: "FAIL", None: "—" if not self.target else "not measured"}[self.passed]
        metric = self.metric + (f" ({self.note})" if self.note else "")
        return [metric, show(self.ours), baseline, ratio, self.target or "—", result]


def _seconds(value):
    if value is None:
        return "n/a"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _percent(value):
    return "n/a" if value is None else f"{value * 100:.1f}%"


HEADER = ["metric", "ours", "baseline", "ratio (ours/baseline)", "target", "result"]


def render(rows):
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)
