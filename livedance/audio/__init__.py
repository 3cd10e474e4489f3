"""Audio in: sources (mic, file, demo) that fill a ring and hand out hops on the model's clock.

``ring`` (the ring buffer, resampling, hop timing), ``source`` (the source base), ``mic``,
``file``, ``demo``; ``resample``, ``synth`` (instruments) and ``arrange`` (the demo music) are
their helpers.
"""
