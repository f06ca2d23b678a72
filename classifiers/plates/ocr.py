"""PP-OCR text detection and recognition from the ``rapidocr`` wheel, run on ONNX Runtime, nothing downloaded.

The wheel ships ``PP-OCRv6_det_small.onnx`` and ``PP-OCRv6_rec_small.onnx`` inside its package; they are opened by
path from there (never through rapidocr's model resolver, which would download a model it lacks). Detection's
box post-processing (DB) is rapidocr's own. Recognition is decoded here (CTC, greedy) restricted to the plate
alphabet, so that every character comes with its probability and the probabilities of the others.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from classifiers.plates.types import ALPHABET

DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
REC_HEIGHT = 48
_MEAN_STD = 0.5  # PP-OCR normalises (x / 255 - 0.5) / 0.5 for both models


class PlatesUnavailableError(ValueError):
    """The ``plates`` extra is not installed (or its models are missing); the message says what to install."""


def package_models() -> tuple[Path, Path]:
    """The detection and recognition models inside the installed ``rapidocr`` wheel.

    Raises:
        PlatesUnavailableError: rapidocr is not installed, or its wheel lacks the models.
    """
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        raise PlatesUnavailableError(
            "the plate reader needs the 'plates' extra: pip install 'vehiclewatch[plates]' (the rapidocr wheel)"
        )
    models = Path(spec.origin).parent / "models"
    det, rec = models / DET_MODEL, models / REC_MODEL
    for path in (det, rec):
        if not path.is_file():
            raise PlatesUnavailableError(f"the rapidocr wheel has no {path.name} in {models}; reinstall rapidocr>=3.4")
    return det, rec


class TextModels:
    """The two PP-OCR sessions, opened once.

    Args:
        det_path, rec_path: the ONNX files (default: the rapidocr wheel's, `package_models`).
        threads: ONNX Runtime intra-op threads (0: its default).
    """

    def __init__(self, det_path: Path | None = None, rec_path: Path | None = None, threads: int = 0) -> None:
        import onnxruntime as ort

        try:
            from rapidocr.ch_ppocr_det.utils import DBPostProcess
        except ImportError as exc:
            raise PlatesUnavailableError(
                f"the plate reader needs the 'plates' extra: pip install 'vehiclewatch[plates]' ({exc})"
            ) from None
        if det_path is None or rec_path is None:
            det_default, rec_default = package_models()
            det_path, rec_path = det_path or det_default, rec_path or rec_default
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        self.det = ort.InferenceSession(str(det_path), options, providers=providers)
        self.rec = ort.InferenceSession(str(rec_path), options, providers=providers)
        characters = self.rec.get_modelmeta().custom_metadata_map.get("character")
        if not characters:
            raise PlatesUnavailableError(f"{rec_path.name} carries no character list")
        # Index 0 is CTC's blank; the list follows, then a space.
        vocabulary = ["", *characters.splitlines(), " "]
        self.alphabet_index = np.array([vocabulary.index(ch) for ch in ALPHABET], np.int64)
        self.keep = np.concatenate([[0], self.alphabet_index])  # blank + plate alphabet
        self.postprocess: Any = DBPostProcess(
            thresh=0.3, box_thresh=0.5, max_candidates=200, unclip_ratio=1.6, use_dilation=True
        )

    def detect(
        self, image: NDArray[np.uint8], max_side: int = 960, max_upscale: float = 1.0
    ) -> list[tuple[NDArray[np.float32], float]]:
        """Text quadrilaterals (4×2, image pixels, clockwise from top-left) with their scores.

        The image is scaled so its longest side is ``max_side``, enlarged at most ``max_upscale`` times (small
        text is found far better at a larger scale; the boxes come back in the image's own pixels).
        """
        h, w = image.shape[:2]
        scale = min(max_upscale, max_side / max(h, w))
        # Multiples of 32; small crops are enlarged to at least 64 px so that a plate has room in the map.
        nh = max(64, round(h * scale / 32) * 32)
        nw = max(64, round(w * scale / 32) * 32)
        resized = cv2.resize(image, (nw, nh))
        tensor = ((resized.astype(np.float32) / 255.0 - _MEAN_STD) / _MEAN_STD).transpose(2, 0, 1)[None]
        pred = self.det.run(None, {self.det.get_inputs()[0].name: tensor})[0]
        boxes, scores = self.postprocess(pred, (h, w))
        return [(np.asarray(b, np.float32), float(s)) for b, s in zip(boxes, scores, strict=True)]

    def recognize(
        self, lines: Sequence[NDArray[np.uint8]], min_width: int = 160
    ) -> list[tuple[str, list[float], list[NDArray[np.float32]]]]:
        """Reads text lines (BGR, any size) in one batch: per line the text, character probabilities and rows.

        Each character's row is its probability over `ALPHABET` (renormalised without the blank and the other
        characters the model knows: a plate holds none of them). The batch is padded to at least ``min_width``
        pixels (at 48 px high).
        """
        if not lines:
            return []
        widths = [max(8, round(REC_HEIGHT * ln.shape[1] / max(ln.shape[0], 1))) for ln in lines]
        width = min(max(max(widths), min_width), 640)
        batch = np.zeros((len(lines), 3, REC_HEIGHT, width), np.float32)
        for i, (line, w) in enumerate(zip(lines, widths, strict=True)):
            resized = cv2.resize(line, (min(w, width), REC_HEIGHT))
            batch[i, :, :, : resized.shape[1]] = (
                (resized.astype(np.float32) / 255.0 - _MEAN_STD) / _MEAN_STD
            ).transpose(2, 0, 1)
        probs = self.rec.run(None, {self.rec.get_inputs()[0].name: batch})[0]
        return [self._decode(p) for p in probs]

    def _decode(self, probs: NDArray[np.float32]) -> tuple[str, list[float], list[NDArray[np.float32]]]:
        kept = probs[:, self.keep]  # (T, 1 + 36)
        best = kept.argmax(axis=1)
        text: list[str] = []
        confidences: list[float] = []
        rows: list[NDArray[np.float32]] = []
        previous = 0
        for t, index in enumerate(best):
            if index != 0 and index != previous:
                row = kept[t, 1:] / max(float(kept[t, 1:].sum()), 1e-9)
                text.append(ALPHABET[index - 1])
                # The character's own probability among everything the model could have emitted at that step.
                confidences.append(float(probs[t, self.keep[index]]) / max(float(probs[t].sum()), 1e-9))
                rows.append(row.astype(np.float32))
            previous = int(index)
        return "".join(text), confidences, rows


def rectify(image: NDArray[np.uint8], quad: NDArray[np.float32], pad: float = 0.0) -> NDArray[np.uint8]:
    """The quadrilateral's pixels warped upright, grown by ``pad`` × its height on every side (some margin
    around the characters helps the recogniser)."""
    q = quad.astype(np.float32)
    across = q[1] - q[0]
    down = q[3] - q[0]
    width = float(max(np.linalg.norm(across), np.linalg.norm(q[2] - q[3])))
    height = float(max(np.linalg.norm(down), np.linalg.norm(q[2] - q[1])))
    if pad > 0 and width > 0 and height > 0:
        u = across / max(float(np.linalg.norm(across)), 1e-6) * pad * height
        v = down / max(float(np.linalg.norm(down)), 1e-6) * pad * height
        q = np.stack([q[0] - u - v, q[1] + u - v, q[2] + u + v, q[3] - u + v]).astype(np.float32)
        width += 2 * pad * height
        height *= 1 + 2 * pad
    w, h = max(round(width), 1), max(round(height), 1)
    target = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    matrix = cv2.getPerspectiveTransform(q, target)
    return np.asarray(cv2.warpPerspective(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE), np.uint8)
