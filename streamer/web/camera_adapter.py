"""What the review page's Adapt and Roll back buttons run: the camera's labels, exported as the dataset that
``vehiclewatch adapt run`` reads, adapted on the web API's own models (``classifiers.adaptation.adapt_camera``).

A new version is published into the adaptation store only when it beats the camera's current one; the running
service picks it up for that camera within ``classifiers.adaptation.reload_s``. One adaptation per camera runs at a
time (a second click waits for the first).
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from classifiers.adaptation.adapt import adapt_camera
from classifiers.adaptation.dataset import read_views
from classifiers.adaptation.report import write_report
from classifiers.adaptation.store import AdaptationStore
from classifiers.bank import ClassifierBank
from streamer.history.label_export import export_labels
from streamer.history.labels import LabelsStore

log = logging.getLogger(__name__)


class LabelsAdapter:
    """Adapts a camera from the operators' labels (``streamer.web.review_api.CameraAdapter``).

    Args:
        labels: the labels store.
        bank: the models the service runs (their raw head scores are what an adaptation is fitted on).
        root: the adaptation store's folder (``classifiers.adaptation.dir``).
        work_dir: where the labels are exported for an adaptation and the reports are kept.
    """

    def __init__(self, labels: LabelsStore, bank: ClassifierBank, root: Path, work_dir: Path) -> None:
        self.labels = labels
        self.bank = bank
        self.store = AdaptationStore(root)
        self.work_dir = work_dir
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def _lock(self, camera_id: str) -> threading.Lock:
        with self._guard:
            return self._locks[camera_id]

    def adapt(self, camera_id: str, who: str) -> dict[str, Any]:
        """Adapts the camera on every labelled vehicle (the other cameras' are measured, never fitted on).

        Raises:
            ValueError: too few labelled vehicles (it says how many more), or labels the heads do not know.
        """
        with self._lock(camera_id):
            self.work_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.work_dir, prefix="adapt-") as tmp:
                folder = Path(tmp) / "labels"
                export_labels(self.labels, folder)
                views = read_views(folder)
                report = adapt_camera(views, self.bank.raw_scores, camera_id, self.store, created_by=who)
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            write_report(report, self.work_dir / "reports" / camera_id / f"{stamp}-{report.version or 'not-deployed'}")
        log.info("adapt %s for %s: %s", camera_id, who, report.summary())
        return report.model_dump(mode="json")

    def rollback(self, camera_id: str, who: str) -> dict[str, Any]:
        """Moves the camera back to its previous version (or the base models).

        Raises:
            ValueError: the camera has no adapted version to roll back from.
        """
        with self._lock(camera_id):
            before = self.store.current_version(camera_id)
            if before is None:
                raise ValueError(f"camera {camera_id!r} runs on the base models: nothing to roll back")
            now = self.store.rollback(camera_id)
        reason = f"{who} rolled {camera_id} back from {before} to {now or 'the base models'}"
        log.info("adapt: %s", reason)
        return {
            "camera_id": camera_id,
            "deployed": now is not None,
            "version": now,
            "previous": before,
            "reason": reason,
        }
