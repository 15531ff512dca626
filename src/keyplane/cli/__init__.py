"""The ``keyplane`` command line: thin commands over the HTTP SDK in ``keyplane.client``."""
