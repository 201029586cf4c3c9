"""tansaku's one family of errors, in the lowest room: every room raises these.

Every condition a user can cause or fix is a :class:`TansakuError` whose message is one
sentence saying what happened and what to do next. Each class carries the exit status
the ``tansaku`` command ends with, so the command maps errors to exit codes in one
place (``except TansakuError``) and a new error needs no new ``except`` clause.
"""

from typing import ClassVar

FAILED = 1
"""Exit status of a run that started and could not go on (instrument, server, full disk)."""
REFUSED = 2
"""Exit status of a command refused before it acted: bad input, a busy or foreign run."""


class TansakuError(Exception):
    """Base of the family; catch it to handle anything tansaku reports to a user."""

    exit_code: ClassVar[int] = FAILED


class InputError(TansakuError):
    """A campaign, protocol or other input file, or an option, that cannot be used."""

    exit_code = REFUSED


class RunDirectoryError(TansakuError):
    """The run directory or its ledger refuses the command: busy, foreign, unreadable."""

    exit_code = REFUSED


class InstrumentError(TansakuError):
    """The instrument could not run the experiment (timeout, garbage, disconnect).

    The flow retries the measurement as the campaign's ``driver.retries`` allows.
    """


class PrefectError(TansakuError):
    """The Prefect server could not be started or stopped answering."""
