"""Which boot-time file a phone asked for: a per-device (MAC-named) file or a common one.

The edge looks blobs up by ``store.blob_key`` whatever the answer; this classification
is what per-MAC policies (scan detection, User-Agent MAC check, fetch counters) hang on.
A background image (``bg/<hash>-<W>x<H>.<ext>``) is a tenant's file like a common one:
it counts into no device's provision counter and no provision limit stops it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# Yealink's common files y0000000000XX.{cfg,boot} end in 12 hex digits without being MACs,
# as do Polycom's 000000000000*.cfg defaults; everything else with a bare 12-hex run is
# some vendor's per-device name: 001565aabbcc.cfg, cfg000b82aabbcc.xml, SEP..., snomD785-000413AABBCC.htm.
_COMMON = re.compile(r"^(y0000000000[0-9a-f]{2}\.(cfg|boot)|0{12}(-[a-z]+)?\.(cfg|xml))$")
_MAC_RUN = re.compile(r"(?<![0-9a-f])([0-9a-f]{12})(?![0-9a-f])")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$")
# A tenant's background image, scaled for one screen size (control/domain/backgrounds.py
# names them): the one file name with a directory, and a tenant's file, never a MAC's.
_BACKGROUND = re.compile(r"^bg/[0-9a-f]{16}-[0-9]{1,4}x[0-9]{1,4}\.(png|jpg|bmp)$")


@dataclass(frozen=True, slots=True)
class FileRef:
    name: str  # lowercased: the form keys are built from
    mac: str | None  # 12 lowercase hex for per-device files, None for common files


# Every phone asks for the same few names again on each boot: remembered, bounded (about
# 200 bytes an entry), so the two regular expressions run once per name, not per fetch.
@functools.lru_cache(maxsize=1 << 16)
def classify(file_name: str) -> FileRef | None:
    """Classify a requested file name; None when it cannot be a boot file at all."""
    name = file_name.lower()
    if _BACKGROUND.match(name):
        return FileRef(name, None)
    if not _SAFE_NAME.match(file_name):
        return None
    if _COMMON.match(name):
        return FileRef(name, None)
    match = _MAC_RUN.search(name)
    return FileRef(name, match.group(1) if match else None)
