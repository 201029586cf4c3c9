"""The campaign ledger (SQLite in the run directory, or a shared PostgreSQL database) and
the locks that keep one runner per campaign."""

from tansaku.database_url import masked
from tansaku.ledger.ledger import (
    LEDGER_FILE,
    CampaignRecord,
    ExperimentRecord,
    ExperimentStateError,
    Ledger,
    LedgerChangedError,
    LedgerMismatchError,
    LedgerMissingError,
    LedgerUnreadableError,
    LedgerWriteError,
    PriorRecord,
    RevisionRecord,
    Version,
    check_ledger_url,
)
from tansaku.ledger.location import (
    LEDGER_VARIABLE,
    LedgerPointerError,
    LedgerUnreachableError,
    LedgerUrlError,
)
from tansaku.ledger.lock import (
    RunDirectoryBusyError,
    RunDirectoryLock,
    RunDirectoryUnwritableError,
    is_held,
)
from tansaku.ledger.migrations import LedgerTooNewError
from tansaku.ledger.postgres import CampaignBusyError

__all__ = [
    "LEDGER_FILE",
    "LEDGER_VARIABLE",
    "CampaignBusyError",
    "CampaignRecord",
    "ExperimentRecord",
    "ExperimentStateError",
    "Ledger",
    "LedgerChangedError",
    "LedgerMismatchError",
    "LedgerMissingError",
    "LedgerPointerError",
    "LedgerTooNewError",
    "LedgerUnreachableError",
    "LedgerUnreadableError",
    "LedgerUrlError",
    "LedgerWriteError",
    "PriorRecord",
    "RevisionRecord",
    "RunDirectoryBusyError",
    "RunDirectoryLock",
    "RunDirectoryUnwritableError",
    "Version",
    "check_ledger_url",
    "is_held",
    "masked",
]
