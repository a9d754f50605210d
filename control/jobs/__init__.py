"""Long work as jobs: queued in SQLite, run one at a time by a runner thread, with progress.

``store`` reads and writes the ``jobs`` table (any process may: the CLI queues and
watches jobs through it); ``runner`` runs them in the control plane; ``kinds`` says what
each kind of job does, one small step at a time.
"""
