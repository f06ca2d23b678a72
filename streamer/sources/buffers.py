"""Bounded frame buffers between camera readers and detection, and fair batch collection across cameras.

Each camera reader puts frames on its own :class:`FrameBuffer`. When a buffer is full its *named* policy decides
which frame is lost, and every lost frame is returned to the caller and counted with its cause. The detect thread
takes batches with :meth:`FrameBufferGroup.collect`, round-robin across cameras, sleeping on one condition variable
that every buffer of the group notifies.

Example:
    >>> group = FrameBufferGroup()
    >>> cam = group.add_buffer("gate", capacity=4, policy="drop_oldest")
    >>> group.depths()
    {'gate': 0}
"""

from __future__ import annotations

import collections
import enum
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from streamer.sources.frames import Frame
from streamer.sources.settings import FullPolicy

__all__ = ["DropCause", "FrameBuffer", "FrameBufferGroup", "PutResult"]


class DropCause(enum.StrEnum):
    """Why a frame was lost at a buffer (used as a metric label)."""

    FULL_DROP_OLDEST = "full_drop_oldest"
    """The buffer was full and its policy evicted its oldest frame to make room."""
    FULL_DROP_NEWEST = "full_drop_newest"
    """The buffer was full and its policy refused the new frame."""
    BLOCK_TIMEOUT = "block_timeout"
    """The buffer stayed full for the whole put timeout (policy ``block``)."""
    CLOSED = "closed"
    """The buffer was closed (the camera stopped or the service is shutting down)."""


@dataclass(frozen=True, slots=True)
class PutResult:
    """What a put did.

    Attributes:
        accepted: whether the new frame is now in the buffer.
        dropped: the frame that was lost (the new one or an evicted old one), if any.
        cause: why ``dropped`` was lost.
    """

    accepted: bool
    dropped: Frame | None = None
    cause: DropCause | None = None


_ACCEPTED = PutResult(accepted=True)


class FrameBuffer:
    """A bounded FIFO of frames of one camera with a named policy for when it is full.

    Args:
        capacity: most frames held.
        policy: ``drop_oldest`` (newest frame wins, for live cameras), ``drop_newest`` (keep what is queued) or
            ``block`` (the reader waits for room, for offline files; a put returns when the buffer closes).
        notify: the condition shared with a :class:`FrameBufferGroup`; its lock guards this buffer and it is
            notified on every change. ``None`` gives the buffer a condition of its own.
    """

    def __init__(self, capacity: int, policy: FullPolicy, notify: threading.Condition | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"frame buffer capacity must be at least 1, got {capacity}")
        if policy not in ("drop_oldest", "drop_newest", "block"):
            raise ValueError(f"unknown frame buffer policy {policy!r}: expected drop_oldest, drop_newest or block")
        self.capacity = capacity
        self.policy: FullPolicy = policy
        self.condition = notify if notify is not None else threading.Condition()
        self._frames: collections.deque[Frame] = collections.deque()
        self._closed = False
        self._drops: collections.Counter[DropCause] = collections.Counter()

    def put(self, frame: Frame, timeout: float | None = None) -> PutResult:
        """Adds a frame, applying the full policy.

        Args:
            frame: the frame.
            timeout: policy ``block`` only: most seconds to wait for room; ``None`` waits until there is room or
                the buffer closes.

        Returns:
            Whether the frame was accepted and which frame was lost, if one was.
        """
        with self.condition:
            if self._closed:
                return self._drop(frame, DropCause.CLOSED)
            result = _ACCEPTED
            if len(self._frames) >= self.capacity:
                if self.policy == "drop_newest":
                    return self._drop(frame, DropCause.FULL_DROP_NEWEST)
                if self.policy == "drop_oldest":
                    result = self._drop(self._frames.popleft(), DropCause.FULL_DROP_OLDEST, accepted=True)
                else:
                    deadline = None if timeout is None else time.monotonic() + timeout
                    while len(self._frames) >= self.capacity and not self._closed:
                        remaining = None if deadline is None else deadline - time.monotonic()
                        if remaining is not None and remaining <= 0:
                            return self._drop(frame, DropCause.BLOCK_TIMEOUT)
                        self.condition.wait(remaining)
                    if self._closed:
                        return self._drop(frame, DropCause.CLOSED)
            self._frames.append(frame)
            self.condition.notify_all()
            return result

    def pop(self) -> Frame | None:
        """Removes and returns the oldest frame, or ``None`` when empty (never waits)."""
        with self.condition:
            if not self._frames:
                return None
            frame = self._frames.popleft()
            self.condition.notify_all()  # wakes a put blocked on a full buffer
            return frame

    def close(self) -> None:
        """Refuses further frames and wakes blocked puts; frames already queued can still be taken."""
        with self.condition:
            self._closed = True
            self.condition.notify_all()

    @property
    def closed(self) -> bool:
        """Whether the buffer refuses new frames."""
        return self._closed

    @property
    def finished(self) -> bool:
        """Closed and empty: no frame will ever come out again."""
        with self.condition:
            return self._closed and not self._frames

    def drops(self) -> dict[DropCause, int]:
        """Frames lost so far, by cause."""
        with self.condition:
            return dict(self._drops)

    def __len__(self) -> int:
        with self.condition:
            return len(self._frames)

    def _drop(self, frame: Frame, cause: DropCause, accepted: bool = False) -> PutResult:
        self._drops[cause] += 1
        return PutResult(accepted=accepted, dropped=frame, cause=cause)


class FrameBufferGroup:
    """The buffers of all cameras, read together by the detect thread.

    All buffers share one condition, so the detect thread sleeps until any camera has a frame: no polling.
    """

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self._buffers: dict[str, FrameBuffer] = {}
        self._order: list[str] = []
        self._next = 0  # where the next round-robin round starts, so no camera is always first
        self._held = False  # a fleet worker's group: cameras come and go, so no camera is no "all ended"

    def add_buffer(self, camera_id: str, capacity: int, policy: FullPolicy) -> FrameBuffer:
        """Creates the buffer of one camera, sharing the group's condition.

        Raises:
            ValueError: the camera already has a buffer in this group.
        """
        with self.condition:
            if camera_id in self._buffers:
                raise ValueError(f"camera {camera_id!r} already has a frame buffer")
            buffer = FrameBuffer(capacity, policy, notify=self.condition)
            self._buffers[camera_id] = buffer
            self._order.append(camera_id)
            self.condition.notify_all()
            return buffer

    def hold(self) -> None:
        """Keeps the group open while it has no camera (a fleet worker between cameras): only `close` ends it."""
        with self.condition:
            self._held = True

    def remove_buffer(self, camera_id: str) -> FrameBuffer | None:
        """Takes a camera's buffer out of the group (its reader stopped); frames still in it are not collected.

        Returns:
            The buffer, or None when the camera had none.
        """
        with self.condition:
            buffer = self._buffers.pop(camera_id, None)
            if buffer is None:
                return None
            position = self._order.index(camera_id)
            self._order.remove(camera_id)
            if self._next > position:
                self._next -= 1
            self._next = self._next % len(self._order) if self._order else 0
            self.condition.notify_all()
            return buffer

    @property
    def buffers(self) -> Mapping[str, FrameBuffer]:
        """Buffers by camera id."""
        with self.condition:
            return dict(self._buffers)

    def collect(self, max_batch: int, max_wait_s: float, timeout: float | None = None) -> list[Frame]:
        """Takes up to ``max_batch`` frames, at most one per camera per round-robin round.

        Waits until at least one frame is ready (or ``timeout`` passes, or the group is finished), then up to
        ``max_wait_s`` more while the batch is not full and some buffer is still open.

        Args:
            max_batch: most frames returned.
            max_wait_s: how long to wait for more frames once one is ready; trades latency for batch size.
            timeout: most seconds to wait for the first frame; ``None`` waits until a frame comes or the group is
                finished.

        Returns:
            Frames in round-robin order; empty on timeout or when the group is finished.
        """
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        batch: list[Frame] = []
        with self.condition:
            if not self.condition.wait_for(self._ready_or_finished, timeout):
                return batch
            fill_deadline = time.monotonic() + max_wait_s
            while True:
                self._take_rounds(batch, max_batch)
                remaining = fill_deadline - time.monotonic()
                if len(batch) >= max_batch or remaining <= 0 or self._all_closed():
                    return batch
                self.condition.wait(remaining)

    def depths(self) -> dict[str, int]:
        """Frames waiting per camera."""
        with self.condition:
            return {camera_id: len(buffer) for camera_id, buffer in self._buffers.items()}

    def close(self) -> None:
        """Closes every buffer (blocked puts return); queued frames can still be collected."""
        with self.condition:
            self._held = False
            for buffer in self._buffers.values():
                buffer.close()

    @property
    def finished(self) -> bool:
        """Every buffer is closed and empty (e.g. all files ended): nothing more will be collected."""
        with self.condition:
            return not self._held and all(buffer.finished for buffer in self._buffers.values())

    def _ready_or_finished(self) -> bool:
        return any(len(buffer) for buffer in self._buffers.values()) or self.finished

    def _all_closed(self) -> bool:
        return all(buffer.closed for buffer in self._buffers.values())

    def _take_rounds(self, batch: list[Frame], max_batch: int) -> None:
        count = len(self._order)
        took = True
        while took and len(batch) < max_batch:
            took = False
            start = self._next
            for offset in range(count):
                position = (start + offset) % count
                frame = self._buffers[self._order[position]].pop()
                if frame is None:
                    continue
                batch.append(frame)
                took = True
                self._next = (position + 1) % count
                if len(batch) >= max_batch:
                    return
