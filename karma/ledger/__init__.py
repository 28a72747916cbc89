"""The ledger: every change of karma, as rows that say who made it and why (karma/models.py).

writes.py applies chat messages' versions to it (the hot path, raw SQL); reads.py answers what the
commands and the public pages ask.
"""
