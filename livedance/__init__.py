"""livedance: an avatar dances to the music playing now.

Audio -> features (aubio) -> DanceNet step (ONNX Runtime) -> pose -> OSC.
"""

__version__ = "0.1.0"
