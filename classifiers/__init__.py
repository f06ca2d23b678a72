"""Crop classifiers (make, model, colour, body type) on ONNX Runtime, run batched on vehicle crops.

The `CropClassifier` protocol is in ``base``; ``registry.open_classifier`` opens one by its settings' ``type``;
``bank`` runs them all together.
"""
