"""Licence plates: finding and reading them on vehicle crops, plate formats, and fusing reads over a track.

The reader (`classifiers.plates.reader.PlateReader`) needs the ``plates`` extra (the ``rapidocr`` wheel, whose
PP-OCR text detection and recognition ONNX models it runs); everything else here is plain Python and NumPy.
"""
