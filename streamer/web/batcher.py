"""Micro-batching: images of concurrent requests collected into one model call.

One worker thread takes the first waiting image, waits up to ``max_wait_s`` for others (at most ``max_batch``),
and hands them to the batch function together: N concurrent requests cost about one detector and one classifier
call instead of N. A request alone waits ``max_wait_s`` at most. The batch function's exception fails every
request of that batch (and only those); the worker goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True, slots=True)
class _Job(Generic[In, Out]):
    item: In
    future: Future[Out]


class MicroBatcher(Generic[In, Out]):
    """Runs ``batch_fn`` on items submitted concurrently, batched.

    Args:
        batch_fn: items → one result per item, same order.
        max_batch: most items per call.
        max_wait_s: how long the first item of a batch waits for more.
    """

    def __init__(self, batch_fn: Callable[[Sequence[In]], Sequence[Out]], max_batch: int, max_wait_s: float) -> None:
        if max_batch < 1 or max_wait_s < 0:
            raise ValueError("max_batch must be >= 1 and max_wait_s >= 0")
        self._fn = batch_fn
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: queue.Queue[_Job[In, Out] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="recognize-batcher", daemon=True)
        self._closed = threading.Event()
        self.calls = 0
        """Batch function calls so far."""
        self.items = 0
        """Items processed so far."""

    def start(self) -> MicroBatcher[In, Out]:
        self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Finishes the items already submitted, then stops the worker."""
        if not self._closed.is_set():
            self._closed.set()
            self._queue.put(None)
            self._thread.join(timeout)

    def submit(self, item: In) -> Future[Out]:
        if self._closed.is_set():
            raise RuntimeError("the batcher is closed")
        future: Future[Out] = Future()
        self._queue.put(_Job(item, future))
        return future

    def _collect(self, first: _Job[In, Out]) -> tuple[list[_Job[In, Out]], bool]:
        jobs = [first]
        deadline = time.monotonic() + self.max_wait_s
        while len(jobs) < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                job = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
        return jobs, False

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            jobs, stop = self._collect(first)
            jobs = [job for job in jobs if job.future.set_running_or_notify_cancel()]
            if not jobs:
                continue
            try:
                results = self._fn([job.item for job in jobs])
                if len(results) != len(jobs):
                    raise RuntimeError(f"batch function returned {len(results)} results for {len(jobs)} items")
            except Exception as exc:
                log.exception("recognise batch of %d failed", len(jobs))
                for job in jobs:
                    job.future.set_exception(exc)
                continue
            finally:
                self.calls += 1
                self.items += len(jobs)
            for job, result in zip(jobs, results, strict=True):
                job.future.set_result(result)
