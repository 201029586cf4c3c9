"""A user's Python function named in a campaign file as ``package.module:function``.

Both a ``type: function`` simulator (``drivers/simulated.py``) and a model's prior mean
(``model: {prior_mean: ...}``) name one; this lowest-room module imports it for both, so
neither the campaign package nor the drivers need the other.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from tansaku.errors import InputError

FUNCTION_PATTERN = r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"
"""``package.module:function``: a dotted module path, a colon, a name."""


class FunctionImportError(InputError):
    """The named function cannot be imported or is not callable."""


def import_function(name: str) -> Callable[..., Any]:
    """The callable ``name`` (``package.module:function``) names.

    Args:
        name: a string matching :data:`FUNCTION_PATTERN`.

    Raises:
        FunctionImportError: ``"cannot import <name>: <why>"`` when the module or the
            attribute is missing; ``"<name> is not callable"`` when it is something else.
    """
    module_name, _, attribute = name.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise FunctionImportError(f"cannot import {name}: {error}") from None
    if not callable(function):
        raise FunctionImportError(f"{name} is not callable")
    return function
