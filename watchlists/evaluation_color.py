"""The colour recogniser refitted per held-out fold, so no clip is scored by a pool fitted on it.

A colour recogniser file (``python -m classifiers.color.build``) holds a log-linear pool fitted on every clip of
``traffic_crops_dev``; scoring those clips with it would be in-sample. For a cross-validated evaluation the pool is
refitted here for each held-out clip on the other clips (the members, their settings and the bias penalty stay
those of the file; only the pool's weights and biases are fitted, as ``build`` does for its own figures), and the
held-out clip is classified by a :class:`~classifiers.color.recognizer.ColorRecognizer` with those numbers: the
same code the service runs. The camera adaptation's envelope (the range of camera levels the recogniser was fitted
on) is likewise taken from the other clips only.

What is fitted *inside* a fold (the calibration of the colour head, the measured colour table) needs colour
probabilities of the training clips that are themselves out of sample: :meth:`ColorFolds.nested_probs` scores each
training clip with a pool fitted on the remaining training clips only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from classifiers.color.camera_adapt import CameraAdapter, CameraLevels, envelope
from classifiers.color.labels import COLOR_LABELS
from classifiers.color.pool import PoolParams, fit_pool, pool_log_probs
from classifiers.color.recognizer import ColorRecognizer, RecognizerConfig
from classifiers.crops import ImageArray

BIAS_PENALTY = 0.01
"""The pool's bias penalty (``classifiers.color.build``'s default)."""


@dataclass
class ColorFolds:
    """Member outputs of every crop, and pools fitted without given folds (cached).

    Attributes:
        recognizer: the recogniser opened from its file (its members run once per crop).
        log_probs: per member, ``(N, colours)`` log-probabilities of every crop.
        targets: ``(N,)`` true colour index (-1: unsure or unknown).
        folds: ``(N,)`` fold of each crop.
    """

    recognizer: ColorRecognizer
    log_probs: list[NDArray[np.float64]]
    targets: NDArray[np.int64]
    folds: tuple[str, ...]
    levels: dict[str, CameraLevels] = field(default_factory=dict)
    """Each fold's camera levels (its crops, one track per vehicle): the held-out fold's adaptation envelope comes
    from the others only."""

    def __post_init__(self) -> None:
        self._pools: dict[frozenset[str], PoolParams] = {}

    @classmethod
    def measure(
        cls,
        recognizer: ColorRecognizer,
        crops: Sequence[ImageArray],
        targets: NDArray[np.int64],
        folds: Sequence[str],
        vehicles: Sequence[str] | None = None,
    ) -> ColorFolds:
        """Runs the recogniser's members on ``crops`` (cut as the bank cuts them for it); with ``vehicles``, also
        measures each fold's camera levels."""
        outputs = recognizer.member_outputs(crops)
        levels: dict[str, CameraLevels] = {}
        if vehicles is not None and recognizer.camera_settings is not None:
            for fold in dict.fromkeys(folds):
                adapter = CameraAdapter(None)
                rows = [i for i, f in enumerate(folds) if f == fold]
                adapter.update_many([crops[i] for i in rows], recognizer.crop_margin, [vehicles[i] for i in rows])
                found = adapter.levels()
                if found is not None:
                    levels[fold] = found
        return cls(recognizer, outputs.log_probs, np.asarray(targets, np.int64), tuple(folds), levels)

    def pool_without(self, left_out: frozenset[str]) -> PoolParams:
        """The pool fitted on every fold but ``left_out``."""
        if left_out not in self._pools:
            held = np.isin(np.asarray(self.folds), list(left_out))
            self._pools[left_out] = fit_pool(
                self.log_probs, np.where(held, -1, self.targets), bias_penalty=BIAS_PENALTY
            )
        return self._pools[left_out]

    def config_without(self, held: str) -> RecognizerConfig:
        """The recogniser file's contents with the pool fitted without fold ``held``."""
        params = self.pool_without(frozenset({held}))
        config = self.recognizer.config
        members = tuple(m.model_copy(update={"weight": w}) for m, w in zip(config.members, params.weights, strict=True))
        biases = {c: b for c, b in zip(COLOR_LABELS, params.biases, strict=True) if b != 0.0}
        update: dict[str, object] = {"members": members, "biases": biases}
        others = [levels for fold, levels in self.levels.items() if fold != held]
        if config.camera is not None and others:
            # The camera adaptation's envelope must not have seen the held-out camera either.
            update["camera"] = envelope(others, pseudo_tracks=config.camera.pseudo_tracks).model_copy(
                update={"max_tracks": config.camera.max_tracks}
            )
        return config.model_copy(update=update)

    def recognizer_without(self, held: str, providers: Sequence[str]) -> ColorRecognizer:
        """A recogniser whose pool never saw fold ``held`` (members as in the file)."""
        return ColorRecognizer(
            self.config_without(held),
            path=self.recognizer.path,
            crop_margin=self.recognizer.crop_margin,
            providers=providers,
        )

    def _probs(self, rows: NDArray[np.bool_], params: PoolParams) -> NDArray[np.float64]:
        return np.exp(pool_log_probs([m[rows] for m in self.log_probs], params))

    def nested_probs(self, held: str) -> NDArray[np.float64]:
        """``(N, colours)``: each crop of another fold scored by a pool fitted without ``held`` and its own fold;
        the rows of ``held`` are NaN."""
        folds = np.asarray(self.folds)
        out = np.full((len(folds), len(COLOR_LABELS)), np.nan)
        for fold in sorted(set(self.folds) - {held}):
            rows = folds == fold
            out[rows] = self._probs(rows, self.pool_without(frozenset({held, fold})))
        return out

    def cv_probs(self) -> NDArray[np.float64]:
        """``(N, colours)``: each crop scored by a pool fitted without its own fold (leave-one-fold-out)."""
        folds = np.asarray(self.folds)
        out = np.zeros((len(folds), len(COLOR_LABELS)))
        for fold in sorted(set(self.folds)):
            rows = folds == fold
            out[rows] = self._probs(rows, self.pool_without(frozenset({fold})))
        return out
