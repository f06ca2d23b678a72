"""Inference engines: one model file run by one runtime, behind the `InferenceEngine` protocol (``base``), so the
model code (the YOLO detector, the crop classifiers) does its pre- and post-processing whatever runs the graph.

``selection`` opens an engine and resolves ``runtime: auto``; ``ort_engine`` runs ONNX Runtime (CUDA, TensorRT,
CPU), ``openvino_engine`` OpenVINO on the CPU; ``precision`` reads a file's own precision. Nothing is imported here,
so that naming the package loads no runtime.
"""
