from typing import TypeAlias

Head: TypeAlias = tuple[str, str, bool, bool, bytes | None, bytes | None, bytes | None, int]

def parse_head(data: bytes, start: int, limit: int) -> Head | None: ...
