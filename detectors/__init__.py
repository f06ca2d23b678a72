"""Vehicle detectors: a `Detector` protocol and a YOLO implementation on ONNX Runtime."""
