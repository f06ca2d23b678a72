"""``ColorRecognizer``: colour that holds up on camera footage, from an ensemble described by one YAML file.

Members (any number):

- ``classifier``: an ONNX colour classifier (e.g. ``omz_vehicle_attributes_0039_72.onnx``'s ``color`` output,
  ``spectrico_color_mobilenetv3_224.onnx``), run through :class:`classifiers.onnx_classifier.OnnxClassifier`
  exactly as the service runs classifiers; its labels are mapped onto :data:`COLOR_LABELS`, and it abstains on
  colours it lacks (``classifiers.color.labels.NEIGHBOURS``);
- ``paint``: the body-paint statistic (:mod:`classifiers.color.paint`), white-balanced from the road around the
  vehicle.

They are combined by the fitted log-linear pool of :mod:`classifiers.color.pool` (one weight per member, one bias
per colour). The result per crop (:class:`ColorResult`) is a probability per colour, the *shade* (dark/light) where
the paint measurement makes it clear, and the paint statistic itself.

The recogniser file (written by ``python -m classifiers.color.build``) names the member models by path, relative
to the file or absolute, so trained or fitted artefacts stay outside the repository:

.. code-block:: yaml

    version: 1
    members:
      - {name: omz, kind: classifier, model: /models/omz_vehicle_attributes_0039_72.onnx, output: color,
         weight: 0.39}
      - {name: spectrico, kind: classifier, model: /models/spectrico_color_mobilenetv3_224.onnx, weight: 0.82}
      - {name: paint, kind: paint, weight: 0.49}
    biases: {black: 0.0, grey: 1.1, silver: -0.7}

In the service it is the ``color`` head (and a ``color_shade`` head) of the :class:`ClassifierBank`: set
``classifiers.color_recognizer`` to the file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from classifiers.color.camera_adapt import CameraLevelsSettings, LevelsCorrection
from classifiers.color.labels import COLOR_LABELS, LabelMap, base_color, label_map
from classifiers.color.paint import PaintSettings, PaintStats, measure_paint, paint_probabilities
from classifiers.color.pool import PoolParams, pool_log_probs
from classifiers.color.shade import judged_dark_probability
from classifiers.color.vocabulary import Lightness
from classifiers.crops import ImageArray, check_image
from classifiers.onnx_classifier import OnnxClassifier
from classifiers.settings import ClassifierModelSettings
from classifiers.types import HeadScores
from detectors.providers import DEFAULT_PROVIDERS, RuntimeName
from detectors.runtime import ModelLoadError

log = logging.getLogger(__name__)

COLOR_HEAD = "color"
SHADE_HEAD = "color_shade"
SHADE_LABELS: tuple[str, str] = ("dark", "light")
MEMBER_FLOOR = 1e-3
"""Each member's probabilities are floored at this before the log, so no single member can veto a colour."""


class RecognizerFileError(ValueError):
    """A colour recogniser file is missing, unreadable or invalid (the message names the file and the key)."""


class MemberConfig(BaseModel):
    """One member of the ensemble and its weight in the pool."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Name in reports (e.g. 'omz', 'spectrico', 'paint').")
    kind: Literal["classifier", "paint"] = Field(description="An ONNX colour classifier, or the paint statistic.")
    model: Path | None = Field(
        default=None, description="classifier: ONNX file, absolute or relative to the recogniser file."
    )
    output: str | None = Field(
        default=None,
        description="classifier: the labelled output to use (default: the one whose labels are most like colours).",
    )
    weight: float = Field(description="The member's weight in the log-linear pool.")

    @model_validator(mode="after")
    def _model_for_classifiers(self) -> MemberConfig:
        if self.kind == "classifier" and self.model is None:
            raise ValueError(f"member {self.name!r}: a classifier member needs 'model'")
        if self.kind == "paint" and (self.model is not None or self.output is not None):
            raise ValueError(f"member {self.name!r}: a paint member takes no 'model' or 'output'")
        return self


class RecognizerConfig(BaseModel):
    """The contents of a colour recogniser file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = Field(default=1, description="File format version.")
    members: tuple[MemberConfig, ...] = Field(min_length=1, description="The ensemble's members, in pool order.")
    biases: dict[str, float] = Field(default_factory=dict, description="Pool bias per colour (colours not listed: 0).")
    paint: PaintSettings = Field(default_factory=PaintSettings, description="How the paint statistic is measured.")
    shade_confidence: float = Field(
        default=0.75,
        gt=0.5,
        lt=1.0,
        description="A shade is reported when the probability of dark (or of light) reaches this.",
    )
    camera: CameraLevelsSettings | None = Field(default=None, description="Levels envelope for CameraAdapter.")
    provenance: dict[str, str] = Field(
        default_factory=dict, description="How the pool was fitted and what it measured (free text)."
    )

    @field_validator("biases")
    @classmethod
    def _known_colours(cls, biases: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(biases) - set(COLOR_LABELS))
        if unknown:
            raise ValueError(f"biases name colours the recogniser does not know: {', '.join(unknown)}")
        return biases

    @model_validator(mode="after")
    def _distinct_names(self) -> RecognizerConfig:
        names = [m.name for m in self.members]
        if len(set(names)) != len(names):
            raise ValueError(f"member names must be distinct, got {names}")
        return self

    def pool_params(self) -> PoolParams:
        return PoolParams(tuple(m.weight for m in self.members), tuple(self.biases.get(c, 0.0) for c in COLOR_LABELS))


def load_recognizer_config(path: Path) -> RecognizerConfig:
    """Reads and validates a recogniser file.

    Raises:
        RecognizerFileError: the file is missing, not YAML, or invalid (one line naming the key).
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RecognizerFileError(f"colour recogniser file {path}: cannot read it ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise RecognizerFileError(f"colour recogniser file {path}: not valid YAML") from exc
    try:
        return RecognizerConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise RecognizerFileError(f"colour recogniser file {path}: {where}: {err['msg']}") from exc


def save_recognizer_config(config: RecognizerConfig, path: Path) -> Path:
    """Writes a recogniser file (YAML), creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = config.model_dump(mode="json", exclude_none=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@dataclass(frozen=True)
class ColorResult:
    """What the recogniser says about one crop.

    Attributes:
        probs: probability of each of :data:`COLOR_LABELS`, in that order.
        dark_probability: probability that the paint is a dark shade of its colour (None: no paint member, a
            colour whose shade is not judged (grey), or the paint measurement disagrees with the colour found).
        shade: ``dark`` or ``light`` when ``dark_probability`` is clear (beyond the file's ``shade_confidence``),
            else None.
        paint: the paint statistic, when the recogniser has a paint member.
    """

    probs: NDArray[np.float32]
    dark_probability: float | None
    shade: Lightness | None
    paint: PaintStats | None

    @property
    def labels(self) -> tuple[str, ...]:
        return COLOR_LABELS

    @property
    def color(self) -> str:
        """The most probable colour."""
        return COLOR_LABELS[int(np.argmax(self.probs))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probs))


def _resolve(path: Path, base: Path) -> Path:
    return path if path.is_absolute() else (base / path)


class _ClassifierMember:
    def __init__(
        self, config: MemberConfig, base: Path, providers: Sequence[str], max_batch: int, runtime: RuntimeName
    ) -> None:
        assert config.model is not None  # checked by MemberConfig
        path = _resolve(config.model, base)
        heads = (config.output,) if config.output is not None else None
        # Members keep the classifiers' default precision (fp32): the pool was fitted on fp32 outputs.
        self.classifier = OnnxClassifier(
            ClassifierModelSettings(
                model=path, heads=heads, providers=tuple(providers), max_batch=max_batch, runtime=runtime
            )
        )
        self.head, labels = self._colour_head(config.name)
        self.map: LabelMap = label_map(labels)

    def _colour_head(self, name: str) -> tuple[str, tuple[str, ...]]:
        """The head whose labels are most often colours (omz has ``color`` and ``type``)."""
        heads = self.classifier.heads
        head = max(heads, key=lambda h: sum(base_color(label) is not None for label in heads[h]))
        if not any(base_color(label) is not None for label in heads[head]):
            raise ModelLoadError(f"colour recogniser member {name!r}: {self.classifier.path.name} has no colour labels")
        return head, heads[head]

    def probs(self, crops: Sequence[ImageArray]) -> NDArray[np.float32]:
        """The chosen head's probabilities ``(N, labels)``, in the model's own label order."""
        return np.stack([scores[self.head].probs for scores in self.classifier.classify(crops)])


@dataclass(frozen=True)
class MemberOutputs:
    """Every member's view of a batch of crops.

    Attributes:
        log_probs: per member (pool order), ``(N, colours)`` log-probabilities as the pool uses them (floored,
            missing colours filled by abstention).
        alone: per member, ``(N, colours)`` probabilities as the member would answer alone (a classifier's labels
            renamed onto the vocabulary; colours it lacks get 0): for reporting each member's own accuracy.
        paint: the paint statistic of each crop (empty without a paint member).
    """

    log_probs: list[NDArray[np.float64]]
    alone: list[NDArray[np.float32]]
    paint: list[PaintStats]


class ColorRecognizer:
    """The colour ensemble of a recogniser file, usable wherever a classifier is (``heads``, ``classify``).

    Example:
        >>> rec = ColorRecognizer.from_file(Path("out/color/recognizer.yaml"), crop_margin=0.05)  # doctest: +SKIP
        >>> result = rec.recognize([crop_bgr])[0]  # doctest: +SKIP
        >>> result.color, result.shade  # doctest: +SKIP
        ('blue', 'dark')
    """

    def __init__(
        self,
        config: RecognizerConfig,
        *,
        path: Path,
        crop_margin: float,
        providers: Sequence[str] = DEFAULT_PROVIDERS,
        max_batch: int = 32,
        runtime: RuntimeName = "auto",
    ) -> None:
        """Opens the member models.

        Args:
            config: the recogniser file's contents.
            path: the file (member paths are relative to its folder; also names the recogniser in logs).
            crop_margin: the context margin the crops are cut with (``classifiers.crop_margin``): the paint
                statistic finds the box and the road around it from it.
            providers: ONNX Runtime providers for the member classifiers.
            max_batch: most crops per member inference call.
            runtime: the member classifiers' runtime (``auto``: see `detectors.engines.selection`).

        Raises:
            ModelLoadError: a member model cannot be opened or has no colour labels.
        """
        if crop_margin < 0:
            raise ValueError(f"crop_margin must be >= 0, got {crop_margin}")
        self.config = config
        self.path = path
        self.name = path.stem
        self.crop_margin = crop_margin
        self._params = config.pool_params()
        base = path.parent
        self._members: list[_ClassifierMember | None] = [
            _ClassifierMember(m, base, providers, max_batch, runtime) if m.kind == "classifier" else None
            for m in config.members
        ]
        self._has_paint = any(m.kind == "paint" for m in config.members)
        log.info(
            "colour recogniser %s: %s",
            self.name,
            ", ".join(f"{m.name} (weight {m.weight:.2f})" for m in config.members),
        )

    @classmethod
    def from_file(
        cls,
        path: Path,
        *,
        crop_margin: float,
        providers: Sequence[str] = DEFAULT_PROVIDERS,
        max_batch: int = 32,
        runtime: RuntimeName = "auto",
    ) -> ColorRecognizer:
        """Reads a recogniser file and opens its members.

        Raises:
            RecognizerFileError: the file is missing or invalid.
            ModelLoadError: a member model cannot be opened.
        """
        return cls(
            load_recognizer_config(path),
            path=path,
            crop_margin=crop_margin,
            providers=providers,
            max_batch=max_batch,
            runtime=runtime,
        )

    @property
    def heads(self) -> dict[str, tuple[str, ...]]:
        """The heads it produces in a ``ClassifierBank``: ``color`` and ``color_shade``."""
        return {COLOR_HEAD: COLOR_LABELS, SHADE_HEAD: SHADE_LABELS}

    def member_missing(self, member: int) -> tuple[str, ...]:
        """The vocabulary colours member ``member`` (pool order) has no label for (none for the paint statistic)."""
        found = self._members[member]
        return () if found is None else found.map.missing

    @property
    def member_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.config.members)

    @property
    def camera_settings(self) -> CameraLevelsSettings | None:
        """The levels envelope for ``CameraAdapter`` (one adapter per camera), or None when the file has none."""
        return self.config.camera

    @property
    def runtime_name(self) -> str:
        """The member classifiers' runtime (``onnxruntime`` / ``openvino``; ``none`` without classifier members)."""
        return self._members_say(lambda c: c.runtime_name)

    @property
    def device(self) -> str:
        """What runs the member classifiers (``CPU``, ``CPUExecutionProvider`` ...)."""
        return self._members_say(lambda c: c.device)

    @property
    def precision(self) -> str:
        """The precision the member classifiers compute in."""
        return self._members_say(lambda c: c.precision)

    def _members_say(self, what: Callable[[OnnxClassifier], str]) -> str:
        said = dict.fromkeys(what(m.classifier) for m in self._members if m is not None)
        return "/".join(said) or "none"

    def member_outputs(self, crops: Sequence[ImageArray], *, crop_margin: float | None = None) -> MemberOutputs:
        """Each member's probabilities for BGR crops (see ``MemberOutputs``).

        Args:
            crops: BGR crops.
            crop_margin: the crops' context margin, if not the recogniser's own (e.g. 0 for whole photos).
        """
        margin = self.crop_margin if crop_margin is None else crop_margin
        paint: list[PaintStats] = []
        if self._has_paint:
            paint = [measure_paint(crop, margin, self.config.paint) for crop in crops]
        threshold = self.config.paint.chroma_threshold
        log_probs: list[NDArray[np.float64]] = []
        alone: list[NDArray[np.float32]] = []
        for member in self._members:
            if member is not None:
                rows = member.probs(crops)
                log_probs.append(np.log(member.map.apply(rows, MEMBER_FLOOR).astype(np.float64)))
                alone.append((rows @ member.map.matrix).astype(np.float32))
            else:
                own = np.stack(
                    [paint_probabilities(s, has_reference=margin > 0, chroma_threshold=threshold) for s in paint]
                )
                floored = np.maximum(own.astype(np.float64), MEMBER_FLOOR)
                log_probs.append(np.log(floored / floored.sum(axis=1, keepdims=True)))
                alone.append(own)
        return MemberOutputs(log_probs, alone, paint)

    def recognize(
        self, crops: Sequence[ImageArray], *, corrections: Sequence[LevelsCorrection] | None = None
    ) -> list[ColorResult]:
        """The colour of each BGR crop (cut with ``crop_margin``); nothing runs for an empty input.

        Args:
            crops: BGR crops.
            corrections: per crop, its camera's levels correction (``CameraAdapter.correction()``), applied
                before every member; None: none.

        Raises:
            ValueError: a crop is not a BGR uint8 image, or ``corrections`` does not have one entry per crop.
        """
        for i, crop in enumerate(crops):
            check_image(crop, f"crop {i}")
        if not crops:
            return []
        if corrections is not None:
            if len(corrections) != len(crops):
                raise ValueError(f"need one correction per crop, got {len(corrections)} for {len(crops)} crops")
            crops = [c.apply(crop) for c, crop in zip(corrections, crops, strict=True)]
        outputs = self.member_outputs(crops)
        paint = outputs.paint
        probs = np.exp(pool_log_probs(outputs.log_probs, self._params)).astype(np.float32)
        results = []
        for i in range(len(crops)):
            row = probs[i]
            row.flags.writeable = False
            stats = paint[i] if paint else None
            dark = judged_dark_probability(
                row, stats, has_reference=self.crop_margin > 0, chroma_threshold=self.config.paint.chroma_threshold
            )
            shade: Lightness | None = None
            if dark is not None and dark >= self.config.shade_confidence:
                shade = "dark"
            elif dark is not None and dark <= 1.0 - self.config.shade_confidence:
                shade = "light"
            results.append(ColorResult(row, dark, shade, stats))
        return results

    def classify(
        self, crops: Sequence[ImageArray], *, corrections: Sequence[LevelsCorrection] | None = None
    ) -> list[dict[str, HeadScores]]:
        """The ``color`` and ``color_shade`` heads of each crop, as a ``ClassifierBank`` member returns them.

        ``color_shade`` is ``(dark, light)``: the dark probability, or 0.5/0.5 when the shade cannot be judged.
        ``corrections``: as ``recognize``.
        """
        out = []
        for result in self.recognize(crops, corrections=corrections):
            dark = 0.5 if result.dark_probability is None else result.dark_probability
            shade = np.array([dark, 1.0 - dark], np.float32)
            shade.flags.writeable = False
            out.append(
                {
                    COLOR_HEAD: HeadScores(COLOR_HEAD, COLOR_LABELS, result.probs),
                    SHADE_HEAD: HeadScores(SHADE_HEAD, SHADE_LABELS, shade),
                }
            )
        return out
