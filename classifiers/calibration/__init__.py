"""Trustworthy claims from the crop classifiers: calibrated probabilities and abstention.

``methods`` holds the calibration maps (temperature, isotonic) and their metrics; ``file`` the calibration file
and the :class:`Calibration` the bank applies; ``fit`` fits a head's calibration cross-validated by group (clip);
``abstention`` the rules under which a head drops its claim (crop too small for make, colour under extreme
exposure, an undecided shade).
"""

from classifiers.calibration.file import Calibration, CalibrationFile, HeadCalibration, load_calibration_file

__all__ = ["Calibration", "CalibrationFile", "HeadCalibration", "load_calibration_file"]
