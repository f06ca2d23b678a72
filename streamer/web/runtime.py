"""The web API as the service (or `vehiclewatch api`) runs it: tokens, models, batcher, app and server together.

It opens a detector and classifier bank of its own (the pipeline's run on the pipeline's threads; sharing one
inference session between the two would make one wait on the other's batches and depend on each runtime's
thread-safety).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from classifiers.bank import ClassifierBank
from classifiers.settings import ClassifierSettings
from detectors.registry import open_detector
from detectors.settings import DetectorSettings
from streamer.history.settings import HistorySettings
from streamer.web.app import create_app
from streamer.web.batcher import MicroBatcher
from streamer.web.live import LiveContext, live_router
from streamer.web.recognize import Recognizer, RecognizeResult
from streamer.web.server import WebServer
from streamer.web.settings import WebSettings
from streamer.web.tokens import ApiTokens, JwtVerifier, TokenFileError

if TYPE_CHECKING:
    from streamer.web.review_api import CameraAdapter

log = logging.getLogger(__name__)


@dataclass
class WebApi:
    """The running API; `stop` ends it."""

    server: WebServer
    batcher: MicroBatcher[NDArray[np.uint8], RecognizeResult] | None
    app: Any
    closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self) -> None:
        self.server.stop()
        if self.batcher is not None:
            self.batcher.close()
        for close in self.closers:
            close()


def load_tokens(settings: WebSettings) -> ApiTokens:
    verifier = JwtVerifier(settings.jwt) if settings.jwt is not None else None
    if settings.tokens_file is None:
        if verifier is None:
            raise TokenFileError(
                "web.tokens_file (a YAML file of `name: token`) or web.jwt is required when web.enabled is set"
            )
        return ApiTokens((), verifier)
    return ApiTokens(ApiTokens.from_file(settings.tokens_file).tokens, verifier)


def start_web_api(
    settings: WebSettings,
    detector: DetectorSettings | None,
    classifiers: ClassifierSettings,
    history: HistorySettings | None = None,
    live: LiveContext | None = None,
    adapter: CameraAdapter | None = None,
) -> WebApi:
    """Opens the models and serves the API.

    With the history on, the review page's routes (labels, export) come too; ``adapter`` answers ``POST
    /v1/adapt/{camera}`` (and its rollback), which answer 503 without one.

    Raises:
        TokenFileError: no tokens file, or a bad one.
        ModelLoadError: a model cannot be opened.
        OSError: the port is taken.
    """
    tokens = load_tokens(settings)
    batcher: MicroBatcher[NDArray[np.uint8], RecognizeResult] | None = None
    bank = ClassifierBank.from_settings(classifiers)
    if len(bank) or detector is not None:
        opened = open_detector(detector) if detector is not None else None
        recognizer = Recognizer(opened, bank, settings.recognize.top_k)
        batcher = MicroBatcher(recognizer, settings.recognize.max_batch, settings.recognize.max_wait_ms / 1000).start()
    routes: list[Any] = []
    closers: list[Callable[[], None]] = []
    if history is not None and history.enabled:
        from streamer.history.label_fields import vocabulary_of
        from streamer.history.labels import LabelsStore, labels_dir
        from streamer.history.store import SightingsStore, database_url
        from streamer.web.review_api import review_router
        from streamer.web.sightings_api import sightings_router

        store = SightingsStore.open(database_url(history))
        closers.append(store.close)
        routes.append(sightings_router(store))
        labels = LabelsStore.open(store, labels_dir(history))
        routes.append(review_router(labels, lambda: vocabulary_of(bank.heads), labels_dir(history) / "exports"))
        if adapter is None and classifiers.adaptation.enabled and len(bank):
            from streamer.service.adaptations import adaptations_root
            from streamer.web.camera_adapter import LabelsAdapter

            # The Adapt button fits on these models' raw scores and publishes where the service reads.
            adapter = LabelsAdapter(
                labels, bank, adaptations_root(classifiers.adaptation), labels_dir(history) / "adapt"
            )
    if live is not None:
        routes.append(live_router(live))
    from streamer.web.review_api import adapt_router

    routes.append(adapt_router(adapter))
    app = create_app(tokens, batcher, settings.recognize, routes)
    try:
        server = WebServer(app, settings.host, settings.port).start()
    except OSError:
        if batcher is not None:
            batcher.close()
        for close in closers:
            close()
        raise
    log.info(
        "web API on http://%s:%d (POST /v1/recognize, docs /docs); %d token(s)",
        settings.host,
        server.port,
        len(tokens.tokens),
    )
    return WebApi(server, batcher, app, closers)
