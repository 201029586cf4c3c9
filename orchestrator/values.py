"""Value types every room shares: the lowest room, importing nothing of tansaku."""

ParameterValue = float | int | str
"""A parameter's value as the instrument sees it: a number, or a categorical's label."""
