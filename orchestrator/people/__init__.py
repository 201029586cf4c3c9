"""People in the loop: results entered by hand, experiments asked for and told, approvals.

Everything here writes through the ledger in short transactions, so a person can tell a
result from another shell while ``tansaku run`` waits, or work over days without one.
"""
