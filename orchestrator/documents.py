"""YAML files people write (campaigns, instrument protocols), read safely and placed.

Every problem found in such a file is reported with its file, line, column and field,
so this module keeps the line and column of each key and list item as the file is read.
It is the lowest room: campaign loading and the drivers' own files both use it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from tansaku.errors import InputError

MAX_DEPTH = 100
"""Sections nested in sections, at most; a campaign nests about six deep."""
MAX_NODES = 50_000
"""Keys, values and list items a document may hold, every alias counted at each use.

A campaign has hundreds, a few thousand with long value lists; the limit stops a few
lines of aliases ("billion laughs") from expanding to billions of values in the code
that walks and validates the document, and bounds how long a large file is read.
"""

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


class DocumentError(InputError):
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
        loader: _BoundedLoader | None = None
        try:
            loader = _BoundedLoader(text)
            root = loader.get_single_node()
            data = None if root is None else loader.construct_document(root)
        except _TooLarge as error:
            line, column = error.mark.line + 1, error.mark.column + 1
            raise DocumentError([Problem(path, line, column, "", error.message)]) from None
        except yaml.reader.ReaderError as error:
            line, column = _position(text, error.position)
            raise DocumentError(
                [
                    Problem(
                        path,
                        line,
                        column,
                        "",
                        f"invalid YAML: character #x{error.character:04x} is not allowed in "
                        "YAML; remove it (or check that this is the text file you meant)",
                    )
                ]
            ) from None
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
            if loader is not None:
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


class _TooLarge(Exception):
    """A document too deep or too large to use, found while it is composed."""

    def __init__(self, mark: yaml.Mark, message: str) -> None:
        self.mark = mark
        self.message = message
        super().__init__(message)


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader, refusing documents nested past :data:`MAX_DEPTH` or holding more
    than :data:`MAX_NODES` values once aliases are expanded.

    Both are counted while the document is composed, before anything recursive (PyYAML's
    own composer, :func:`_walk`, pydantic) sees it, and each alias costs the size of what
    it refers to, so that the count is the work those walks will do.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._count = 0
        self._sizes: dict[yaml.Node, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            anchored = self.anchors.get(event.anchor)
            if anchored is not None:  # an undefined alias is PyYAML's to report
                if anchored not in self._sizes:
                    raise _TooLarge(
                        event.start_mark,
                        f"the alias *{event.anchor} sits inside the section it names, which "
                        "would make it endless; copy the values instead",
                    )
                self._add(self._sizes[anchored], event.start_mark)
            return super().compose_node(parent, index)
        if self._depth == MAX_DEPTH:
            raise _TooLarge(
                event.start_mark,
                f"the document is nested more than {MAX_DEPTH} levels deep; "
                "flatten the lists and sections",
            )
        before = self._count
        self._add(1, event.start_mark)
        self._depth += 1
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._sizes[node] = self._count - before
        return node

    def _add(self, size: int, mark: yaml.Mark) -> None:
        self._count += size
        if self._count > MAX_NODES:
            raise _TooLarge(
                mark,
                f"the document holds more than {MAX_NODES} values (an alias counts each "
                "time it is used); keep long tables in separate CSV files",
            )

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except ValueError as error:
            # PyYAML's own checks raise these without a place: 2026-02-30 as a timestamp,
            # an integer of thousands of digits.
            kind = node.tag.rsplit(":", 1)[-1]
            written = str(node.value)
            shown = written if len(written) <= 40 else f"{written[:37]}..."
            reason = str(error).split(";")[0]
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{shown!r} is not a valid {kind} ({reason}); correct it, or quote it to mean text",
                node.start_mark,
            ) from None


def _position(text: str, index: int) -> tuple[int, int]:
    """Line and column, from 1, of character ``index`` of ``text``."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


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


class FileTooLargeError(InputError):
    """A file past the size its reader accepts; it was not read whole."""


def read_text(path: Path, max_bytes: int) -> str:
    """``path`` decoded as UTF-8, newlines translated as ``Path.read_text`` would.

    At most one byte past ``max_bytes`` is read, so a huge file (or ``/dev/zero``) is
    never read whole: :class:`FileTooLargeError` then. ``OSError`` and
    ``UnicodeDecodeError`` pass through for the caller to word.
    """
    with path.open("rb") as stream:
        raw = stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise FileTooLargeError(f"{path} is larger than {max_bytes} bytes")
    return io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8").read()


BOOLEAN_AS_NUMBER = (
    "this is read as true or false (as YAML reads yes/no and on/off too), not as a number; "
    "write a number, or quote the word to mean text"
)


def booleans_taken_as_values(
    raw: object, value: object, location: Location = ()
) -> Iterator[Location]:
    """Where a true or false in the file became something else in the validated ``value``.

    Pydantic takes ``true`` for 1 wherever a number goes, so a file's ``yes`` would pass as
    a number; each place it happened is yielded, for a :data:`BOOLEAN_AS_NUMBER` problem.
    """
    if isinstance(raw, bool):
        if not isinstance(value, bool):
            yield location
    elif isinstance(raw, dict) and isinstance(value, BaseModel):
        for name in type(value).model_fields:
            if name in raw:
                yield from booleans_taken_as_values(
                    raw[name], getattr(value, name), (*location, name)
                )
    elif isinstance(raw, dict) and isinstance(value, dict):
        for key, item in raw.items():
            if key in value:
                yield from booleans_taken_as_values(item, value[key], (*location, key))
    elif isinstance(raw, list) and isinstance(value, list | tuple):
        for index, (item, validated) in enumerate(zip(raw, value, strict=False)):
            yield from booleans_taken_as_values(item, validated, (*location, index))
