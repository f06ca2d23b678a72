"""Licence plates in alert descriptions: "plate 7XK-123", "partial plate 7XK", "tag ending in 42", "7XK??2".

A plate is read after a cue word ("plate", "tag", "license", "reg" ...), optionally with a position ("starting
with" → ``7XK*``, "ending in" → ``*42``, "containing" or "partial" → ``*7XK*``), from up to three fragments
("7XK 123"). Without a cue, only a fragment with wildcards counts ("7XK??2", "*7XK*"). Fragments must look like
plate text: digits or wildcards, or (after a cue) capitals or short words that are no make, model, colour or body
type. The result is a pattern for :mod:`watchlists.plates` (upper case, no separators).

This pass runs first, so that the letters and digits of a plate are never read as a year or a model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from classifiers.color.vocabulary import color_word, shade_key
from watchlists.parse_names import BODY_PHRASES
from watchlists.parse_qualifiers import FILLER_WORDS, UNCERTAIN_WORDS, UNKNOWN_WORDS
from watchlists.parse_tokens import ParseState, Tok
from watchlists.plates import MAX_PLATE_LENGTH

PLATE_CUES: frozenset[str] = frozenset(
    [
        "plate",
        "plates",
        "tag",
        "tags",
        "license",
        "licence",
        "lic",
        "registration",
        "reg",
        "rego",
        "lp",
        "number",
        "no",
        "num",
    ]
)
_PLATE_START = frozenset({"starting", "starts", "beginning", "begins", "begin", "start"})
_PLATE_END = frozenset({"ending", "ends", "end"})
_PLATE_CONTAIN = frozenset({"containing", "contains", "including", "includes"})
_PLATE_LINKS = frozenset({"with", "in", "of"})
_PARTIAL = frozenset({"partial", "part", "partly"})
_MAX_FRAGMENTS = 3


def place_plates(state: ParseState) -> None:
    """Places the plate phrases of the description (the first one; a second is reported unplaced)."""
    i = 0
    while i < len(state.toks):
        used = _plate_at(state, i)
        i += max(used, 1)


def _plate_at(state: ParseState, i: int) -> int:
    """A plate phrase starting at token i: cue words, an optional position, fragments. Returns tokens used."""
    j, cue, partial, position = _plate_cue(state, i)
    if not cue and not partial:
        if _wildcard_fragment(state, i):
            state.set_field("plate", _plate_text(state, [i]), i, 1)
            return 1
        return 0
    if cue and j < len(state.toks) and state.toks[j].norm in UNKNOWN_WORDS:
        state.assign(i, j - i + 1, "unknown")
        state.notes.append("plate: said to be unknown")
        return j - i + 1
    fragments: list[int] = []
    while j + len(fragments) < len(state.toks) and len(fragments) < _MAX_FRAGMENTS:
        k = j + len(fragments)
        if state.toks[k].role is not None or not _plate_fragment(state, state.toks[k], explicit=cue):
            break
        fragments.append(k)
    while fragments and len(_plate_text(state, fragments)) > MAX_PLATE_LENGTH - 2:
        fragments.pop()  # room for the wildcards of a partial plate
    if not fragments:
        return 0
    text = _plate_text(state, fragments)
    if "*" not in text:
        if position == "start":
            text = f"{text}*"
        elif position == "end":
            text = f"*{text}"
        elif position == "contain" or partial:
            text = f"*{text}*"
    used = fragments[-1] - i + 1
    state.set_field("plate", text, i, used)
    return used


def _plate_cue(state: ParseState, i: int) -> tuple[int, bool, bool, str]:
    """The cue words from token i: (first token after them, a cue was seen, 'partial' was said, position)."""
    j = i
    partial = False
    position = ""
    cue = False
    while j < len(state.toks) and state.toks[j].role is None:
        word = state.toks[j].norm
        if word in _PARTIAL and j == i:
            partial = True
        elif word in PLATE_CUES and (cue or word not in ("number", "no", "num")):
            cue = True
        elif cue and word in _PLATE_START | _PLATE_END | _PLATE_CONTAIN:
            position = "start" if word in _PLATE_START else "end" if word in _PLATE_END else "contain"
        elif not (cue and position and word in _PLATE_LINKS):
            break
        j += 1
    return j, cue, partial, position


def _plate_text(state: ParseState, fragments: Sequence[int]) -> str:
    return "".join(re.sub(r"[^A-Za-z0-9?*]", "", state.toks[k].text) for k in fragments).upper()


def _vocabulary_word(state: ParseState, t: Tok) -> bool:
    """Whether the token is a make, model, colour, shade or body type (then it is no plate fragment)."""
    key = t.key
    return bool(
        key
        and (
            key in state.vocab.makes
            or key in state.vocab.model_makes
            or color_word(t.norm) is not None
            or shade_key(t.norm) is not None
            or key in BODY_PHRASES
        )
    )


def _plate_fragment(state: ParseState, t: Tok, explicit: bool) -> bool:
    raw = t.text.strip(".,'\"")
    if not raw or not re.fullmatch(r"[A-Za-z0-9?*]+(?:[-.][A-Za-z0-9?*]+)*", raw) or len(raw) > MAX_PLATE_LENGTH - 2:
        return False
    if not any(ch.isalnum() for ch in raw):
        return False
    if t.norm in FILLER_WORDS or t.norm in UNCERTAIN_WORDS or t.norm in _PLATE_LINKS:
        return False
    if any(ch.isdigit() for ch in raw) or "?" in raw or "*" in raw:
        return True
    return explicit and (t.upper or len(raw) <= 3) and not _vocabulary_word(state, t)


def _wildcard_fragment(state: ParseState, i: int) -> bool:
    """Whether token i, without a cue, is a plate fragment: it has wildcards and looks like no other word."""
    t = state.toks[i]
    raw = t.text.strip(".,'\"")
    if not re.fullmatch(r"[A-Za-z0-9?*]+(?:-[A-Za-z0-9?*]+)*", raw) or not any(ch.isalnum() for ch in raw):
        return False
    if len(_plate_text(state, [i])) > MAX_PLATE_LENGTH:
        return False
    if "*" in raw:
        return True
    inner_wildcards = raw.rstrip("?").count("?") > 0 or raw.count("?") > 1
    has_digit = any(ch.isdigit() for ch in raw)
    return "?" in raw and has_digit and (inner_wildcards or not _vocabulary_word(state, t))
