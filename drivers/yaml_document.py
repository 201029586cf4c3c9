"""YAML files people write (campaigns, instrument protocols), read safely and placed.

Every problem found in such a file is reported with its file, line, column and field,
so this module keeps the line and column of each key and list item as the file is read.
It is the lowest room: campaign loading and the drivers' own files both use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Location = tuple[str | int, ...]
"""Keys and list indexes from the document's root, as pydantic reports them."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file a person wrote."""

    file: Path
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        if not self.field:
            return f"{where}: {self.message}"
        return f"{where}: {self.field}: {self.message}"


class DocumentError(ValueError):
    """A file that cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


@dataclass(frozen=True)
class YamlDocument:
    """A safely loaded YAML document and the line and column of each key and item."""

    path: Path
    data: Any
    marks: dict[Location, tuple[int, int]]
    problems: tuple[Problem, ...]
    """Problems of the text itself that still let it load (a key given twice)."""

    @classmethod
    def parse(cls, text: str, path: Path) -> YamlDocument:
        """Load ``text`` (named ``path`` in messages); raise :class:`DocumentError`."""
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            data = None if root is None else loader.construct_document(root)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            problem = error.problem or error.context or "invalid YAML"
            raise DocumentError(
                [Problem(path, line, column, "", f"invalid YAML: {problem}")]
            ) from None
        except yaml.YAMLError as error:
            raise DocumentError([Problem(path, 1, 1, "", f"invalid YAML: {error}")]) from None
        finally:
            loader.dispose()
        marks: dict[Location, tuple[int, int]] = {(): (1, 1)}
        duplicates: list[Problem] = []
        if root is not None:
            for location, node, is_repeat in _walk(root, ()):
                # The last of repeated keys is the one safe_load keeps.
                marks[location] = (node.start_mark.line + 1, node.start_mark.column + 1)
                if is_repeat:
                    line, column = node.start_mark.line + 1, node.start_mark.column + 1
                    duplicates.append(
                        Problem(
                            path,
                            line,
                            column,
                            field_name(location),
                            "this key appears twice in the same section",
                        )
                    )
        return cls(path, data, marks, tuple(duplicates))

    def problem(self, loc: Location, message: str) -> Problem:
        """A problem at pydantic location ``loc``, placed on the nearest line of the file."""
        found: Location = ()
        for position, part in enumerate(loc):
            if (*found, part) in self.marks:
                found = (*found, part)
            elif position == len(loc) - 1 and not self._is_union_tag(found, part):
                # A key that should be there but is not: name it, point at its section.
                line, column = self.marks[found]
                return Problem(self.path, line, column, field_name((*found, part)), message)
            # Otherwise `part` is a union tag pydantic inserts (e.g. 'continuous'): skip it.
        line, column = self.marks[found]
        return Problem(self.path, line, column, field_name(found), message)

    def _is_union_tag(self, location: Location, part: str | int) -> bool:
        section = self.data
        for key in location:
            section = section[key]
        return isinstance(section, dict) and section.get("type") == part


def _walk(node: yaml.Node, location: Location) -> Iterator[tuple[Location, yaml.Node, bool]]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            yield (*location, key), key_node, key in seen
            seen.add(key)
            yield from _walk(value_node, (*location, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield (*location, index), item, False
            yield from _walk(item, (*location, index))


def field_name(location: Location) -> str:
    """``space[0].bounds`` for the location ``("space", 0, "bounds")``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
