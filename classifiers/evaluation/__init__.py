"""Evaluating crop classifiers: top-k accuracy, per-class precision/recall/F1, confusions, calibration, plots.

``metrics`` holds pure functions on a ``PredictionTable``; ``predict`` runs a model over a labelled set;
``report`` assembles, prints and writes the figures; ``plots`` draws PNGs; ``runner.evaluate`` does it all.
"""

from classifiers.evaluation.metrics import PredictionTable
from classifiers.evaluation.predict import EvaluationError
from classifiers.evaluation.report import EvalReport, format_text
from classifiers.evaluation.runner import EvalConfig, evaluate

__all__ = ["EvalConfig", "EvalReport", "EvaluationError", "PredictionTable", "evaluate", "format_text"]
