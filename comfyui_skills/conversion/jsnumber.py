"""JavaScript number semantics the frontend's widgets apply, emulated exactly: Number(),
Math.round, toFixed and how JSON.stringify prints an integral number."""

import math
import re
from decimal import ROUND_HALF_UP, Decimal

JS_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
JS_RADIX = {"0x": 16, "0o": 8, "0b": 2}


def js_number(value):
    """JavaScript's Number(value); nan where it gives NaN."""
    if isinstance(value, (bool, int, float)):
        return float(value)
    if value is None:
        return 0.0
    if isinstance(value, list):  # Number([x]) reads String([x])
        if not value:
            return 0.0
        only = value[0]
        return js_number(only) if len(value) == 1 and not isinstance(only, (bool, dict)) else math.nan
    if not isinstance(value, str):
        return math.nan
    text = value.strip()
    if not text:
        return 0.0
    if text.lstrip("+-") == "Infinity":
        return -math.inf if text[0] == "-" else math.inf
    radix = JS_RADIX.get(text[:2].lower())
    if radix:
        try:
            return float(int(text[2:], radix)) if text[2:].isalnum() else math.nan
        except ValueError:
            return math.nan
    return float(text) if JS_DECIMAL.fullmatch(text) else math.nan


def js_round(x):
    """Math.round: halves go up, toward +infinity."""
    return math.floor(x + 0.5)


def js_to_fixed(x, digits):
    """Number(x.toFixed(digits)): the exact binary value rounded half away from zero."""
    return float(Decimal(x).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def js_integer(x):
    """An integral JS number as JSON.stringify prints it (2**64 - 1 is 18446744073709552000)."""
    return int(Decimal(repr(float(x)))) if math.isfinite(x) else None
