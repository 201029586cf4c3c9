"""Serial instruments driven by YAML protocol descriptions (see ``driver``)."""
