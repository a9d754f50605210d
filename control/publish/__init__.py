"""From truth to bytes: the template engines, the compiler and the one path into LMDB."""
