"""Training of DanceNet on music + dance pairs (torch; never imported by ``livedance``)."""
