"""The bytes control/ and edge/ agree on: LMDB layout and blob format, edge-state layout,
MAC notation. Both sides import this package; it imports neither of them."""
