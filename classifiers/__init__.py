"""Crop classifiers (make, model, colour, body type) on ONNX Runtime, run batched on vehicle crops."""
