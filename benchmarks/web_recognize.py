"""Load test of ``POST /v1/recognize`` on loopback: requests/s and latency at 1, 4 and 16 concurrent clients.

Real models (``--models``, default ../shared/models: the service's default detector, make and colour models) and a
real image; the API runs in this process (uvicorn on a thread), the clients are threads with keep-alive httpx
connections. Each level runs ``--seconds`` after one warm-up request per client. ``--max-batch 1`` turns
micro-batching off, to see what it brings. Prints one line per level and writes JSON and a PNG plot to ``--out``.

    .venv/bin/python benchmarks/web_recognize.py --seconds 8
    .venv/bin/python benchmarks/web_recognize.py --seconds 8 --max-batch 1
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from classifiers.settings import ClassifierSettings
from detectors.settings import DetectorSettings
from streamer.cli.defaults import model_overrides
from streamer.web.runtime import start_web_api
from streamer.web.settings import RecognizeSettings, WebSettings

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VEHICLEWATCH_SHARED", ROOT.parent / "shared"))


def run_level(url: str, body: bytes, token: str, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(i: int) -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "image/jpeg"}
        with httpx.Client(timeout=30) as c:
            c.post(url, content=body, headers=headers)  # warm-up: connection and first batch
            start.wait()
            while time.perf_counter() < stop_at[0]:
                t0 = time.perf_counter()
                status = c.post(url, content=body, headers=headers).status_code
                if status == 200:
                    latencies[i].append(time.perf_counter() - t0)
                else:
                    errors[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + 3600
    start.wait()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    done = np.array([x for per in latencies for x in per]) * 1000
    return {
        "clients": clients,
        "requests": int(done.size),
        "errors": sum(errors),
        "rps": done.size / elapsed,
        "p50_ms": float(np.percentile(done, 50)) if done.size else float("nan"),
        "p99_ms": float(np.percentile(done, 99)) if done.size else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=SHARED / "models")
    parser.add_argument("--image", type=Path, default=SHARED / "images" / "udacity_test1.jpg")
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "web_recognize")
    args = parser.parse_args()
    if not args.models.is_dir() or not args.image.is_file():
        raise SystemExit(f"web_recognize: error: needs {args.models} and {args.image} (set VEHICLEWATCH_SHARED)")
    overrides = model_overrides(args.models, None, ())
    token = "benchmark-token-0123456789"
    with tempfile.TemporaryDirectory() as tmp:
        tokens = Path(tmp) / "tokens.yaml"
        tokens.write_text(f"bench: {token}\n")
        settings = WebSettings(
            enabled=True,
            port=0,
            tokens_file=tokens,
            recognize=RecognizeSettings(max_batch=args.max_batch, max_wait_ms=args.max_wait_ms),
        )
        api = start_web_api(
            settings, DetectorSettings(**overrides["detector"]), ClassifierSettings(**overrides["classifiers"])
        )
        try:
            url = f"http://127.0.0.1:{api.port}/v1/recognize"
            body = args.image.read_bytes()
            rows = []
            for clients in (int(c) for c in args.clients.split(",")):
                assert api.batcher is not None
                calls, items = api.batcher.calls, api.batcher.items
                row = run_level(url, body, token, clients, args.seconds)
                row["images_per_model_call"] = (api.batcher.items - items) / max(api.batcher.calls - calls, 1)
                row["load_avg_1m"] = os.getloadavg()[0]
                rows.append(row)
                print(
                    f"clients={clients:3d} max_batch={args.max_batch:2d}: {row['rps']:7.1f} req/s  "
                    f"p50 {row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms  "
                    f"images/model call {row['images_per_model_call']:.1f}  errors {row['errors']}  "
                    f"(load {row['load_avg_1m']:.1f}, {os.cpu_count()} cpus)",
                    flush=True,
                )
        finally:
            api.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"max_batch_{args.max_batch}"
    (args.out / f"{name}.json").write_text(json.dumps({"image": str(args.image), "rows": rows}, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    xs = [r["clients"] for r in rows]
    left.plot(xs, [r["rps"] for r in rows], "o-")
    left.set(xlabel="concurrent clients", ylabel="requests/s", xscale="log", title="throughput")
    right.plot(xs, [r["p99_ms"] for r in rows], "o-", label="p99")
    right.plot(xs, [r["p50_ms"] for r in rows], "o--", label="p50")
    right.set(xlabel="concurrent clients", ylabel="ms", xscale="log", title="latency")
    right.legend()
    fig.suptitle(f"POST /v1/recognize on loopback, max_batch={args.max_batch}")
    fig.tight_layout()
    fig.savefig(args.out / f"{name}.png", dpi=100)
    print(f"wrote {args.out / name}.json and .png")


if __name__ == "__main__":
    main()
