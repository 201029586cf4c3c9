"""The campaign ledger (SQLite in the run directory) and the run directory's lock."""

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
)
from tansaku.ledger.lock import (
    RunDirectoryBusyError,
    RunDirectoryLock,
    RunDirectoryUnwritableError,
    is_held,
)

__all__ = [
    "LEDGER_FILE",
    "CampaignRecord",
    "ExperimentRecord",
    "ExperimentStateError",
    "Ledger",
    "LedgerChangedError",
    "LedgerMismatchError",
    "LedgerMissingError",
    "LedgerUnreadableError",
    "LedgerWriteError",
    "PriorRecord",
    "RevisionRecord",
    "RunDirectoryBusyError",
    "RunDirectoryLock",
    "RunDirectoryUnwritableError",
    "Version",
    "is_held",
]
