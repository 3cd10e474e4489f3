"""Training data: the Tang 2018 reader (``tang2018``) and the aligned, cached, windowed songs
(``songs``)."""
