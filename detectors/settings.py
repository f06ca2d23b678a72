"""Configuration of the vehicle detector: which plugin and model run, and which of its boxes are kept.

Settings only: config loading imports this module, so it imports no model runtime.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from common.paths import ConfigPath
from detectors.providers import DEFAULT_PROVIDERS, Precision, Providers, Runtime

DEFAULT_VEHICLE_CLASSES: tuple[str, ...] = ("car", "bus", "truck", "motorcycle")


class DetectorSettings(BaseModel):
    """A YOLO detector on ONNX Runtime or OpenVINO and the filters applied to its boxes.

    Class names are checked against the model's own names when the model is loaded (the settings alone
    cannot know them), so a typo fails at start with the unknown names listed.

    Example:
        >>> DetectorSettings(model=Path("models/yolov8n_int8_640.onnx")).classes
        ('car', 'bus', 'truck', 'motorcycle')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["yolo"] = Field(
        default="yolo",
        description=(
            "Detector plugin (`detectors.registry`): yolo = an Ultralytics YOLO model (v5, v8, YOLO11, end-to-end) "
            "exported to ONNX, run on ONNX Runtime or OpenVINO (see runtime)."
        ),
    )
    model: ConfigPath = Field(
        description=(
            "Path of the YOLO detector ONNX file (Ultralytics export: class names, imgsz and stride in its metadata)."
        )
    )
    input_size: Literal["auto", "model"] | tuple[int, int] = Field(
        default="auto",
        description=(
            "The detector's input [height, width]: auto = the smallest that holds the cameras' frames at the scale "
            "the model's own size gives them (a 640x640 export sees 16:9 cameras as 384x640: the same pixels for 60 % "
            "of the work, as Ultralytics' own 'rect' inference; the model's size where the frame sizes are not "
            "known); model = the export's own size; or [h, w], multiples of 32. A YOLOv8 export (boxes decoded in "
            "the graph) is re-sized on loading; other models (YOLO11: its attention block is tied to its size) keep "
            "their size under auto and refuse an explicit one."
        ),
    )
    runtime: Runtime = "auto"
    providers: Providers = DEFAULT_PROVIDERS
    precision: Precision = "auto"
    confidence: float = Field(
        default=0.35,
        ge=0.0,
        le=1.0,
        description=(
            "Minimum score a box needs to be kept. Lower finds more distant or occluded vehicles and more false "
            "ones; the score is the class score (YOLOv8/11), objectness x class probability (YOLOv5) or the "
            "end-to-end model's score."
        ),
    )
    iou: float = Field(
        default=0.45,
        ge=0.0,
        le=1.0,
        description=(
            "Overlap (intersection over union) above which the lower-scored of two boxes of the same class is "
            "suppressed; boxes of different classes never suppress each other. Not used by end-to-end (NMS-free) "
            "models."
        ),
    )
    classes: tuple[str, ...] = Field(
        default=DEFAULT_VEHICLE_CLASSES,
        min_length=1,
        description=(
            "Model class names to keep (e.g. COCO's car, bus, truck, motorcycle); every other class is dropped "
            "before NMS. Each name must be one of the model's class names."
        ),
    )
    min_box_size: int = Field(
        default=16,
        ge=0,
        description=(
            "Boxes whose shorter side, in frame pixels after clipping to the frame, is below this are dropped: "
            "too small to classify or to track reliably."
        ),
    )
    max_batch: int = Field(
        default=1,
        ge=1,
        description=(
            "Most frames per inference call when the model has a dynamic batch dimension. Bigger batches help a GPU "
            "but not a CPU, except with OpenVINO running them in parallel (infer_requests); a model with a static "
            "batch dimension runs with that size instead."
        ),
    )
    max_wait_ms: float = Field(
        default=5.0,
        ge=0.0,
        description=(
            "How long the pipeline may wait for more frames to fill a batch before running a partial one; adds up "
            "to this much latency. Only matters when max_batch > 1."
        ),
    )
    intra_op_threads: int = Field(
        default=0,
        ge=0,
        description=(
            "Threads one inference may use: ONNX Runtime's threads inside one operator, OpenVINO's inference threads "
            "(0: the runtime's choice, one per physical core)."
        ),
    )
    infer_requests: int = Field(
        default=1,
        ge=1,
        le=16,
        description=(
            "OpenVINO only: frames of one batch inferred in parallel, one CPU stream each (OpenVINO's THROUGHPUT "
            "hint); 1: one frame at a time on every core (its LATENCY hint). Raise it together with max_batch: on a "
            "2-core CPU max_batch 2 with infer_requests 2 measured 1.1-1.5x the frames/s of 1 and 1, for up to "
            "max_wait_ms more latency; with max_batch 1 extra requests stay idle and each frame gets fewer cores."
        ),
    )

    @field_validator("input_size")
    @classmethod
    def _stride_multiple(cls, size: str | tuple[int, int]) -> str | tuple[int, int]:
        if isinstance(size, tuple) and any(side <= 0 or side % 32 for side in size):
            raise ValueError(f"input_size [h, w] must be positive multiples of 32, got {list(size)}")
        return size

    @field_validator("classes")
    @classmethod
    def _distinct_classes(cls, classes: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(classes)) != len(classes):
            raise ValueError(f"classes lists a name twice: {list(classes)}")
        if any(not name.strip() for name in classes):
            raise ValueError(f"classes has an empty name: {list(classes)}")
        return classes
