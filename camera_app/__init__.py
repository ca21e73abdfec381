"""camera_app: real-time camera vision for the Raspberry Pi.

Capture thread -> bounded queue -> TFLite inference worker -> results sinks.
"""

__version__ = "0.1.0"
