"""Vehicle detectors: the `Detector` protocol (``base``), plugins opened by their ``type`` (``registry``), and a
YOLO implementation on ONNX Runtime (``yolo``); ``settings`` and ``providers`` are settings only."""
