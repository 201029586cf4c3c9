"""Chemical elements: the property table shipped with tansaku, and the checks on a
campaign's element symbols.

A mixture whose components are elements (``elements: {ni_load: Ni, fe_load: Fe}``) and a
categorical whose values are element symbols (``descriptors: elements``) let the model
see what the elements are: their electronegativity, size, ionisation energy, valence
electrons and mass. The table (``data/elements.csv``, generated once from the mendeleev
package, MIT; ``data/README.md``) is read with the csv module, so validating a campaign
never imports pandas or torch.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator

from tansaku.campaign.files import finite_number, listed

TABLE = Path(__file__).with_name("data") / "elements.csv"

PROPERTIES = (
    "electronegativity",
    "covalent_radius",
    "ionization_energy",
    "valence_electrons",
    "atomic_mass",
)
"""The table's columns the model uses: Pauling electronegativity, covalent radius (pm),
first ionisation energy (eV), valence electrons and atomic mass (u)."""

KEEP_FRACTIONS = True
"""Whether, by default, the model of an element mixture sees the fractions beside the
element features (``keep_fractions``): chosen on OER plate 3496 against the features
alone, judged on plate 3851 (benchmarks/RESULTS.md, section 11)."""


def _one_symbol(value: object) -> object:
    if isinstance(value, list | dict):
        raise ValueError(
            "give one element symbol per component (e.g. Ni); for an amount of several "
            "elements, make a component of each"
        )
    return value


ElementSymbol = Annotated[str, BeforeValidator(_one_symbol)]
"""An element symbol as a mixture's ``elements:`` maps a component to it."""


@dataclass(frozen=True)
class ElementTable:
    """Element properties: ``values[symbol][i]`` is ``PROPERTIES[i]``, ``None`` where the
    source has no value (no Pauling electronegativity for the noble gases)."""

    values: Mapping[str, tuple[float | None, ...]]

    def rows(self, symbols: Sequence[str]) -> tuple[tuple[float, ...], ...]:
        """``len(symbols) x len(PROPERTIES)`` properties of known, complete elements."""
        return tuple(tuple(v for v in self.values[s] if v is not None) for s in symbols)


@cache
def element_table() -> ElementTable:
    """The shipped table, read once per process."""
    with TABLE.open(newline="", encoding="utf-8") as stream:
        records = list(csv.DictReader(stream))
    return ElementTable(
        {r["symbol"]: tuple(finite_number(r[name]) for name in PROPERTIES) for r in records}
    )


def element_problem(symbol: object) -> str | None:
    """What stops ``symbol`` from being used as an element, or ``None`` when nothing does.

    The symbol must be written as in the periodic table (``Ni``, not ``ni`` or
    ``nickel``) and the table must hold every property the model uses for it.
    """
    table = element_table().values
    text = str(symbol)
    if text not in table:
        close = [s for s in table if s.lower() == text.strip().lower()]
        close = close or difflib.get_close_matches(text, list(table), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{text!r} is not an element symbol{hint}; tansaku's table covers H to Lr"
    missing = [name for name, value in zip(PROPERTIES, table[text], strict=True) if value is None]
    if missing:
        return (
            f"the element table (from mendeleev) has no {listed(missing)} for {text}, so the "
            "model cannot describe it; leave out `elements` (a mixture's) or "
            "`descriptors: elements` (a categorical's) and the model sees the values as they are"
        )
    return None


def check_element_mapping(mapping: Mapping[str, str], components: Sequence[str]) -> None:
    """Refuse a mixture's ``elements:`` that does not name one element per component.

    Raises:
        ValueError: naming components that are not the mixture's, components left out,
            two components given the same element, or a symbol that is no usable element.
    """
    unknown = [name for name in mapping if name not in components]
    if unknown:
        raise ValueError(
            f"elements: {listed([repr(n) for n in unknown])} "
            f"{'is not a component' if len(unknown) == 1 else 'are not components'} of this "
            f"mixture ({', '.join(components)}); map each component to its element"
        )
    left_out = [name for name in components if name not in mapping]
    if left_out:
        raise ValueError(
            f"elements: {listed([repr(n) for n in left_out])} "
            f"{'has' if len(left_out) == 1 else 'have'} no element; map every "
            "component of the mixture to its element symbol"
        )
    for name in components:
        problem = element_problem(mapping[name])
        if problem:
            raise ValueError(f"elements: {name}: {problem}")
    by_element: dict[str, list[str]] = {}
    for name in components:
        by_element.setdefault(mapping[name], []).append(name)
    shared = {symbol: names for symbol, names in by_element.items() if len(names) > 1}
    if shared:
        symbol, names = next(iter(shared.items()))
        raise ValueError(
            f"elements: {' and '.join(names)} are both {symbol}; one component per element "
            "(add their amounts into one component)"
        )


def check_element_values(values: Sequence[object]) -> None:
    """Refuse ``descriptors: elements`` on a categorical whose values are not all elements.

    Raises:
        ValueError: naming the first value that is no usable element symbol.
    """
    for value in values:
        problem = element_problem(value)
        if problem:
            raise ValueError(f"descriptors: elements: {problem}")
