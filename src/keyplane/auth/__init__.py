"""Who is calling: credentials to principals, with a per-process cache."""
