"""Timezone and language of a tenant, in each vendor's own notation (docs/models.md).

Offsets and daylight-saving rules come from the IANA database through ``zoneinfo``: the
year's transitions are found by scanning the zone, then written as the recurring
"month, nth weekday, local time" rule every vendor takes. Nothing here lists zones.
Languages are a documented set of names (``LANGUAGES``) mapped to each vendor's codes; a
language a vendor has no code for renders English, and ``language_for`` says so.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


@dataclass(frozen=True, slots=True)
class Change:
    """A daylight-saving change: local wall time just before it, as a recurring rule."""

    month: int
    week: int  # 1-4: the nth such weekday of the month; 5: the last
    weekday: int  # 0 Monday ... 6 Sunday (Python's numbering)
    seconds: int  # local time of day before the change, seconds after midnight

    def day(self, year: int) -> int:
        """The day of the month this rule falls on in ``year``."""
        first = (self.weekday - calendar.weekday(year, self.month, 1)) % 7 + 1
        last = calendar.monthrange(year, self.month)[1]
        if self.week == 5:
            return first + 7 * ((last - first) // 7)
        return first + 7 * (self.week - 1)


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    std_offset: int  # seconds east of UTC
    std_abbr: str
    dst_offset: int | None = None  # None: no daylight saving
    dst_abbr: str = ""
    start: Change | None = None  # into daylight saving
    end: Change | None = None  # back to standard time

    @property
    def save(self) -> int:
        return 0 if self.dst_offset is None else self.dst_offset - self.std_offset


def is_zone(name: str) -> bool:
    return name in _zone_names()


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _transitions(tz: ZoneInfo, year: int) -> list[tuple[datetime, int, int]]:
    """(instant, offset before, offset after) of every offset change in ``year``, in UTC."""

    def offset(at: datetime) -> int:
        return int(at.astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]

    found = []
    t = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    step = timedelta(hours=6)
    while t < end:
        before, after = offset(t), offset(t + step)
        if before != after:
            lo, hi = t, t + step  # offset(lo) == before, offset(hi) == after
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if offset(mid) == before else (lo, mid)
            found.append((hi.replace(microsecond=0), before, after))
        t += step
    return found


def _change(instant: datetime, offset_before: int) -> Change:
    local = instant + timedelta(seconds=offset_before)
    last = calendar.monthrange(local.year, local.month)[1]
    week = 5 if local.day + 7 > last else (local.day - 1) // 7 + 1
    seconds = local.hour * 3600 + local.minute * 60 + local.second
    return Change(local.month, week, local.weekday(), seconds)


@lru_cache(maxsize=1024)
def zone(name: str, year: int | None = None) -> Zone:
    """The rules of IANA zone ``name`` in ``year`` (default: this year); unknown: UTC."""
    year = year or datetime.now(UTC).year
    try:
        tz = ZoneInfo(name) if is_zone(name) else ZoneInfo("UTC")
    except ZoneInfoNotFoundError:  # pragma: no cover - listed but unreadable
        tz = ZoneInfo("UTC")
    changes = _transitions(tz, year)
    offsets = {after for _, _, after in changes}
    if len(changes) != 2 or len(offsets) != 2:
        # No daylight saving (or a zone that changed its base offset this year): the
        # offset in force at the end of the year.
        at = datetime(year, 12, 31, 12, tzinfo=UTC).astimezone(tz)
        return Zone(name, int(at.utcoffset().total_seconds()), at.tzname() or "")  # type: ignore[union-attr]
    # The larger offset is daylight saving (Europe/Dublin's negative DST included).
    std, dst = min(offsets), max(offsets)
    (start_at, _, _), (end_at, _, _) = sorted(
        changes, key=lambda change: change[2] == std
    )  # the change into dst first
    abbr = {
        after: (instant + timedelta(seconds=1)).astimezone(tz).tzname() or ""
        for instant, _, after in changes
    }
    return Zone(
        name,
        std,
        abbr[std],
        dst,
        abbr[dst],
        _change(start_at, std),
        _change(end_at, dst),
    )


# ---- offsets and rules in vendor notations ----------------------------------------------
def _hm(seconds: int, sign: bool = True, pad: bool = True, colon_zero: bool = True) -> str:
    """``+01:00`` (pad), ``+1`` / ``+5:30`` (no pad, no colon_zero)."""
    mark = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    text = f"{hours:02d}:{minutes:02d}" if pad else str(hours)
    if not pad and (minutes or colon_zero):
        text += f":{minutes:02d}"
    return (mark if sign else "") + text


def _hms(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def _posix_abbr(abbr: str) -> str:
    return abbr if abbr.isalpha() and len(abbr) >= 3 else f"<{abbr}>"


def _posix_offset(seconds: int) -> str:
    # POSIX counts hours west of UTC: CET (UTC+1) is "-1".
    text = _hm(-seconds, pad=False, colon_zero=False)
    return text.removeprefix("+")


def _posix_change(change: Change) -> str:
    weekday = (change.weekday + 1) % 7  # POSIX: 0 Sunday
    return f"M{change.month}.{change.week}.{weekday}/{_hms(change.seconds)}"


def posix_tz(z: Zone) -> str:
    """The POSIX TZ string, e.g. ``CET-1CEST-2,M3.5.0/02:00:00,M10.5.0/03:00:00``."""
    text = _posix_abbr(z.std_abbr) + _posix_offset(z.std_offset)
    if z.start is None or z.end is None or z.dst_offset is None:
        return text
    return (
        text
        + _posix_abbr(z.dst_abbr)
        + _posix_offset(z.dst_offset)
        + f",{_posix_change(z.start)},{_posix_change(z.end)}"
    )


def _monday1(change: Change) -> int:
    return change.weekday + 1  # 1 Monday ... 7 Sunday


def _sunday1(change: Change) -> int:
    return (change.weekday + 1) % 7 + 1  # 1 Sunday ... 7 Saturday


def _yealink(z: Zone, true: str, false: str) -> dict[str, str]:
    def rule(c: Change) -> str:  # month/week/weekday/hour, week 5 the last
        return f"{c.month}/{c.week}/{_monday1(c)}/{c.seconds // 3600}"

    return {
        "offset": _hm(z.std_offset, pad=False, colon_zero=False),
        "name": z.name,
        "dst": true if z.start else false,
        "dst_type": "1",
        "start": rule(z.start) if z.start else "",
        "end": rule(z.end) if z.end else "",
        "save_minutes": str(z.save // 60),
    }


def _polycom(z: Zone, true: str, false: str) -> dict[str, str]:
    values = {"offset": str(z.std_offset), "dst": true if z.start else false}
    for key, c in (("start", z.start), ("stop", z.end)):
        c = c or Change(1, 1, 6, 0)
        values.update(
            {
                f"{key}_month": str(c.month),
                # the nth weekday on or after this date; ignored for the last one
                f"{key}_date": str(1 if c.week == 5 else 7 * (c.week - 1) + 1),
                f"{key}_weekday": str(_sunday1(c)),
                f"{key}_last": true if c.week == 5 else false,
                f"{key}_hour": str(c.seconds // 3600),
            }
        )
    return values


def _cisco(z: Zone, true: str, false: str) -> dict[str, str]:
    def rule(c: Change) -> str:  # month/day/weekday/time: the weekday on or after day; -1 last
        day = -1 if c.week == 5 else 7 * (c.week - 1) + 1
        return f"{c.month}/{day}/{_monday1(c)}/{_hms(c.seconds)}"

    dst_rule = ""
    if z.start and z.end:
        dst_rule = f"start={rule(z.start)};end={rule(z.end)};save={_hms(z.save)}"
    return {
        "offset": "GMT" + _hm(z.std_offset),
        "dst": true if z.start else false,
        "rule": dst_rule,
    }


def _grandstream(z: Zone, true: str, false: str) -> dict[str, str]:
    return {"posix": posix_tz(z)}


def _snom(z: Zone, true: str, false: str) -> dict[str, str]:
    def rule(c: Change) -> str:  # MM.WW.DD HH:MM:SS, weekday 1 Monday
        return f"{c.month:02d}.{c.week:02d}.{_monday1(c):02d} {_hms(c.seconds)}"

    dst = f"{z.save} {rule(z.start)} {rule(z.end)}" if z.start and z.end else ""
    return {"offset": f"{z.std_offset:+d}", "dst": dst}


def _fanvil(z: Zone, true: str, false: str) -> dict[str, str]:
    return {
        "offset": str(z.std_offset // 900),  # quarter hours
        "name": "UTC" + _hm(z.std_offset, pad=False, colon_zero=False),
    }


TZ_NOTATIONS: Mapping[str, Callable[[Zone, str, str], dict[str, str]]] = MappingProxyType(
    {
        "yealink": _yealink,
        "polycom": _polycom,
        "cisco-spa": _cisco,
        "cisco-mpp": _cisco,
        "grandstream": _grandstream,
        "snom": _snom,
        "fanvil": _fanvil,
    }
)


def tz_names(vendor: str) -> tuple[str, ...]:
    """The ``tz.*`` names a vendor's templates may use."""
    return tuple(f"tz.{key}" for key in TZ_NOTATIONS[vendor](zone("UTC", 2000), "1", "0"))


def tz_values(vendor: str, name: str, true: str, false: str) -> dict[str, str]:
    z = zone(name, datetime.now(UTC).year)  # the year keys the cache: a new year, new rules
    return {f"tz.{k}": v for k, v in TZ_NOTATIONS[vendor](z, true, false).items()}


# ---- languages --------------------------------------------------------------------------
LANGUAGES = ("English", "German", "French", "Spanish", "Italian", "Dutch", "Portuguese")
DEFAULT_LANGUAGE = "English"

# language -> (code, second code): the vendor's setting values (docs/models.md, with
# sources); a language a vendor's sources do not name is left out, so it falls back.
_CODES: Mapping[str, Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        # lang.gui / lang.wui; custom.handset.language (W52P)
        "yealink": {
            "English": ("English", "0"),
            "French": ("French", "1"),
            "German": ("German", "2"),
            "Spanish": ("Spanish", "6"),
        },
        # lcl.ml.lang
        "polycom": {
            "English": ("English_United_States", ""),
            "German": ("German_Germany", ""),
            "French": ("French_France", ""),
            "Spanish": ("Spanish_Spain", ""),
            "Italian": ("Italian_Italy", ""),
            "Dutch": ("Dutch_Netherlands", ""),
            "Portuguese": ("Portuguese_Portugal", ""),
        },
        # Language_Selection (SPA); Locale
        "cisco": {
            "English": ("English", "en-US"),
            "German": ("German", "de-DE"),
            "French": ("French", "fr-FR"),
            "Spanish": ("Spanish", "es-ES"),
            "Italian": ("Italian", "it-IT"),
            "Dutch": ("Dutch", "nl-NL"),
            "Portuguese": ("Portuguese", "pt-PT"),
        },
        # P1362
        "grandstream": {
            "English": ("en", ""),
            "German": ("de", ""),
            "French": ("fr", ""),
            "Spanish": ("es", ""),
            "Italian": ("it", ""),
            "Dutch": ("nl", ""),
            "Portuguese": ("pt", ""),
        },
        # language / web_language
        "snom": {
            "English": ("English", "English"),
            "German": ("Deutsch", "Deutsch"),
            "French": ("Francais", "Francais"),
            "Spanish": ("Espanol", "Espanol"),
            "Italian": ("Italiano", "Italiano"),
            "Dutch": ("Dutch", "Dutch"),
        },
        # DefaultLanguage
        "fanvil": {
            "English": ("en", ""),
            "German": ("de", ""),
            "French": ("fr", ""),
            "Spanish": ("es", ""),
            "Italian": ("it", ""),
        },
    }
)


def _family(vendor: str) -> str:
    return "cisco" if vendor.startswith("cisco") else vendor


@dataclass(frozen=True, slots=True)
class Language:
    name: str  # the language the phone gets
    code: str
    code2: str
    fallback: bool  # the tenant's language is not one this vendor has


def language_for(vendor: str, language: str) -> Language:
    codes = _CODES[_family(vendor)]
    if language in codes:
        return Language(language, *codes[language], fallback=False)
    return Language(DEFAULT_LANGUAGE, *codes[DEFAULT_LANGUAGE], fallback=True)


LANG_NAMES = ("lang.name", "lang.code", "lang.code2")


def lang_values(vendor: str, language: str) -> dict[str, str]:
    lang = language_for(vendor, language)
    return dict(zip(LANG_NAMES, (lang.name, lang.code, lang.code2), strict=True))
