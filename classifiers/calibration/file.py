"""The calibration file (head → temperature or isotonic table, with where it came from) and its runtime form.

Written by ``vehiclewatch watchlist calibrate`` (fitted on labelled camera crops, the method of each head chosen by
clip-wise cross-validated log-loss), read by the service through ``classifiers.calibration`` and applied inside the
:class:`~classifiers.bank.ClassifierBank`, so every classification (and every alert) carries calibrated
probabilities:

.. code-block:: yaml

    version: 1
    heads:
      make: {method: temperature, temperature: 1.8}
      type: {method: none, agreement_exponent: 0.25}    # fused per track: views^0.25 sharpening, fitted on vehicles
      color: {method: isotonic, isotonic_x: [0.0, 0.41, 0.97, 1.0], isotonic_y: [0.0, 0.35, 0.9, 1.0]}
    provenance: {data: /data/traffic_crops_dev, folds: "leave-one-clip-out, 5 clips", date: "2026-12-06"}

Heads the file does not name pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from classifiers.calibration.methods import FloatArray, IsotonicMap, apply_isotonic, apply_temperature
from classifiers.types import Classification, HeadScores

Method = Literal["none", "temperature", "isotonic"]


class CalibrationFileError(ValueError):
    """A calibration file is missing, unreadable or invalid (one line naming the file and the key)."""


class HeadCalibration(BaseModel):
    """How one head's probabilities are calibrated, and what that measured when it was fitted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Method = Field(description="none, temperature or isotonic (of the top-1 confidence).")
    temperature: float | None = Field(default=None, gt=0.0, description="temperature: p' = softmax(log p / T).")
    isotonic_x: tuple[float, ...] | None = Field(default=None, description="isotonic: top-1 confidences (sorted).")
    isotonic_y: tuple[float, ...] | None = Field(default=None, description="isotonic: what each maps to.")
    agreement_exponent: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description=(
            "Fitted on labelled vehicles: how far this head's agreeing views sharpen its fused (per track) "
            "probabilities (classifiers.fusion). None: tracking.fusion's agreement_exponent."
        ),
    )
    measured: dict[str, float] = Field(
        default_factory=dict,
        description="Figures of the fit (cross-validated log-loss and ECE before/after, rows), for the record.",
    )

    @model_validator(mode="after")
    def _parameters_of_method(self) -> HeadCalibration:
        if self.method == "temperature" and self.temperature is None:
            raise ValueError("method temperature needs 'temperature'")
        if self.method == "isotonic":
            if self.isotonic_x is None or self.isotonic_y is None:
                raise ValueError("method isotonic needs 'isotonic_x' and 'isotonic_y'")
            IsotonicMap(self.isotonic_x, self.isotonic_y)  # checks lengths and monotony
        return self

    def apply(self, probs: NDArray[np.floating]) -> FloatArray:
        """The calibrated ``(N, labels)`` probabilities."""
        rows = np.asarray(probs, np.float64)
        if self.method == "temperature":
            assert self.temperature is not None
            return apply_temperature(rows, self.temperature)
        if self.method == "isotonic":
            assert self.isotonic_x is not None
            assert self.isotonic_y is not None
            return apply_isotonic(rows, IsotonicMap(self.isotonic_x, self.isotonic_y))
        return rows


class CalibrationFile(BaseModel):
    """The contents of a calibration file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = Field(default=1, description="File format version.")
    heads: dict[str, HeadCalibration] = Field(description="Head name → its calibration.")
    provenance: dict[str, str] = Field(
        default_factory=dict, description="Data, folds, date and command of the fit (free text)."
    )


def load_calibration_file(path: Path) -> CalibrationFile:
    """Reads and validates a calibration file.

    Raises:
        CalibrationFileError: the file is missing, not YAML/JSON, or invalid (one line naming the key).
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except OSError as exc:
        raise CalibrationFileError(f"calibration file {path}: cannot read it ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise CalibrationFileError(f"calibration file {path}: not valid YAML or JSON") from exc
    try:
        return CalibrationFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise CalibrationFileError(f"calibration file {path}: {where}: {err['msg']}") from exc


def save_calibration_file(calibration: CalibrationFile, path: Path) -> Path:
    """Writes a calibration file (YAML), creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = calibration.model_dump(mode="json", exclude_none=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def agreement_exponents(heads: Mapping[str, HeadCalibration]) -> dict[str, float]:
    """Head → the agreement exponent fitted for it on vehicles (for ``FusionSettings.with_fitted``)."""
    return {name: head.agreement_exponent for name, head in heads.items() if head.agreement_exponent is not None}


class Calibration:
    """Calibrates the heads of classifications (a batch at a time: one vectorised map per head).

    Example:
        >>> cal = Calibration({"color": HeadCalibration(method="temperature", temperature=2.0)})
        >>> scores = HeadScores("color", ("red", "blue"), np.array([0.9, 0.1], np.float32))
        >>> round(float(cal.apply([Classification({"color": scores})])[0].heads["color"].probs[0]), 2)
        0.75
    """

    def __init__(self, heads: Mapping[str, HeadCalibration], source: str = "") -> None:
        self.heads = {name: head for name, head in heads.items() if head.method != "none"}
        self.agreement_exponents = agreement_exponents(heads)
        self.source = source

    @classmethod
    def from_file(cls, path: Path) -> Calibration:
        """Raises CalibrationFileError (a ValueError) for a missing or invalid file."""
        return cls(load_calibration_file(path).heads, str(path))

    def __bool__(self) -> bool:
        return bool(self.heads)

    def apply(self, classifications: Sequence[Classification]) -> list[Classification]:
        """The classifications with every calibrated head's probabilities replaced (other heads untouched)."""
        if not self.heads or not classifications:
            return list(classifications)
        merged = [dict(c.heads) for c in classifications]
        for name, head in self.heads.items():
            rows = [i for i, c in enumerate(classifications) if name in c.heads]
            if not rows:
                continue
            labels = classifications[rows[0]].heads[name].labels
            calibrated = head.apply(np.stack([classifications[i].heads[name].probs for i in rows]))
            for i, probs in zip(rows, calibrated.astype(np.float32), strict=True):
                merged[i][name] = HeadScores(name, labels, probs)
        return [Classification(heads) for heads in merged]
