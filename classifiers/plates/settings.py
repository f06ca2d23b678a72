"""Configuration of the plate reader (``plates:`` in the service's ``tracking`` section, and `vehiclewatch plates`);
settings only."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_FORMATS: Mapping[str, tuple[str, ...]] = {
    # Brazil: the old grey plates ABC1234 and Mercosur ABC1D23.
    "br": (r"[A-Z]{3}[0-9][A-Z0-9][0-9]{2}",),
    # Slovakia (AB123CD), Czechia (1A23456, 1AB2345), Germany-style and other EU plates (letters then digits).
    "eu": (r"[A-Z]{2}[0-9]{3}[A-Z]{2}", r"[0-9][A-Z][A-Z0-9][0-9]{4}", r"[A-Z]{1,3}[A-Z]{1,2}[0-9]{1,4}"),
    # US states: any mix of 5-8 characters with a digit (a word without one is a state name, a dealer's or a
    # make's badge far more often than a vanity plate). Only the length can be checked, so nothing is fixed.
    "us": (r"(?=.*[0-9])[A-Z0-9]{5,8}",),
}
"""Formats per region used when the configuration names none; tune them to the plates your cameras see."""


class PlateReaderSettings(BaseModel):
    """How plates are found on a vehicle crop and read.

    Example:
        >>> PlateReaderSettings().min_chars
        4
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    formats: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_FORMATS.items()},
        description=(
            "Plate formats per region: whole-plate regular expressions over A-Z and 0-9. Reads that fit one rank "
            "first; look-alikes (O/0, I/1, B/8, S/5 ...) are swapped only where a format demands it. {} for none."
        ),
    )
    min_chars: int = Field(default=4, ge=1, le=16, description="Fewest characters a plate read may have.")
    max_chars: int = Field(default=8, ge=1, le=16, description="Most characters a plate read may have.")
    min_text_height: int = Field(
        default=8, ge=4, description="Smallest height in pixels of a plate's characters that is read at all."
    )
    min_aspect: float = Field(default=1.3, gt=0, description="Least width/height of a plate's text line.")
    max_aspect: float = Field(default=9.0, gt=0, description="Greatest width/height of a plate's text line.")
    max_tilt_degrees: float = Field(default=25.0, ge=0, le=90, description="Most tilt of a plate's text line.")
    min_center_y: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Plates lie below this fraction of the crop's height (0: anywhere; ~0.35 for vehicle crops).",
    )
    unformatted_weight: float = Field(
        default=0.5, ge=0, le=1, description="Rank of a read that fits no format, relative to one that fits."
    )
    reread_below: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description=(
            "A read whose least sure character is below this is read twice more, cut differently, and fused "
            "(0: never; on plates_dev 0.9 gave no gain)."
        ),
    )
    read_stretch: float = Field(
        default=1.5,
        ge=1.0,
        le=3.0,
        description=(
            "How many times wider a squat text line (see read_stretch_below) is read: the recogniser, trained on "
            "general text, splits the narrow, tightly packed characters of such plates better when widened. 1: off."
        ),
    )
    read_stretch_below: float = Field(
        default=2.8,
        ge=0,
        description=(
            "Lines whose width/height as cut (margin included) is below this are read widened by read_stretch: "
            "US-style plates (about 2.2) are, long European and Brazilian ones (about 3.5) are not."
        ),
    )
    read_min_width: int = Field(
        default=320, ge=32, le=640, description="Least width in pixels (at 48 px high) a batch of lines is padded to."
    )
    max_candidates: int = Field(default=10, ge=1, description="Most text lines read per crop (best-looking first).")
    detect_side: int = Field(default=960, ge=64, description="Longest side crops are scaled to for text detection.")
    max_upscale: float = Field(
        default=2.0, ge=1.0, le=4.0, description="Most a small crop is enlarged towards detect_side for text detection."
    )
    finder_regions: int = Field(
        default=4,
        ge=0,
        le=16,
        description=(
            "Plate-like regions (dense vertical strokes of a plate's shape) whose surroundings are searched again "
            "for text, enlarged (0: none; finds plates the first look at detect_side misses)."
        ),
    )
    finder_height: float = Field(
        default=64.0,
        ge=8,
        description="Height in pixels a plate-like region is enlarged to (at most 4x) for its closer look.",
    )
    threads: int = Field(default=0, ge=0, description="ONNX Runtime threads (0: its default).")
