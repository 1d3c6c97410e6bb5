"""Code shared by every Chirp service: knobs, config, resilient calls, the web shell."""
