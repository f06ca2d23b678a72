"""Fixtures of the adaptation tests: a tiny synthetic colour classifier and a bank around it."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifiers.bank import ClassifierBank
from classifiers.settings import ClassifierModelSettings, ClassifierSettings
from tests.synthetic_classifier import make_color_classifier


@pytest.fixture(scope="session")
def color_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_color_classifier(tmp_path_factory.mktemp("models") / "color.onnx")


@pytest.fixture(scope="session")
def color_bank(color_model: Path) -> ClassifierBank:
    return ClassifierBank.from_settings(ClassifierSettings(models=(ClassifierModelSettings(model=color_model),)))
