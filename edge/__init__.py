"""The provisioning edge: serves published config blobs and speaks SIP.

Nothing here imports from control/; data reaches the edge through LMDB only.
"""
