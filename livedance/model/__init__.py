"""The motion model stage: model metadata, ONNX sessions, the DanceNet step and its sampler.

``stage`` (the protocol the engine runs, and the DanceNet stage), ``step``, ``sampler``,
``session``, ``metadata``.
"""
