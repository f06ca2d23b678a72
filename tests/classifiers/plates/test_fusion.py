"""Per-track plate fusion: reads aligned and voted character by character."""

from __future__ import annotations

import pytest

from classifiers.plates.fusion import PlateFusion, align, edit_distance
from classifiers.plates.types import PlateReading


def _read(text: str, conf: float = 0.9) -> PlateReading:
    return PlateReading(text, (conf,) * len(text), (0.0, 0.0, 10.0, 5.0))


def test_alignment_and_distance() -> None:
    assert edit_distance("ABC123", "ABC123") == 0
    assert edit_distance("ABC123", "ABC12") == 1
    assert edit_distance("ABC123", "XABC123") == 1
    assert align("AB", "B") == [(0, None), (1, 0)]


def test_one_read_is_returned_as_it_is() -> None:
    fusion = PlateFusion()
    assert fusion.fused() is None
    fusion.add(_read("ABC123"))
    fused = fusion.fused()
    assert fused is not None
    assert fused.text == "ABC123"


def test_each_view_wrong_somewhere_fuses_right() -> None:
    fusion = PlateFusion()
    for text in ("ABC12B", "A8C123", "ABC123", "ABG123"):
        fusion.add(_read(text))
    fused = fusion.fused()
    assert fused is not None
    assert fused.text == "ABC123"
    # Where the views disagreed the fused character is less sure than where they all agreed.
    assert fused.char_confidences[0] == pytest.approx(0.9)
    assert fused.char_confidences[1] == pytest.approx(0.75 * 0.9)


def test_reads_of_another_length_vote_where_they_align() -> None:
    fusion = PlateFusion()
    fusion.add(_read("ABC123", 0.6))
    fusion.add(_read("ABC723", 0.6))
    fusion.add(_read("ABC1223", 0.9))  # one character too many: it still votes for the 1
    fusion.add(_read("XYZ", 0.99))  # far off the consensus length: left out
    fused = fusion.fused()
    assert fused is not None
    assert fused.text == "ABC123"


def test_quality_weights_the_votes() -> None:
    fusion = PlateFusion()
    fusion.add(_read("ABC128"), quality=1.0)
    fusion.add(_read("ABC123"), quality=0.2)
    fusion.add(_read("ABC123"), quality=0.2)
    fused = fusion.fused()
    assert fused is not None
    assert fused.text == "ABC128"


def test_memory_is_bounded() -> None:
    fusion = PlateFusion(max_reads=3)
    for conf in (0.5, 0.9, 0.8, 0.95):
        fusion.add(_read("ABC123", conf))
    assert len(fusion.reads) == 3
    assert min(r.confidence for r, _ in fusion.reads) > 0.5**6
