"""Data shaping for toxhooks' web pages: plain Python, no web framework."""
