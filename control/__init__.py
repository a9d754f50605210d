"""The control plane: source of truth in SQLite, compiler and LMDB publisher."""
