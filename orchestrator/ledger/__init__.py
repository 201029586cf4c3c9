"""The campaign ledger (SQLite in the run directory) and the run directory's lock."""

from orchestrator.ledger.ledger import (
    LEDGER_FILE,
    CampaignRecord,
    ExperimentRecord,
    Ledger,
    LedgerMismatchError,
    PriorRecord,
)
from orchestrator.ledger.lock import RunDirectoryBusyError, RunDirectoryLock, is_held

__all__ = [
    "LEDGER_FILE",
    "CampaignRecord",
    "ExperimentRecord",
    "Ledger",
    "LedgerMismatchError",
    "PriorRecord",
    "RunDirectoryBusyError",
    "RunDirectoryLock",
    "is_held",
]
