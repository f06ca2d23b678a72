"""Colour recognition that holds up on traffic-camera footage.

- ``augment``: camera-imitating augmentations (down-scaling, JPEG, blur, casts, sky reflection, haze, noise);
- ``balance``: white-balance / colour-cast correction (gray-world, shades-of-gray, neutral pixels of the road);
- ``paint``: the body-paint statistic (dominant body colour, k-means in CIELab, windows/road/highlights excluded);
- ``labels``: the colour vocabulary and how member models' labels map onto it;
- ``pool``: the few-parameter log-linear pool that combines the members, and its clip-wise cross-validation;
- ``recognizer``: ``ColorRecognizer`` (probability per colour, shade, paint) from a recogniser YAML file, usable as
  the ``color`` head of a ``ClassifierBank``;
- ``similarity``: confusion-aware colour similarity for watchlist matching;
- ``build``: ``python -m classifiers.color.build`` fits the pool, measures it and writes the recogniser file.
"""

from classifiers.color.recognizer import ColorRecognizer, ColorResult, RecognizerConfig, load_recognizer_config
from classifiers.color.similarity import match_score, similarity

__all__ = ["ColorRecognizer", "ColorResult", "RecognizerConfig", "load_recognizer_config", "match_score", "similarity"]
