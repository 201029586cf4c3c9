"""What the CSV files a campaign names have in common: where they lie, their digest, how
they are read and how their problems are reported.

Candidate pools, descriptor tables and prior data are all read with the csv module, so
validating a campaign never imports pandas or torch.
"""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from tansaku.documents import Location
from tansaku.errors import InputError

MAX_LISTED = 5
"""Problems (bad lines, missing values) named in one message; the rest are counted."""


class CampaignFileError(InputError, ValueError):
    """A file that cannot be used; ``problems`` are ``(location, message)`` pairs, the
    location relative to the campaign key that names the file."""

    def __init__(self, problems: list[tuple[Location, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(message for _, message in problems))


class CampaignFile(BaseModel):
    """A file named in the campaign by ``path``, relative to the campaign file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path

    def resolved(self, base_dir: Path) -> Path:
        return self.path if self.path.is_absolute() else base_dir / self.path

    def digest(self, base_dir: Path) -> str:
        """SHA-256 of the file: a resumed campaign must work from the same contents."""
        return hashlib.sha256(self.resolved(base_dir).read_bytes()).hexdigest()

    def rows(self, base_dir: Path) -> list[list[str]]:
        """Every row of the CSV, header first (a leading byte-order mark is dropped)."""
        path = self.resolved(base_dir)
        try:
            with open(path, newline="", encoding="utf-8-sig") as stream:
                return list(csv.reader(stream))
        except (OSError, UnicodeDecodeError) as error:
            raise CampaignFileError([(("path",), f"cannot read {path}: {error}")]) from None


def finite_number(cell: str) -> float | None:
    """The cell as a finite number, or ``None``."""
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def listed(items: list[str], separator: str = ", ") -> str:
    """The first few ``items`` joined, and how many more there are."""
    more = len(items) - MAX_LISTED
    return separator.join(items[:MAX_LISTED]) + (f" (and {more} more)" if more > 0 else "")
