"""Prefect flows over the cruxforge library: ``build`` and ``audit`` (``evaluate`` and
``analyse`` live beside them). Each flow is thin: the work is in the library."""
