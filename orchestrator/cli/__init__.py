"""The ``tansaku`` command line."""
