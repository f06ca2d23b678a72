"""Vehicle detectors: the `Detector` protocol (``base``), plugins opened by their ``type`` (``registry``), and a
YOLO implementation (``yolo``) on ONNX Runtime or OpenVINO (``engines``); ``settings`` and ``providers`` are
settings only."""
