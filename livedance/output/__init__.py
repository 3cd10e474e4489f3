"""Outputs of the engine: the Sink protocol and its frame (``sinks``), and the OSC output.

``wire`` (OSC bytes and addresses), ``sender`` (UDP), ``layouts`` (pose layouts and event
messages), ``vmc`` (the VMC bone solver).
"""
