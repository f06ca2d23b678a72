"""Model years in alert descriptions: single years, ranges, open bounds, decades and "late model".

Understood: "2016", "'16", "2015-2017", "2015-17", "'15-'17", "2015 to 2017", "between 2015 and 2017", "2010 or
newer", "2010 and up", "2010+", "pre-2010", "before 2010", "after 2010", "since 2010", "circa 2015" (one year
either side), "early 2000s", "mid '90s", "'90s", "late model" (the last :data:`LATE_MODEL_YEARS` model years),
"older model" (at least :data:`OLDER_MODEL_YEARS` years old). Two-digit years pivot on the reference year: up to
next year's two digits they are 20xx, above 19xx. A year is stored as ``(first, last)``, either end open (None).
"""

from __future__ import annotations

import re

from watchlists.entry_model import MAX_YEAR
from watchlists.parse_tokens import ParseState, Tok, with_text

LATE_MODEL_YEARS = 5
"""'Late model' means the last this many model years (the current one included)."""
OLDER_MODEL_YEARS = 15
"""'Older model' means at least this many years old."""
MIN_PARSED_YEAR = 1900

_APPROX = frozenset({"circa", "approx", "approximately", "around", "about", "ca"})
_NEWER = frozenset({"newer", "later", "up", "after", "since", "post"})
_OLDER = frozenset({"older", "earlier", "before", "pre"})
_DECADE = re.compile(r"^'?(?:(19|20)?(\d)0)'?s$")
_YEAR_RANGE = re.compile(r"^'?(\d{2}|\d{4})\s*[-–—]\s*'?(\d{2}|\d{4})$")


def _two_digit(state: ParseState, digits: str) -> int:
    value = int(digits)
    pivot = (state.this_year + 1) % 100
    return 2000 + value if value <= pivot else 1900 + value


def year_value(state: ParseState, t: Tok) -> int | None:
    """The model year a single token names (``2016``, ``'16``), or None."""
    stripped = t.text.strip(".,;")
    if re.fullmatch(r"\d{4}", stripped):
        year = int(stripped)
        return year if MIN_PARSED_YEAR <= year <= min(state.this_year + 2, MAX_YEAR) else None
    if t.apostrophe and re.fullmatch(r"['’]\d{2}", stripped):
        return _two_digit(state, stripped[1:])
    return None


def year_range(state: ParseState, t: Tok) -> tuple[int, int] | None:
    """The years a single token spans (``2015-2017``, ``'15-'17``, ``2015-17``, ``'90s``, ``2000s``), or None."""
    stripped = t.text.strip(".,;").replace("’", "'")
    match = _YEAR_RANGE.fullmatch(stripped)
    if match is not None:
        first_text, last_text = match.groups()
        if len(first_text) == 2 and not stripped.startswith("'"):
            return None
        first = int(first_text) if len(first_text) == 4 else _two_digit(state, first_text)
        if len(last_text) == 2:
            last = (first // 100) * 100 + int(last_text)
            if last < first:
                last += 100
        else:
            last = int(last_text)
        if MIN_PARSED_YEAR <= first <= last <= min(state.this_year + 2, MAX_YEAR):
            return first, last
        return None
    decade = _DECADE.fullmatch(stripped.lower())
    if decade is not None:
        century, tens = decade.groups()
        start = (int(century) * 100 if century else (1900 if int(tens) >= 3 else 2000)) + int(tens) * 10
        return start, start + 9
    return None


def place_years(state: ParseState) -> None:
    """Places the year phrases of the description (the first one; a second is reported unplaced)."""
    i = 0
    while i < len(state.toks):
        used = _year_at(state, i) if state.free(i) else 0
        i += max(used, 1)


def _year_at(state: ParseState, i: int) -> int:
    """A year phrase starting at free token i; returns the tokens it used (0: none)."""
    for read in (_model_age, _decade_part, _between, _bound):
        used = read(state, i)
        if used:
            return used
    return _year_number(state, i)


def _set_years(state: ParseState, first: int | None, last: int | None, i: int, n: int) -> int:
    shown = f"{first if first is not None else '…'}-{last if last is not None else '…'}"
    state.set_field("year", (first, last), i, n, shown)
    return n


def _model_age(state: ParseState, i: int) -> int:
    """'late model', 'newer model', 'older model', 'late-model'."""
    t = state.toks[i]
    word = t.norm
    if word in ("late", "newer", "new", "older", "old") and state.free(i + 1) and state.toks[i + 1].norm == "model":
        if word in ("late", "newer", "new"):
            return _set_years(state, state.this_year - LATE_MODEL_YEARS + 1, None, i, 2)
        return _set_years(state, None, state.this_year - OLDER_MODEL_YEARS, i, 2)
    if t.key in ("latemodel", "newermodel") and "-" in t.text:
        return _set_years(state, state.this_year - LATE_MODEL_YEARS + 1, None, i, 1)
    return 0


def _decade_part(state: ParseState, i: int) -> int:
    """'early 2000s', 'mid 90s', 'late '90s': a third of the decade."""
    word = state.toks[i].norm
    if word in ("early", "mid", "late") and state.free(i + 1):
        decade = year_range(state, state.toks[i + 1])
        if decade is not None and decade[1] - decade[0] == 9:
            third = {"early": (0, 3), "mid": (3, 6), "late": (6, 9)}[word]
            return _set_years(state, decade[0] + third[0], decade[0] + third[1], i, 2)
    return 0


def _between(state: ParseState, i: int) -> int:
    """'between 2015 and 2017', 'from 2015 to 2017'."""
    if state.toks[i].norm in ("between", "from") and state.free(i, 4):
        first, link, last = (
            year_value(state, state.toks[i + 1]),
            state.toks[i + 2].norm,
            year_value(state, state.toks[i + 3]),
        )
        if first is not None and last is not None and link in ("and", "to", "thru", "through") and first <= last:
            return _set_years(state, first, last, i, 4)
    return 0


def _bound(state: ParseState, i: int) -> int:
    """'pre-2010', 'post-2010' (one token); 'before 2010', 'after 2010', 'since 2010', 'circa 2015'."""
    t = state.toks[i]
    split = re.fullmatch(r"(pre|post)-?(\d{4})", t.text.strip(".,").lower())
    if split is not None:
        bound = int(split.group(2))
        if split.group(1) == "pre":
            return _set_years(state, None, bound - 1, i, 1)
        return _set_years(state, bound + 1, None, i, 1)
    word = t.norm
    if (
        word in _OLDER | _NEWER | _APPROX
        and state.free(i + 1)
        and word not in ("up", "older", "newer", "later", "earlier")
    ):
        named = year_value(state, state.toks[i + 1])
        if named is not None:
            if word in _APPROX:
                return _set_years(state, named - 1, named + 1, i, 2)
            if word in ("before", "pre"):
                return _set_years(state, None, named - 1, i, 2)
            return _set_years(state, named + (0 if word == "since" else 1), None, i, 2)
    return 0


def _year_number(state: ParseState, i: int) -> int:
    """A year or span token, alone or followed by 'to 2017', 'or newer', 'and up', 'or older'; '2010+'."""
    t = state.toks[i]
    span = year_range(state, t)
    if span is not None:
        return _set_years(state, span[0], span[1], i, 1)
    year = year_value(state, t)
    if year is None:
        plus = re.fullmatch(r"(\d{4})\+", t.text.strip(".,"))
        if plus is not None and year_value(state, with_text(t, plus.group(1))) is not None:
            return _set_years(state, int(plus.group(1)), None, i, 1)
        return 0
    if state.free(i, 3) and state.toks[i + 1].norm in ("to", "thru", "through"):
        last = year_value(state, state.toks[i + 2])
        if last is not None and year <= last:
            return _set_years(state, year, last, i, 3)
    if state.free(i, 3) and state.toks[i + 1].norm in ("or", "and"):
        follow = state.toks[i + 2].norm
        if follow in ("newer", "later", "up", "after"):
            return _set_years(state, year, None, i, 3)
        if follow in ("older", "earlier", "before"):
            return _set_years(state, None, year, i, 3)
    return _set_years(state, year, year, i, 1)
