"""The campaign ledger (SQLite in the run directory) and the run directory's lock."""

from orchestrator.ledger.ledger import (
    LEDGER_FILE,
    CampaignRecord,
    ExperimentRecord,
    Ledger,
    LedgerMismatchError,
    LedgerUnreadableError,
    LedgerWriteError,
    PriorRecord,
)
from orchestrator.ledger.lock import (
    RunDirectoryBusyError,
    RunDirectoryLock,
    RunDirectoryUnwritableError,
    is_held,
)

__all__ = [
    "LEDGER_FILE",
    "CampaignRecord",
    "ExperimentRecord",
    "Ledger",
    "LedgerMismatchError",
    "LedgerUnreadableError",
    "LedgerWriteError",
    "PriorRecord",
    "RunDirectoryBusyError",
    "RunDirectoryLock",
    "RunDirectoryUnwritableError",
    "is_held",
]
