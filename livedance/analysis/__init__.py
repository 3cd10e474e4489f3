"""Music analysis, causal and frame by frame: the conditioning features and what they are built of.

``features`` (the model's conditioning vector), ``beat`` (tempo and beat phase), ``melody``
(pitch and note onsets), ``style`` (the automatic dance style).
"""
