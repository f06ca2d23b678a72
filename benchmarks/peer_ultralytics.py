"""The Ultralytics peer loop: ``YOLO(model).track(frame, persist=True)`` (ByteTrack) per frame, and the make
classifier once per new track id, as a user of Ultralytics would write it.

Per camera one ``YOLO`` object (Ultralytics keeps the tracker on the model, so several streams need one model
each, as in its multi-stream tracking example); with ``--cameras N`` the N cameras read the same clip and take
turns frame by frame in one thread. The detector is the ONNX file (Ultralytics runs it on ONNX Runtime) or an
OpenVINO IR folder (``*_openvino_model/``, run on OpenVINO). The make classifier
(``spectrico_make_mobilenetv3_224.onnx``) runs on ONNX Runtime, preprocessed per its metadata (224x224 RGB,
mean 127.5, scale 0.00784), all of a frame's new tracks in one call. Frames/s is timed from the second frame (the
first warms the models up, as vehiclewatch does while it starts). Prints one JSON line: frames/s, tracks, peak
RSS, load average.

Ultralytics (and torch) are NOT project dependencies: run this with the Python of a separate environment,
    python3 -m venv /work/peer-venv
    /work/peer-venv/bin/pip install ultralytics onnxruntime openvino opencv-python-headless

Usage:
    # once: the fp32 weights as OpenVINO IR with the metadata.yaml Ultralytics reads (no .pt weights needed)
    /work/peer-venv/bin/python benchmarks/peer_ultralytics.py --export-openvino \\
        ../shared/models/yolov8n_640_dynbatch_dequant_fp32.onnx --out out/peers
    /work/peer-venv/bin/python benchmarks/peer_ultralytics.py --video CLIP \\
        --detector out/peers/yolov8n_640_dynbatch_dequant_fp32_openvino_model [--cameras 2] [--json-out F]
    /work/peer-venv/bin/python benchmarks/peer_ultralytics.py --video CLIP \\
        --detector ../shared/models/yolov8n_int8_640.onnx
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from peer_common import (
    VEHICLE_CLASS_IDS,
    CropClassifier,
    Image,
    Progress,
    crop,
    emit,
    load_average,
    model_metadata,
    parse_names,
    read_frames,
    result,
)

SHARED = Path(os.environ.get("VEHICLEWATCH_SHARED", Path(__file__).resolve().parent.parent.parent / "shared"))
MODELS = SHARED / "models"


def export_openvino(onnx_path: Path, out: Path, imgsz: int = 640) -> Path:
    """``onnx_path`` as an OpenVINO IR folder ``<stem>_openvino_model/`` under ``out``, the way Ultralytics' own
    ``yolo export format=openvino`` lays it out: a static ``[1, 3, H, W]`` input (the file's own, else imgsz
    square), fp32 weights (OpenVINO picks the inference precision itself) and ``metadata.yaml`` (names, imgsz,
    stride, task, batch, args)."""
    ov: Any = importlib.import_module("openvino")
    folder = out / f"{onnx_path.stem}_openvino_model"
    folder.mkdir(parents=True, exist_ok=True)
    model = ov.convert_model(str(onnx_path))
    # The file's own height and width (a 384x640 file, as `yolo export imgsz=384,640` makes): else imgsz square.
    dims = model.inputs[0].get_partial_shape()
    height, width = (dims[2].get_length(), dims[3].get_length()) if dims[2].is_static else (imgsz, imgsz)
    model.reshape([1, 3, height, width])
    ov.save_model(model, str(folder / f"{onnx_path.stem}.xml"), compress_to_fp16=False)
    meta = model_metadata(onnx_path)
    metadata = {
        "description": meta.get("description", "YOLO detector"),
        "author": meta.get("author", "Ultralytics"),
        "license": meta.get("license", ""),
        "version": meta.get("version", ""),
        "stride": int(meta.get("stride", "32")),
        "task": "detect",
        "batch": 1,
        "imgsz": [height, width],
        "names": parse_names(meta["names"]),
        "args": {"batch": 1, "dynamic": False, "half": False, "int8": False, "nms": False},
        "channels": 3,
        "end2end": False,
    }
    (folder / "metadata.yaml").write_text(yaml.safe_dump(metadata, sort_keys=False))
    return folder


def run(args: argparse.Namespace) -> dict[str, Any]:
    loadavg = load_average()
    ultralytics: Any = importlib.import_module("ultralytics")
    torch: Any = importlib.import_module("torch")
    detector = Path(args.detector)
    runtime = "openvino" if detector.is_dir() or detector.suffix == ".xml" else "onnxruntime"
    models = [ultralytics.YOLO(str(detector), task="detect") for _ in range(args.cameras)]
    make = CropClassifier(args.make)
    streams = [read_frames(args.video, args.frames) for _ in range(args.cameras)]
    seen: list[set[int]] = [set() for _ in range(args.cameras)]
    frames = classified = 0
    progress = Progress("peer_ultralytics", args.frames * args.cameras)
    opened = started = time.perf_counter()
    for index, batch in enumerate(zip(*streams, strict=False)):
        if index == 1:  # the first frame of each camera warmed the models up: time from here, as vehiclewatch does
            started, frames = time.perf_counter(), 0
        for camera, frame in enumerate(batch):
            results = models[camera].track(
                frame, persist=True, classes=list(VEHICLE_CLASS_IDS), tracker="bytetrack.yaml", verbose=False
            )
            boxes = results[0].boxes
            new: list[Image] = []
            if boxes is not None and boxes.id is not None:
                ids = boxes.id.int().cpu().numpy()
                xyxy = np.asarray(boxes.xyxy.cpu().numpy(), np.float32)
                for track_id, box in zip(ids.tolist(), xyxy, strict=True):
                    if track_id in seen[camera]:
                        continue
                    seen[camera].add(track_id)
                    if (image := crop(frame, box.tolist())) is not None:
                        new.append(image)
            make.classify(new)
            classified += len(new)
            frames += 1
        progress.update(frames)
    seconds = time.perf_counter() - started
    return result(
        f"Ultralytics model.track + make per track ({runtime})",
        frames,
        seconds,
        loadavg,
        warmup_s=round(started - opened, 3),
        detector=detector.name,
        runtime=runtime,
        cameras=args.cameras,
        tracks=sum(len(ids) for ids in seen),
        crops_classified=classified,
        ultralytics=ultralytics.__version__,
        torch=torch.__version__,
        torch_threads=torch.get_num_threads(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=SHARED / "videos" / "anugoyal_traffic.mp4")
    parser.add_argument("--frames", type=int, default=0, help="Most frames per camera (0: all).")
    parser.add_argument(
        "--detector",
        type=Path,
        default=MODELS / "yolov8n_int8_640.onnx",
        help="ONNX file, or an OpenVINO IR folder (*_openvino_model/).",
    )
    parser.add_argument("--make", type=Path, default=MODELS / "spectrico_make_mobilenetv3_224.onnx")
    parser.add_argument("--cameras", type=int, default=1, help="Streams of the clip, one YOLO object each.")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument(
        "--export-openvino", type=Path, metavar="ONNX", help="Only convert ONNX to an OpenVINO IR folder under --out."
    )
    parser.add_argument("--out", type=Path, default=Path("out/peers"), help="Where --export-openvino writes.")
    args = parser.parse_args()
    if args.export_openvino is not None:
        print(export_openvino(args.export_openvino, args.out), flush=True)
        return
    emit(run(args), args.json_out)


if __name__ == "__main__":
    main()
