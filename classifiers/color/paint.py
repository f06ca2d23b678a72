"""Body-paint statistic: the dominant colour of a vehicle's body, measured on its pixels.

A second opinion next to the CNN classifiers, built from what a person checks when unsure: the paint's colour
against a neutral reference in the same picture. Steps, on one crop cut with a known margin around the box:

1. *White balance from the surroundings.* The ring outside the box is mostly road; its near-neutral pixels give
   the light's colour (``classifiers.color.balance.ring_gains``), which is divided out of the body.
2. *Body region.* The central part of the box (``PaintSettings.region_x/region_y``): the sides of the box are
   background beside the car, its bottom is tyres and road shadow, its top edge often sky or other cars.
3. *Clusters in CIELab.* The body pixels (at most ``max_pixels``) are split into ``clusters`` groups by k-means,
   started from lightness quantiles so the result is deterministic.
4. *The paint cluster.* Each cluster is scored by its size, weighted toward the region's centre, and penalised when
   it looks like something other than paint: road (close to the ring's reference colour and neutral), glass and
   tyres (very dark and neutral while a lighter or more colourful cluster exists), specular highlights and lamps
   (near-white and small). The best-scoring cluster is the paint.
5. *Colour scores.* The paint's Lab colour becomes a score per vocabulary colour by fixed rules of colour
   science, not fitted to any data set: hue sectors of CIELab for chromatic paint (chroma above ~12), lightness
   relative to the road for neutral paint (black < grey < silver < white), with soft (Gaussian) boundaries.

The statistic is weak alone (small, compressed crops smear colours; dark paint and glass look alike), so the
recogniser weighs it against the classifiers; its best use is the *shade*, which the classifiers do not give.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from classifiers.color.balance import apply_gains, ring_gains, ring_mask
from classifiers.color.labels import COLOR_LABELS, INDEX

ImageArray = NDArray[np.uint8]

# Hue sectors of CIELab (degrees, atan2(b*, a*)) → colour: red sits near 20-40°, yellow near 90°, green from
# ~130°, blue near 250-290°. Sectors overlap smoothly through the Gaussian weighting in ``chromatic_scores``.
HUE_CENTRES: dict[str, float] = {
    "red": 28.0,
    "orange": 58.0,
    "yellow": 88.0,
    "gold": 80.0,
    "green": 150.0,
    "blue": 265.0,
    "purple": 320.0,
    "brown": 50.0,
    "beige": 75.0,
}
HUE_WIDTH: dict[str, float] = {"green": 45.0, "blue": 40.0}
_DEFAULT_HUE_WIDTH = 22.0


class PaintSettings(BaseModel):
    """How the body-paint statistic is measured."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region_x: tuple[float, float] = Field(
        default=(0.12, 0.88), description="left and right edges of the body region, as fractions of the box width"
    )
    region_y: tuple[float, float] = Field(
        default=(0.15, 0.88), description="top and bottom edges of the body region, as fractions of the box height"
    )
    clusters: int = Field(default=4, ge=2, le=8, description="k of the k-means in CIELab")
    max_pixels: int = Field(default=48 * 48, ge=64, description="body pixels used at most (the region is shrunk)")
    chroma_threshold: float = Field(
        default=12.0, ge=0.0, description="CIELab chroma above which paint counts as coloured rather than neutral"
    )
    balance: bool = Field(default=True, description="white-balance the body from the ring around the box")
    glass_lightness: float = Field(
        default=35.0, ge=0.0, le=100.0, description="CIELab L below which a neutral cluster may be glass or tyre"
    )
    glass_rival_share: float = Field(
        default=0.2, ge=0.0, le=1.0, description="weight a lighter or coloured cluster needs to outrank dark glass"
    )
    colour_boost: float = Field(default=2.0, ge=1.0, description="score factor of coloured clusters over neutral ones")


@dataclass(frozen=True, slots=True)
class PaintStats:
    """The measured paint of one crop.

    Attributes:
        lab: CIELab colour of the paint cluster (L 0-100, a and b about -128-127), after white balance.
        chroma: ``hypot(a, b)``: 0 for neutral paint.
        hue: ``atan2(b, a)`` in degrees, 0-360.
        lightness_vs_road: L of the paint minus L of the ring's reference (0 when there is no ring).
        share: the paint cluster's share of the body region's pixels.
        colored_share: share of body pixels whose chroma is above the threshold (all clusters).
    """

    lab: tuple[float, float, float]
    chroma: float
    hue: float
    lightness_vs_road: float
    share: float
    colored_share: float


def _to_lab(pixels_bgr: NDArray[np.uint8]) -> NDArray[np.float32]:
    as_image = (pixels_bgr.reshape(-1, 1, 3).astype(np.float32)) / 255.0
    return np.asarray(cv2.cvtColor(as_image, cv2.COLOR_BGR2Lab), np.float32).reshape(-1, 3)


def _body(crop: ImageArray, margin: float, settings: PaintSettings) -> ImageArray:
    h, w = crop.shape[:2]
    # The box fills the middle 1 / (1 + 2m) of the crop.
    inner = 1.0 / (1.0 + 2.0 * margin)
    offset = margin * inner
    x0 = offset + settings.region_x[0] * inner
    x1 = offset + settings.region_x[1] * inner
    y0 = offset + settings.region_y[0] * inner
    y1 = offset + settings.region_y[1] * inner
    top, left = int(y0 * h), int(x0 * w)
    body = crop[top : max(top + 1, round(y1 * h)), left : max(left + 1, round(x1 * w))]
    scale = np.sqrt(settings.max_pixels / max(body.shape[0] * body.shape[1], 1))
    if scale < 1.0:
        size = (max(1, round(body.shape[1] * scale)), max(1, round(body.shape[0] * scale)))
        return np.ascontiguousarray(cv2.resize(body, size, interpolation=cv2.INTER_AREA), np.uint8)
    return np.ascontiguousarray(body)


def _kmeans(lab: NDArray[np.float32], k: int) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """k-means started from lightness quantiles (deterministic: no random initialisation)."""
    k = min(k, len(lab))
    ranks = np.argsort(np.argsort(lab[:, 0], kind="stable"), kind="stable")
    initial = np.minimum(ranks * k // max(len(lab), 1), k - 1).astype(np.int32).reshape(-1, 1)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.25)
    _, labels, centres = cv2.kmeans(
        np.ascontiguousarray(lab, np.float32), k, initial.copy(), criteria, 1, cv2.KMEANS_USE_INITIAL_LABELS
    )
    return labels.ravel().astype(np.int32), np.asarray(centres, np.float32)


def measure_paint(crop: ImageArray, margin: float, settings: PaintSettings | None = None) -> PaintStats:
    """The dominant body colour of a vehicle crop (see the module doc).

    Args:
        crop: BGR uint8, the box grown by ``margin`` of its size on every side (as ``classifiers.crops`` cuts it).
        margin: the crop's context margin (0 when the crop is the box itself: no white balance, no road reference).
        settings: region, clustering and thresholds.

    Raises:
        ValueError: the crop is not a non-empty BGR uint8 image, or the margin is negative.
    """
    settings = settings or PaintSettings()
    if crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[2] != 3 or 0 in crop.shape:
        raise ValueError(f"crop must be a non-empty BGR (h, w, 3) uint8 image, got {crop.dtype} {crop.shape}")
    ring = ring_mask(crop.shape[0], crop.shape[1], margin)
    reference_l = 50.0
    gains = np.ones(3, np.float32)
    if ring.any():
        if settings.balance:
            gains = ring_gains(crop, margin)
        ring_lab = _to_lab(apply_gains(crop, gains)[ring])
        neutral = ring_lab[np.hypot(ring_lab[:, 1], ring_lab[:, 2]) < settings.chroma_threshold]
        reference_l = float(np.median((neutral if len(neutral) >= 16 else ring_lab)[:, 0]))
    body = apply_gains(_body(crop, margin, settings), gains)
    lab = _to_lab(body)
    labels, centres = _kmeans(lab, settings.clusters)
    k = len(centres)
    chroma = np.hypot(centres[:, 1], centres[:, 2])
    # Centre weighting: a pixel in the middle of the region counts twice as much as one at its edge.
    hh, ww = body.shape[:2]
    yy, xx = np.mgrid[0:hh, 0:ww]
    centrality = 1.0 - 0.5 * np.maximum(np.abs(yy / max(hh - 1, 1) - 0.5), np.abs(xx / max(ww - 1, 1) - 0.5)) * 2
    weight = np.bincount(labels, weights=centrality.ravel(), minlength=k) / max(float(centrality.sum()), 1e-6)
    share = np.bincount(labels, minlength=k) / max(len(labels), 1)
    score = weight.copy()
    road_like = (np.abs(centres[:, 0] - reference_l) < 6.0) & (chroma < settings.chroma_threshold) & ring.any()
    score[road_like] *= 0.4
    highlight = (centres[:, 0] > 92.0) & (share < 0.25)
    score[highlight] *= 0.3
    coloured = chroma >= settings.chroma_threshold
    # Glass, tyres and grilles are dark and neutral; when a lighter body-sized cluster or a coloured one exists,
    # the dark neutral ones are more likely glass than paint.
    substantial = (weight >= settings.glass_rival_share) & ~road_like & ~highlight
    glass_like = (centres[:, 0] < settings.glass_lightness) & ~coloured
    if glass_like.any() and (substantial & (coloured | (centres[:, 0] > settings.glass_lightness + 15.0))).any():
        score[glass_like] *= 0.4
    # Coloured paint wins over neutral clusters of similar weight: glass, tyres and road are never coloured.
    score[coloured] *= settings.colour_boost
    best = int(np.argmax(score))
    pixel_chroma = np.hypot(lab[:, 1], lab[:, 2])
    paint = centres[best]
    return PaintStats(
        lab=(float(paint[0]), float(paint[1]), float(paint[2])),
        chroma=float(chroma[best]),
        hue=float(np.degrees(np.arctan2(paint[2], paint[1])) % 360.0),
        lightness_vs_road=float(paint[0] - reference_l) if ring.any() else 0.0,
        share=float(share[best]),
        colored_share=float(np.mean(pixel_chroma >= settings.chroma_threshold)),
    )


def _hue_distance(a: float, b: float) -> float:
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)


def chromatic_scores(stats: PaintStats) -> NDArray[np.float32]:
    """Unnormalised scores of the chromatic colours from the paint's hue (Gaussian in hue distance)."""
    out = np.zeros(len(COLOR_LABELS), np.float32)
    l_star = stats.lab[0]
    for name, centre in HUE_CENTRES.items():
        width = HUE_WIDTH.get(name, _DEFAULT_HUE_WIDTH)
        value = float(np.exp(-0.5 * (_hue_distance(stats.hue, centre) / width) ** 2))
        # Lightness separates colours that share a hue: brown is a dark orange, beige a pale one, gold a dull
        # yellow of mid lightness.
        if name == "brown":
            value *= float(l_star < 45.0) * float(stats.chroma < 40.0)
        elif name == "beige":
            value *= float(l_star > 60.0) * float(stats.chroma < 28.0)
        elif name == "gold":
            value *= 0.5 * float(stats.chroma < 40.0)
        out[INDEX[name]] = value
    return out


def achromatic_scores(stats: PaintStats, has_reference: bool) -> NDArray[np.float32]:
    """Unnormalised scores of black, grey, silver and white from the paint's lightness.

    With a road reference, lightness is judged relative to the road (exposure cancels out); without one, on the
    absolute L* scale.
    """
    out = np.zeros(len(COLOR_LABELS), np.float32)
    if has_reference:
        x, centres, width = stats.lightness_vs_road, (-28.0, -10.0, 10.0, 30.0), 10.0
    else:
        x, centres, width = stats.lab[0], (15.0, 38.0, 62.0, 85.0), 11.0
    for name, centre in zip(("black", "grey", "silver", "white"), centres, strict=True):
        out[INDEX[name]] = float(np.exp(-0.5 * ((x - centre) / width) ** 2))
    # Lightness cannot tell metallic silver from white paint (exposure and the sun's angle move both across the
    # same range), so the statistic abstains between them and leaves that choice to the classifiers.
    light = max(out[INDEX["silver"]], out[INDEX["white"]])
    out[INDEX["silver"]] = out[INDEX["white"]] = light
    return out


def paint_probabilities(
    stats: PaintStats, *, has_reference: bool = True, chroma_threshold: float = 12.0
) -> NDArray[np.float32]:
    """A probability per vocabulary colour from the paint statistic (fixed rules; see the module doc).

    The weight of the chromatic against the neutral colours follows the paint's chroma through a logistic step
    around ``chroma_threshold``; a small floor keeps every colour possible.
    """
    coloured = 1.0 / (1.0 + np.exp(-(stats.chroma - chroma_threshold) / 3.0))
    chromatic = chromatic_scores(stats)
    neutral = achromatic_scores(stats, has_reference)
    probs = (
        coloured * chromatic / max(float(chromatic.sum()), 1e-6)
        + (1.0 - coloured) * neutral / max(float(neutral.sum()), 1e-6)
        + 0.01
    )
    out: NDArray[np.float32] = (probs / probs.sum()).astype(np.float32)
    return out
