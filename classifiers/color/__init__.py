"""Colour recognition that holds up on traffic-camera footage.

- ``augment``: camera-imitating augmentations (down-scaling, JPEG, blur, casts, sky reflection, haze, noise);
- ``balance``: white-balance / colour-cast correction (gray-world, shades-of-gray, neutral pixels of the road);
- ``paint``: the body-paint statistic (dominant body colour, k-means in CIELab, windows/road/highlights excluded);
- ``vocabulary``: the project's one colour vocabulary (names, synonyms, shades, folding), shared with watchlists;
- ``labels``: the recogniser's colour labels and how member models' labels map onto them;
- ``pool``: the few-parameter log-linear pool that combines the members, and its clip-wise cross-validation;
- ``recognizer``: ``ColorRecognizer`` (probability per colour, shade, paint) from a recogniser YAML file, usable as
  the ``color`` head of a ``ClassifierBank``;
- ``similarity``: confusion-aware colour similarity for watchlist matching;
- ``shade``: the dark/light shade of a recognised colour, from the paint's lightness;
- ``camera_adapt``: per-camera adaptation (``CameraAdapter``: a camera's black and white levels, learnt online from
  the vehicles it sees; ``LevelsCorrection`` for its next crops);
- ``camera_eval``: leave-one-clip-out of that adaptation, each clip streamed online, and simulated dim cameras;
- ``build``: ``python -m classifiers.color.build`` fits the pool, measures it and writes the recogniser file
  (``build_report``: its figures, tables and plots);
- ``clip_frames``, ``clip_tracks``, ``propose_crops``, ``crop_sheets``, ``cut_crops``: camera crops from the shared
  clips: frames and crops, detector + tracks, candidates and contact sheets for labelling by eye, and
  ``python -m classifiers.color.cut_crops`` to cut a labels file's crops into a cache;
- ``settings``: ``ColorRecognizerSettings``, the service's ``classifiers.color_recognizer`` section.

Nothing is imported here, so ``classifiers.settings`` can import ``classifiers.color.settings`` alone.
"""
