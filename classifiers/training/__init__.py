"""Training crop classifiers: a new head on a frozen backbone's ``embedding``, exported as one ONNX graph.

The flow is ``load_labelled`` (folder or ``labels.csv``) → ``stratified_split`` → ``embed_views`` (cached,
augmented) → ``select_head`` (scikit-learn candidates, chosen on validation) → ``build_classifier_graph``.
``train`` runs it all from a ``TrainConfig``.
"""

from classifiers.training.augment import AugmentConfig
from classifiers.training.errors import BackboneError, DatasetError, TrainingError
from classifiers.training.trainer import TrainConfig, TrainResult, train

__all__ = [
    "AugmentConfig",
    "BackboneError",
    "DatasetError",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "train",
]
