"""Benchmarks: ``make bench`` (``python -m bench``) runs every module's ``main()``."""
