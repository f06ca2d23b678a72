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
- ``build``: ``python -m classifiers.color.build`` fits the pool, measures it and writes the recogniser file;
- ``settings``: ``ColorRecognizerSettings``, the service's ``classifiers.color_recognizer`` section.

Nothing is imported here, so ``classifiers.settings`` can import ``classifiers.color.settings`` alone.
"""
