"""`vehiclewatch bench --runtimes`: the detector on every runtime and precision this machine has, on the same frames.

Each candidate (a model file on a runtime, at the precision the runtime picks or one forced) detects every frame of
the clip one at a time (letterbox, inference and decoding, as the pipeline calls it with batch 1); the report gives
inferences/s (median over ``repeat`` rounds, candidates taking turns in each round so that a load change on a shared
machine hits all of them alike) and the agreement of its boxes with the reference, ONNX Runtime on the fp32 file:
the share of the reference's boxes that a box of the same class overlaps with IoU >= 0.8. The choice is the fastest
candidate that agrees on at least 98 % of the boxes: what ``--models DIR`` should run on this machine.

Float files also run at the input the service gives them for this clip's frames (``detector.input_size: auto``,
e.g. 384x640 for 16:9 frames; `detectors.input_shape`), so the table shows what rectangular inference gains and
whether it still agrees with the square reference.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors.base import Detector
from detectors.registry import open_detector
from detectors.settings import DetectorSettings
from detectors.types import Detections
from streamer.bench import prepare_clip
from streamer.bench_models import describe_model, file_precision, openvino_available
from streamer.service.config import load_settings

FP32_DETECTOR = "yolov8n_640_dynbatch_dequant_fp32.onnx"
"""The default detector's weights as a float model (``../shared/models/README.md``): the reference, and the file
OpenVINO runs fastest."""
MATCH_IOU = 0.8
MIN_AGREEMENT = 0.98


@dataclass(frozen=True, slots=True)
class Candidate:
    """A detector file on a runtime; ``precision_hint`` forces OpenVINO's inference precision (None: its choice)."""

    model: Path
    runtime: str
    precision_hint: str | None = None
    fit_frames: bool = False
    """Input sized to the clip's frames (``input_size: auto``) instead of the model's own."""


def candidates(files: Sequence[Path], openvino: bool | None = None) -> list[Candidate]:
    """Every runtime × precision to try for ``files``: ONNX Runtime; OpenVINO at its own choice of precision (bf16
    on CPUs with AMX or AVX-512 BF16) and, for float files, forced to f32; float files on each runtime again with
    the input sized to the frames."""
    openvino = openvino_available() if openvino is None else openvino
    out: list[Candidate] = []
    for path in dict.fromkeys(files):
        out.append(Candidate(path, "onnxruntime"))
        if openvino:
            out.append(Candidate(path, "openvino"))
            if file_precision(path) != "int8":
                out.append(Candidate(path, "openvino", "f32"))
    for path in dict.fromkeys(files):
        if file_precision(path) != "int8":
            out.append(Candidate(path, "onnxruntime", fit_frames=True))
            if openvino:
                out.append(Candidate(path, "openvino", fit_frames=True))
    return out


@dataclass(frozen=True, slots=True)
class RuntimeRow:
    """One candidate's figures."""

    model: str
    runtime: str
    precision: str
    input_size: str = ""
    """The detector's input, ``HxW``."""
    inferences_per_s: list[float] = field(default_factory=list)
    """One figure per round."""
    boxes: int = 0
    matched: int = 0
    """Reference boxes this candidate found too (same class, IoU >= 0.8)."""
    reference_boxes: int = 0
    error: str = ""
    """Why the candidate could not run (then it has no figures)."""

    @property
    def fps(self) -> float:
        return float(np.median(self.inferences_per_s)) if self.inferences_per_s else 0.0

    @property
    def agreement(self) -> float:
        return self.matched / self.reference_boxes if self.reference_boxes else 0.0

    @property
    def label(self) -> str:
        return f"{self.runtime} {self.precision} {self.input_size} ({self.model})"


@dataclass(frozen=True, slots=True)
class RuntimesReport:
    video: str
    frames: int
    clip: str
    rows: list[RuntimeRow]
    reference: int | None
    choice: int | None
    current: str
    """What the configured detector (``--models DIR``: its default file) runs on, as the service opens it."""
    loadavg_start: tuple[float, ...] = ()
    loadavg_end: tuple[float, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for row, figures in zip(self.rows, out["rows"], strict=True):
            figures["fps"] = row.fps
            figures["agreement"] = row.agreement
        out["choice_label"] = self.rows[self.choice].label if self.choice is not None else None
        return out

    def render(self) -> str:
        lines = [
            f"video            {self.video} ({self.clip})",
            f"frames           {self.frames}, one at a time (letterbox + inference + decoding)",
            f"load average     {_loadavg(self.loadavg_start)} at start, {_loadavg(self.loadavg_end)} at end",
            f"{'model':<42} {'runtime':<12} {'precision':<22} {'input':>8} {'inferences/s':>12} {'agreement':>10}"
            f" {'boxes':>6}",
        ]
        for i, row in enumerate(self.rows):
            if row.error:
                lines.append(f"{row.model:<42} {row.runtime:<12} {row.precision:<22} not run: {row.error}")
                continue
            mark = "  reference" if i == self.reference else "  <- choice" if i == self.choice else ""
            lines.append(
                f"{row.model:<42} {row.runtime:<12} {row.precision:<22} {row.input_size:>8} {row.fps:12.1f}"
                f" {row.agreement:10.3f} {row.boxes:6d}{mark}"
            )
        lines.append(f"today            {self.current}")
        if self.choice is not None:
            lines.append(
                f"choice           {self.rows[self.choice].label}: the fastest agreeing on >= {MIN_AGREEMENT:.0%} of "
                f"the reference's boxes (IoU >= {MATCH_IOU}, same class)"
            )
        else:
            lines.append("choice           none: no candidate agrees enough with the reference")
        return "\n".join(lines)

    def plot(self, path: Path) -> None:
        """A PNG: inferences/s per candidate, its agreement written on its bar."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = [row for row in self.rows if not row.error]
        fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(rows)), 4.5))
        colours = ["#dd8452" if self.rows.index(row) == self.choice else "#4c72b0" for row in rows]
        bars = ax.bar(
            [
                f"{row.runtime}\n{row.precision} {row.input_size}\n{textwrap.fill(Path(row.model).stem, 18)}"
                for row in rows
            ],
            [row.fps for row in rows],
            color=colours,
        )
        ax.bar_label(bars, labels=[f"{row.fps:.1f}/s\nagree {row.agreement:.3f}" for row in rows], fontsize=8)
        ax.set_ylabel("inferences/s (median, batch 1)")
        ax.margins(y=0.2)
        load = _loadavg(self.loadavg_start[:1])
        ax.set_title(f"detector runtimes on {self.frames} frames of {Path(self.video).name} (load {load})")
        ax.tick_params(axis="x", labelsize=7)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)


def _loadavg(values: Sequence[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def matched_boxes(reference: Detections, other: Detections, iou: float = MATCH_IOU) -> int:
    """How many of ``reference``'s boxes a box of ``other`` of the same class overlaps with IoU >= ``iou`` (each box
    matched once, best overlaps first)."""
    if len(reference) == 0 or len(other) == 0:
        return 0
    overlaps = _iou(reference.boxes, other.boxes)
    overlaps[reference.class_ids[:, None] != other.class_ids[None, :]] = 0.0
    matched = 0
    while True:
        r, o = np.unravel_index(int(np.argmax(overlaps)), overlaps.shape)
        if overlaps[r, o] < iou:
            return matched
        matched += 1
        overlaps[r, :] = 0.0
        overlaps[:, o] = 0.0


def _iou(a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float64]:
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float64)


@dataclass(frozen=True, slots=True)
class RuntimesOptions:
    video: Path
    frames: int
    files: list[Path]
    """Detector files to try; the reference is ONNX Runtime on the first float file (else on the first file)."""
    overrides: dict[str, Any]
    """Settings (the detector section's thresholds and classes apply to every candidate)."""
    repeat: int = 1


def _open(candidate: Candidate, base: DetectorSettings, frame_sizes: Sequence[tuple[int, int]]) -> tuple[Detector, str]:
    """The candidate's detector (batch 1) and the precision it runs in, opened by the detector plugin with the
    candidate's ``runtime`` and ``precision`` settings (PLUG-IN POINT: a new runtime is a new `candidates` entry)."""
    update: dict[str, Any] = {"model": candidate.model, "max_batch": 1, "runtime": candidate.runtime}
    update["precision"] = "fp32" if candidate.precision_hint == "f32" else "auto"
    if "infer_requests" in type(base).model_fields:
        update["infer_requests"] = 1
    settings = base.model_copy(update=update)
    detector = open_detector(settings, frame_sizes if candidate.fit_frames else ())
    return detector, describe_model(detector, "detector", candidate.model, settings.providers).precision


def _today(base: DetectorSettings) -> str:
    """What the configured detector runs on: it is opened as the service would open it, and asked."""
    try:
        detector = open_detector(base)
    except Exception as exc:  # the table is still worth having
        return f"{base.model.name}: cannot open ({str(exc).splitlines()[0][:80]})"
    today = describe_model(detector, "detector", base.model, base.providers)
    return f"{base.model.name} on {today.runtime} {today.precision} ({today.device})"


def run_runtimes(options: RuntimesOptions, progress: Callable[[str], None] = lambda _: None) -> RuntimesReport:
    """Runs every candidate on the same frames; ``progress`` gets a line per candidate and round."""
    loadavg_start = os.getloadavg()
    settings = load_settings(None, {**options.overrides, "cameras": [{"id": "bench", "source": str(options.video)}]})
    base: DetectorSettings = settings.detector
    with tempfile.TemporaryDirectory(prefix="vehiclewatch-bench-") as folder:
        clip = prepare_clip(options.video, options.frames, Path(folder))
    progress(f"decoded {len(clip.frames)} frames: {clip.description}")
    opened: list[tuple[Candidate, Detector | None, str, str]] = []
    sizes: dict[int, str] = {}
    own_sizes: dict[Path, str] = {}
    frame_sizes = [clip.frames[0].shape[:2]] if clip.frames else []
    for candidate in candidates(options.files):
        try:
            detector, precision = _open(candidate, base, frame_sizes)
        except Exception as exc:  # a runtime that cannot run this file is a row that says why, not a failed bench
            opened.append((candidate, None, candidate.precision_hint or "-", str(exc).splitlines()[0][:80]))
            continue
        size = "x".join(str(side) for side in getattr(detector, "input_size", ()))
        if candidate.fit_frames and size == own_sizes.get(candidate.model):
            continue  # a model that keeps its own input (not re-sizable, or frames of its shape): a repeated row
        own_sizes.setdefault(candidate.model, size)
        opened.append((candidate, detector, precision, ""))
        sizes[len(opened) - 1] = size
    found: dict[int, list[Detections]] = {}
    timings: dict[int, list[float]] = {i: [] for i in range(len(opened))}
    for round_ in range(options.repeat):
        for i, (candidate, runner, precision, _) in enumerate(opened):
            if runner is None:
                continue
            started = time.perf_counter()
            boxes = [runner.detect([frame])[0] for frame in clip.frames]
            timings[i].append(len(clip.frames) / (time.perf_counter() - started))
            found.setdefault(i, boxes)
            progress(
                f"round {round_ + 1}/{options.repeat}: {candidate.model.name} on {candidate.runtime} {precision}: "
                f"{timings[i][-1]:.1f} inferences/s (load {os.getloadavg()[0]:.2f})"
            )
    reference = _reference(opened)
    rows = [
        _row(
            candidate,
            precision,
            sizes.get(i, ""),
            error,
            timings[i],
            found.get(i),
            found.get(reference) if reference is not None else None,
        )
        for i, (candidate, _, precision, error) in enumerate(opened)
    ]
    agreeing = [i for i, row in enumerate(rows) if not row.error and row.agreement >= MIN_AGREEMENT]
    choice = max(agreeing, key=lambda i: rows[i].fps) if agreeing else None
    return RuntimesReport(
        video=str(options.video),
        frames=len(clip.frames),
        clip=clip.description,
        rows=rows,
        reference=reference,
        choice=choice,
        current=_today(base),
        loadavg_start=tuple(round(v, 2) for v in loadavg_start),
        loadavg_end=tuple(round(v, 2) for v in os.getloadavg()),
    )


def _reference(opened: Sequence[tuple[Candidate, Detector | None, str, str]]) -> int | None:
    on_ort = [
        i
        for i, (c, d, _, _) in enumerate(opened)
        if d is not None and c.runtime == "onnxruntime" and not c.fit_frames  # the model's own input
    ]
    floats = [i for i in on_ort if file_precision(opened[i][0].model) != "int8"]
    preferred = floats or on_ort
    return preferred[0] if preferred else None


def _row(
    candidate: Candidate,
    precision: str,
    input_size: str,
    error: str,
    timings: list[float],
    boxes: list[Detections] | None,
    reference: list[Detections] | None,
) -> RuntimeRow:
    if boxes is None:
        return RuntimeRow(candidate.model.name, candidate.runtime, precision, input_size, error=error or "not run")
    matched = sum(matched_boxes(r, b) for r, b in zip(reference or [], boxes, strict=False))
    total = sum(len(r) for r in reference or [])
    return RuntimeRow(
        candidate.model.name,
        candidate.runtime,
        precision,
        input_size,
        inferences_per_s=[round(v, 3) for v in timings],
        boxes=sum(len(b) for b in boxes),
        matched=matched,
        reference_boxes=total,
    )
