"""SavedModel -> .tflite conversion (``camera-app convert``), run on a workstation.

Needs TensorFlow (``pip install 'camera_app[convert]'``), imported lazily by
:func:`convert` only: importing this package does not load it.
"""

from camera_app.convert.calibration import calibration_batches, iter_calibration_frames
from camera_app.convert.converter import convert
from camera_app.convert.options import ConvertOptions, Normalisation
from camera_app.convert.report import ConversionReport, OutputAgreement

__all__ = [
    "ConversionReport",
    "ConvertOptions",
    "Normalisation",
    "OutputAgreement",
    "calibration_batches",
    "convert",
    "iter_calibration_frames",
]
