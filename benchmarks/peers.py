"""vehiclewatch against its peers, side by side in one run, on the same frames: the figures of issue #17.

Speed (each contestant in its own process, on the same clip: the first --frames frames of --video, written once as
an MJPG clip so that every contestant decodes the very same pixels; frames/s timed after the models are loaded and
warmed up):

- vehiclewatch end to end with its default models (``--models DIR``: int8 detector, make and colour classifiers),
  tracking on (``benchmarks/vehiclewatch_e2e.py``); with ``--vehiclewatch-set KEY=VALUE`` once more with those
  settings (e.g. ``detector.runtime=openvino``);
- Ultralytics ``model.track`` + make once per track, detector on OpenVINO (fp32 weights exported to IR) and on
  ONNX Runtime (the int8 file) (``benchmarks/peer_ultralytics.py``, run by the Python of ``--peer-python``);
- the naive loop: fp32 detector on ONNX Runtime, every crop through make and colour (``benchmarks/peer_naive.py``).

Memory (peak RSS of the whole process, from ``wait4``, with two cameras on the first --memory-frames frames):
``vehiclewatch run`` (the real command, two ``--source``, make + colour) against the Ultralytics loop with two
cameras on OpenVINO.

Targets: vehiclewatch >= 1.3x the Ultralytics OpenVINO loop and >= 3x the naive loop; its peak RSS <= 0.5x the
Ultralytics loop's. Every figure carries the machine's load average; the table (markdown), the JSON and a plot go to
--out. With --repeat R the speed contestants take turns R times and medians are reported.

Usage (from the project root, when the machine is quiet):
    .venv/bin/python benchmarks/peers.py [--video ../shared/videos/anugoyal_traffic.mp4] [--frames 0] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import cv2
from peer_common import load_average

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("VEHICLEWATCH_SHARED", ROOT.parent / "shared"))
FP32_DETECTOR = "yolov8n_640_dynbatch_dequant_fp32.onnx"
INT8_DETECTOR = "yolov8n_int8_640.onnx"
TARGET_OPENVINO = 1.3
TARGET_NAIVE = 3.0
TARGET_MEMORY = 0.5


@dataclass
class Contestant:
    """One process to run: its key, command, and the figures of each run."""

    key: str
    command: list[str]
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return median(run["fps"] for run in self.runs) if self.runs else 0.0

    @property
    def peak_rss_mb(self) -> float:
        return max(run["peak_rss_mb_wait4"] for run in self.runs) if self.runs else 0.0


def write_clip(video: Path, frames: int, path: Path) -> Path:
    """The first ``frames`` frames of ``video`` (all when 0; the video looped when it is shorter) as MJPG at
    ``path``, written frame by frame; kept when it already exists."""
    if path.is_file():
        return path
    capture = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 25.0)
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if frames <= 0 else frames
    writer: Any = None
    written = 0
    try:
        while written < total:
            ok, frame = capture.read()
            if not ok:
                if written == 0:
                    raise SystemExit(f"no frame could be decoded from {video}")
                capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                continue
            if writer is None:
                height, width = frame.shape[:2]
                path.parent.mkdir(parents=True, exist_ok=True)
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
            writer.write(frame)
            written += 1
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    print(f"peers: wrote {written} frames of {video.name} to {path}", file=sys.stderr, flush=True)
    return path


def run_process(command: Sequence[str], label: str) -> dict[str, Any]:
    """Runs ``command`` (its progress lines go to our stderr), reads the JSON line it prints last, and adds the
    process's peak RSS as the kernel counted it (``wait4``), the wall time and the load average."""
    print(f"peers: {label}: {' '.join(command)}", file=sys.stderr, flush=True)
    env = {**os.environ, "YOLO_OFFLINE": "1", "PYTHONPATH": str(HERE)}
    loadavg = load_average()
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(command, stdout=out, env=env, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = out.read().splitlines()
    wall = time.perf_counter() - started
    figures: dict[str, Any] = {}
    for line in reversed(lines):
        if line.startswith("{"):
            figures = json.loads(line)
            break
    if process.returncode != 0 and not figures:
        raise SystemExit(f"{label} failed with exit status {process.returncode}: {' '.join(command)}")
    figures.update(
        peak_rss_mb_wait4=round(usage.ru_maxrss / 1024, 1),
        wall_s=round(wall, 3),
        exit_status=process.returncode,
        loadavg_process_start=list(loadavg),
        loadavg_process_end=list(load_average()),
    )
    print(f"peers: {label}: {_summary(figures)}", file=sys.stderr, flush=True)
    return figures


def _summary(figures: dict[str, Any]) -> str:
    fps = f"{figures['fps']:.2f} frames/s, " if "fps" in figures else ""
    return f"{fps}peak RSS {figures['peak_rss_mb_wait4']:.0f} MB, load {figures['loadavg_process_end'][0]:.2f}"


def memory_config(folder: Path) -> Path:
    """A config for `vehiclewatch run`: embedded Redis on a unix socket only, no metrics port (nothing to clash)."""
    path = folder / "peers_run.yaml"
    path.write_text("log_level: WARNING\nredis:\n  embedded_port: 0\nmetrics:\n  enabled: false\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=SHARED / "videos" / "anugoyal_traffic.mp4")
    parser.add_argument("--frames", type=int, default=0, help="Frames of the speed clip (0: the whole video).")
    parser.add_argument("--memory-frames", type=int, default=150, help="Frames of each camera in the memory runs.")
    parser.add_argument("--models", type=Path, default=SHARED / "models")
    parser.add_argument("--peer-python", type=Path, default=Path("/work/peer-venv/bin/python"))
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "peers")
    parser.add_argument("--repeat", type=int, default=1, help="Rounds of the speed contestants (medians).")
    parser.add_argument("--skip", nargs="*", default=[], choices=["ultralytics", "naive", "memory"])
    parser.add_argument("--vehiclewatch-set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    clip = write_clip(args.video, args.frames, out / f"clip_{args.video.stem}_{args.frames or 'all'}.avi")
    contestants = speed_contestants(args, python, clip)
    for round_ in range(args.repeat):
        for contestant in contestants:
            contestant.runs.append(run_process(contestant.command, f"{contestant.key} ({round_ + 1}/{args.repeat})"))
    memory = [] if "memory" in args.skip else memory_contestants(args, python, out)
    for contestant in memory:
        contestant.runs.append(run_process(contestant.command, contestant.key))
    report(args, clip, contestants, memory)


def speed_contestants(args: argparse.Namespace, python: str, clip: Path) -> list[Contestant]:
    models: Path = args.models
    vehiclewatch = [python, str(HERE / "vehiclewatch_e2e.py"), "--video", str(clip), "--models", str(models)]
    out = [Contestant("vehiclewatch", vehiclewatch)]
    if args.vehiclewatch_set:
        settings = [arg for kv in args.vehiclewatch_set for arg in ("--set", kv)]
        out.append(Contestant(f"vehiclewatch {' '.join(args.vehiclewatch_set)}", [*vehiclewatch, *settings]))
    if "ultralytics" not in args.skip:
        peer = [str(args.peer_python), str(HERE / "peer_ultralytics.py"), "--video", str(clip)]
        ir = openvino_ir(args)
        out.append(Contestant("ultralytics_openvino", [*peer, "--detector", str(ir)]))
        out.append(Contestant("ultralytics_onnx", [*peer, "--detector", str(models / INT8_DETECTOR)]))
    if "naive" not in args.skip:
        out.append(Contestant("naive", [python, str(HERE / "peer_naive.py"), "--video", str(clip)]))
    return out


def openvino_ir(args: argparse.Namespace) -> Path:
    """The fp32 weights as an Ultralytics-style OpenVINO IR folder (exported once, by the peer environment)."""
    folder: Path = args.out / f"{Path(FP32_DETECTOR).stem}_openvino_model"
    if not (folder / "metadata.yaml").is_file():
        command = [str(args.peer_python), str(HERE / "peer_ultralytics.py"), "--export-openvino"]
        subprocess.run([*command, str(args.models / FP32_DETECTOR), "--out", str(args.out)], check=True)
    return folder


def memory_contestants(args: argparse.Namespace, python: str, out: Path) -> list[Contestant]:
    clip = write_clip(args.video, args.memory_frames, out / f"clip_{args.video.stem}_{args.memory_frames}.avi")
    run = [python, "-m", "streamer", "run", "--config", str(memory_config(out)), "--models", str(args.models)]
    contestants = [Contestant("memory_vehiclewatch_run_2cams", [*run, "--source", str(clip), "--source", str(clip)])]
    contestants[0].command.append("--quiet")
    if "ultralytics" not in args.skip:
        peer = [str(args.peer_python), str(HERE / "peer_ultralytics.py"), "--video", str(clip), "--cameras", "2"]
        contestants.append(
            Contestant("memory_ultralytics_openvino_2cams", [*peer, "--detector", str(openvino_ir(args))])
        )
    return contestants


def report(args: argparse.Namespace, clip: Path, speed: list[Contestant], memory: list[Contestant]) -> None:
    by_key = {c.key: c for c in [*speed, *memory]}
    vw = by_key["vehiclewatch"].fps
    rows = [
        "| contestant | frames | frames/s (median) | default vehiclewatch × | peak RSS MB | load (1 min) start → end |"
    ]
    rows.append("|---|---|---|---|---|---|")
    for c in speed:
        first, last = c.runs[0], c.runs[-1]
        ratio = vw / c.fps if c.fps else 0.0
        load = f"{first['loadavg_process_start'][0]:.2f} → {last['loadavg_process_end'][0]:.2f}"
        runs = ", ".join(f"{r['fps']:.2f}" for r in c.runs)
        rows.append(
            f"| {first.get('name', c.key)} | {first.get('frames', 0)} | {c.fps:.2f} ({runs}) | {ratio:.2f} |"
            f" {c.peak_rss_mb:.0f} | {load} |"
        )
    for c in memory:
        run = c.runs[0]
        load = f"{run['loadavg_process_start'][0]:.2f} → {run['loadavg_process_end'][0]:.2f}"
        rows.append(f"| {c.key} | | | | {c.peak_rss_mb:.0f} | {load} |")
    checks = target_lines(by_key)
    text = "\n".join(
        [
            f"clip: {clip.name} ({args.video.name}), {os.cpu_count()} CPUs, load average now {load_average()}",
            "",
            *rows,
            "",
            *checks,
        ]
    )
    print(text)
    (args.out / "results.md").write_text(text + "\n")
    figures = {c.key: c.runs for c in [*speed, *memory]}
    (args.out / "results.json").write_text(json.dumps(figures, indent=2) + "\n")
    plot(args.out / "peers.png", speed, memory)
    print(f"peers: wrote {args.out / 'results.md'}, results.json, peers.png", file=sys.stderr)


def target_lines(by_key: dict[str, Contestant]) -> list[str]:
    lines = []
    for speed in (c for key, c in by_key.items() if key.startswith("vehiclewatch")):
        for key, target in (("ultralytics_openvino", TARGET_OPENVINO), ("naive", TARGET_NAIVE)):
            if key in by_key and by_key[key].fps:
                ratio = speed.fps / by_key[key].fps
                verdict = "met" if ratio >= target else "NOT met"
                lines.append(f"- speed, {speed.key} vs {key}: {ratio:.2f}x (target >= {target}x): {verdict}")
    ours, theirs = by_key.get("memory_vehiclewatch_run_2cams"), by_key.get("memory_ultralytics_openvino_2cams")
    if ours is not None and theirs is not None and theirs.peak_rss_mb:
        ratio = ours.peak_rss_mb / theirs.peak_rss_mb
        verdict = "met" if ratio <= TARGET_MEMORY else "NOT met"
        lines.append(
            f"- peak RSS, two cameras: {ours.peak_rss_mb:.0f} MB vs {theirs.peak_rss_mb:.0f} MB = {ratio:.2f}x "
            f"(target <= {TARGET_MEMORY}x): {verdict}"
        )
    return lines


def _label(key: str) -> str:
    """A short bar label: settings keep only their key and the file name of a path value."""
    words = [
        f"{kv.partition('=')[0]}=\n{Path(kv.partition('=')[2]).name}" if "=" in kv else kv.replace("_", "\n")
        for kv in key.split(" ")
    ]
    return "\n".join(words)


def plot(path: Path, speed: list[Contestant], memory: list[Contestant]) -> None:
    try:
        import matplotlib
    except ImportError:  # the tools extra brings it; the figures are in results.md anyway
        print("peers: no matplotlib (pip install '.[tools]'): no plot", file=sys.stderr)
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    bars = left.bar([_label(c.key) for c in speed], [c.fps for c in speed], color="#4c72b0")
    left.bar_label(bars, fmt="%.1f")
    left.margins(y=0.15)
    left.set_ylabel("frames/s (median)")
    left.set_title(f"speed (load at start {speed[0].runs[0]['loadavg_process_start'][0]:.2f})")
    left.tick_params(axis="x", labelsize=8)
    if memory:
        bars = right.bar([_label(c.key) for c in memory], [c.peak_rss_mb for c in memory], color="#dd8452")
        right.bar_label(bars, fmt="%.0f")
        right.margins(y=0.15)
        right.set_ylabel("peak RSS, MB")
        right.set_title("memory, two cameras")
        right.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
