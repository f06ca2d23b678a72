"""Per-camera adaptation of the classifier heads from the operator's labels (issue 19).

Applying an adaptation (``load_adaptation``, ``CameraAdaptation.apply``, ``AdaptationStore``) needs numpy only;
fitting one (``adapt_camera``) needs scipy from the ``tools`` extra, imported when it runs.
"""

from classifiers.adaptation.adapt import adapt_camera, check_labels
from classifiers.adaptation.dataset import LabelledView, read_views, write_views
from classifiers.adaptation.errors import (
    AdaptationError,
    AdaptationFileError,
    DatasetError,
    NotEnoughLabelsError,
)
from classifiers.adaptation.fields import CANT_TELL, FIELD_HEADS, head_for_field
from classifiers.adaptation.file import CameraAdaptation, adaptation_bytes, load_adaptation
from classifiers.adaptation.report import AdaptationReport, FieldReport, write_report
from classifiers.adaptation.store import AdaptationStore
from classifiers.adaptation.transform import HeadAdaptation

__all__ = [
    "CANT_TELL",
    "FIELD_HEADS",
    "AdaptationError",
    "AdaptationFileError",
    "AdaptationReport",
    "AdaptationStore",
    "CameraAdaptation",
    "DatasetError",
    "FieldReport",
    "HeadAdaptation",
    "LabelledView",
    "NotEnoughLabelsError",
    "adapt_camera",
    "adaptation_bytes",
    "check_labels",
    "head_for_field",
    "load_adaptation",
    "read_views",
    "write_report",
    "write_views",
]
