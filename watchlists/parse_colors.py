"""Colours and shades in alert descriptions: "dark blue", "navy", "lt grey", "silver metallic", "BLK", "red-colored".

The words are the shared colour vocabulary's (:mod:`classifiers.color.vocabulary`), so a description reads colours
exactly as entries and the colour recogniser name them. What this pass adds is reading them in running text:
shade words before the colour, "metallic" after it, two words for one colour ("navy blue"), hyphenated phrases
("dark-blue") and a trailing cue ("colored", "paint"). Report codes (BLK, WHT ...) count only in capitals, so the
everyday words they spell ("org", "mar") are left alone.
"""

from __future__ import annotations

from classifiers.color.vocabulary import COLOR_WORDS, Shade, color_word, shade_key
from watchlists.parse_tokens import ParseState, Tok

_COLOR_CUES = ("colored", "coloured", "color", "colour", "painted", "paint")


def place_colors(state: ParseState) -> None:
    """Places the colour phrases of the description (the first one; a second is reported unplaced)."""
    i = 0
    while i < len(state.toks):
        used = _color_at(state, i)
        i += max(used, 1)


def token_color(state: ParseState, t: Tok) -> tuple[str, Shade | None] | None:
    """(colour, shade) a single token names (``navy``, ``dark-blue``, ``BLK``), or None."""
    found = color_word(t.norm) if t.norm in COLOR_WORDS else None
    if found is None:
        words = t.norm.split()
        if len(words) > 1 and all(color_word(w) is not None or shade_key(w) is not None for w in words):
            colours = [color_word(w) for w in words if color_word(w) is not None]
            shades = [shade_key(w) for w in words if color_word(w) is None]
            if colours:
                base, implied = colours[0] or ("", None)
                return base, shades[0] if shades else implied
        return None
    if len(t.norm) == 3 and t.norm not in ("red", "tan") and not (t.upper or state.all_caps):
        return None  # police colour codes (BLK, WHT ...) only in capitals
    return found


def _color_at(state: ParseState, i: int) -> int:
    """A colour phrase starting at token i: shades, the colour, 'metallic', a second word of the same colour and
    colour cues. Returns the tokens used (a shade without a colour is used, and reported unplaced)."""
    toks = state.toks
    j = i
    shade: Shade | None = None
    while state.free(j) and shade_key(toks[j].norm) is not None and toks[j].clause == toks[i].clause:
        shade = shade_key(toks[j].norm)
        j += 1
    found = token_color(state, toks[j]) if state.free(j) and toks[j].clause == toks[i].clause else None
    if found is None:
        if j > i:
            state.assign(i, j - i, "unplaced")
            state.notes.append(f"shade {shade!r} without a colour is not placed")
        return j - i
    base, implied = found
    end = j + 1
    while state.free(end) and toks[end].norm in ("metallic", "met") and toks[end].clause == toks[j].clause:
        shade = shade or "metallic"
        end += 1
    while state.free(end) and toks[end].clause == toks[j].clause:
        same = token_color(state, toks[end])
        if same is None or same[0] != base:
            break
        implied = implied or same[1]
        end += 1  # "navy blue": one colour in two words
    value = (base, shade or implied)
    shown = f"{value[1]} {base}" if value[1] else base
    if not state.set_field("color", value, i, end - i, shown):
        return end - i
    k = end
    while state.free(k) and toks[k].norm in _COLOR_CUES:
        state.assign(k, 1, "color")
        k += 1
    return k - i
