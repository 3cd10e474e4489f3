"""Motion: pose features to world joints (``pose``) and the skeleton's rest pose (``skeleton``)."""
