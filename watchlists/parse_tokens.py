"""Tokenising an alert description, and the state every pass of the description parser shares.

The parser (:mod:`watchlists.parser`) runs one pass per kind of word (plates, uncertainty, makes and models, body
types, colours, years, fillers); each pass claims the tokens it understands. They share one :class:`ParseState`:
the tokens with the role each has been given so far, the field values found, and the notes for the operator. The
rule every pass keeps, and that :meth:`ParseState.set_field` enforces, is that a token gets exactly one role and a
field one value (a second, different value is reported unplaced, never silently dropped).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from watchlists.aliases import compact, normalize
from watchlists.vocabulary import MAX_PHRASE_WORDS, Vocabulary

FIELD_ROLES: tuple[str, ...] = ("make", "model", "color", "body_type", "year", "plate")
"""The roles that place a token in an entry field."""

_SEPARATORS = r"\s,;:()\[\]{}\"“”!|/"
_TOKEN = re.compile(rf"[^{_SEPARATORS}]*(?:[^\W_]|[?*])[^{_SEPARATORS}]*")
_CLAUSE_BREAK = re.compile(r"[,;:()\[\]{}!|\n]")
_EDGE = ".,'’`\"-_~?!"


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """The tokens of a text: ``(token, start, end)`` for each run between separators that holds a letter, a digit,
    ``?`` or ``*``. Every token of this list gets exactly one role in :func:`watchlists.parser.parse_description`."""
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


@dataclass
class Tok:
    """A token as the passes see it: its text and span, its clause, its comparison forms and how it is written."""

    text: str
    start: int
    end: int
    clause: int
    """Index of the clause (between commas, brackets, full stops ...) the token is in."""
    norm: str
    """:func:`normalize` of the token without its edge punctuation."""
    key: str
    """:func:`compact` of the same."""
    question: bool
    """Ends with a ``?`` that marks doubt ("Honda?"), not a plate wildcard."""
    capital: bool
    upper: bool
    apostrophe: bool
    """Starts with an apostrophe (``'16``, ``'90s``)."""
    role: str | None = None


def with_text(t: Tok, text: str) -> Tok:
    """A bare token in ``t``'s place with another text (to read part of a token, such as the year of ``2010+``)."""
    return Tok(text, t.start, t.end, t.clause, text, text, False, False, False, False)


def read_tokens(text: str) -> list[Tok]:
    """The tokens of ``text`` with their clauses and comparison forms."""
    toks: list[Tok] = []
    clause = 0
    previous_end = 0
    for raw, start, end in tokenize(text):
        gap = text[previous_end:start]
        if toks and (_CLAUSE_BREAK.search(gap) or toks[-1].text.endswith(".")):
            clause += 1
        stripped = raw.strip(_EDGE)
        letters = [ch for ch in stripped if ch.isalpha()]
        toks.append(
            Tok(
                text=raw,
                start=start,
                end=end,
                clause=clause,
                norm=normalize(stripped) if stripped else normalize(raw),
                key=compact(stripped) if stripped else "",
                question=raw.endswith("?") and any(ch.isalnum() for ch in stripped) and "*" not in raw,
                capital=bool(letters) and stripped[:1].isupper(),
                upper=len(letters) >= 2 and all(ch.isupper() for ch in letters),
                apostrophe=raw[:1] in "'’",
            )
        )
        previous_end = end
    return toks


class ParseState:
    """One description being parsed: its tokens, the field values found so far, and the operator's notes.

    Attributes:
        text: the description.
        vocab: the makes and models to recognise.
        this_year: the reference year ("late model", two-digit years).
        all_caps: the text is written in capitals (capitalisation then tells nothing).
        toks: the tokens; a pass claims one by setting its ``role``.
        values: field → the value found.
        notes: things the operator should know.
        markers: token positions of uncertainty markers ("possibly").
        questioned: token positions of field tokens with a trailing '?'.
    """

    def __init__(self, text: str, vocab: Vocabulary, this_year: int) -> None:
        self.text = text
        self.vocab = vocab
        self.this_year = this_year
        self.all_caps = sum(ch.isupper() for ch in text) > 3 * max(sum(ch.islower() for ch in text), 1)
        self.toks = read_tokens(text)
        self.values: dict[str, Any] = {}
        self.notes: list[str] = []
        self.markers: list[int] = []
        self.questioned: list[int] = []

    def free(self, i: int, n: int = 1) -> bool:
        """Tokens i..i+n exist, are unassigned and lie in one clause."""
        if i < 0 or i + n > len(self.toks):
            return False
        run = self.toks[i : i + n]
        return all(t.role is None for t in run) and run[0].clause == run[-1].clause

    def phrase(self, i: int, n: int) -> str:
        """The compact form of tokens i..i+n, as the vocabulary's tables are keyed."""
        return "".join(t.key for t in self.toks[i : i + n])

    def words(self, i: int, n: int) -> tuple[str, ...]:
        """The normalised words of tokens i..i+n."""
        return tuple(t.norm for t in self.toks[i : i + n])

    def assign(self, i: int, n: int, role: str) -> None:
        """Gives tokens i..i+n a role (a trailing '?' on a field token marks the field uncertain)."""
        for t in self.toks[i : i + n]:
            t.role = role
            if t.question and role in FIELD_ROLES and role != "plate":  # in a plate, '?' is a wildcard
                self.questioned.append(self.toks.index(t))

    def set_field(self, name: str, value: Any, i: int, n: int, shown: str | None = None) -> bool:
        """Places tokens i..i+n in a field; a second, different value is reported unplaced instead."""
        if name in self.values and self.values[name] != value:
            self.assign(i, n, "unplaced")
            what = shown or " ".join(t.text for t in self.toks[i : i + n])
            self.notes.append(f"a second {name.replace('_', ' ')} {what!r} is not placed: an entry has one {name}")
            return False
        self.values[name] = value
        self.assign(i, n, name)
        return True

    def longest(self, i: int, lookup: Callable[[str], Any], max_words: int = MAX_PHRASE_WORDS) -> tuple[int, Any]:
        """The longest run of free tokens from i whose compact phrase ``lookup`` knows: (length, value)."""
        for n in range(min(max_words, len(self.toks) - i), 0, -1):
            if self.free(i, n):
                found = lookup(self.phrase(i, n))
                if found is not None:
                    return n, found
        return 0, None
