"""Per-camera adaptation of the classifier heads from the operators' labels (docs/adaptation.md).

Applying an adaptation (``file.load_adaptation``, ``file.CameraAdaptation.apply``, ``store.AdaptationStore``,
``live.LiveAdaptations``) needs numpy only; fitting one (``adapt.adapt_camera``) needs scipy from the ``tools``
extra, imported when it runs. Nothing is imported here: config loading reads ``settings`` and must stay light.
"""
