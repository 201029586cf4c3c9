"""One module per version of the ledger's schema, oldest first."""
