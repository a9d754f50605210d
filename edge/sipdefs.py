"""What both SIP parsers share: the error type, size limits and header-name tables.

Plain Python on purpose (house style): ``edge._sipparse`` (Cython) and its twin
``edge._sipparse_py`` import this module, so one error class and one table of header
names decide behaviour for both implementations.
"""

from __future__ import annotations

# Size limits refuse oversize input early (before any structured parsing).
MAX_MESSAGE_SIZE = 65535  # bytes of one message: the largest UDP datagram
MAX_HEADERS = 128  # header lines in one message
MAX_HEADER_LENGTH = 8192  # bytes of one logical header line (folds included), and of the start line

# Standard reason phrases for the statuses this package raises or builders commonly send.
REASON_PHRASES: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    423: "Interval Too Brief",
    481: "Call/Transaction Does Not Exist",
    483: "Too Many Hops",
    489: "Bad Event",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "Version Not Supported",
    513: "Message Too Large",
}


class SipParseError(ValueError):
    """A SIP message (or one of its fields) is malformed or unacceptable.

    ``status`` is the SIP status a server should answer (400, 505, 513, 416, 420, ...),
    ``reason`` says what was wrong, ``offset`` is the byte offset in the message buffer
    where it was found (0 when the problem is not tied to one place, e.g. a missing header).
    """

    status: int
    reason: str
    offset: int

    def __init__(self, status: int, reason: str, offset: int) -> None:
        super().__init__(status, reason, offset)
        self.status = status
        self.reason = reason
        self.offset = offset

    @property
    def phrase(self) -> str:
        """The standard reason phrase of ``status`` (for the response line)."""
        return REASON_PHRASES.get(self.status, "Bad Request")

    def __str__(self) -> str:
        return f"{self.status} {self.reason} (at offset {self.offset})"


# Header ids. Index in HEADER_NAMES is the id; 0 is "unknown header".
# Both implementations map a header name (long or compact, any case) to one of these ids.
HEADER_NAMES: tuple[str, ...] = (
    "",
    "Via",
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Contact",
    "Max-Forwards",
    "Expires",
    "Content-Length",
    "Content-Type",
    "Event",
    "Accept",
    "User-Agent",
    "Supported",
    "Require",
    "Proxy-Require",
    "Authorization",
    "WWW-Authenticate",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Route",
    "Record-Route",
    "Allow",
    "Allow-Events",
    "Subject",
    "Content-Encoding",
    "Refer-To",
    "Referred-By",
    "Session-Expires",
    "Accept-Contact",
    "Reject-Contact",
    "Request-Disposition",
    "Identity",
    "Identity-Info",
    "Unsupported",
    "Accept-Encoding",
    "Accept-Language",
    "Content-Language",
    "Warning",
    "Path",
    "Service-Route",
    "Subscription-State",
    "Server",
    "Date",
    "Min-Expires",
    "Retry-After",
    "Alert-Info",
    "Call-Info",
    "Error-Info",
    "In-Reply-To",
    "Content-Disposition",
)

H_VIA, H_FROM, H_TO, H_CALL_ID, H_CSEQ, H_CONTACT = 1, 2, 3, 4, 5, 6
H_MAX_FORWARDS, H_EXPIRES, H_CONTENT_LENGTH, H_CONTENT_TYPE, H_EVENT = 7, 8, 9, 10, 11
H_AUTHORIZATION = 17

# RFC 3261 section 7.3.3 compact forms, plus those of later RFCs (3515, 3892, 4028, 3841, 4474).
COMPACT_FORMS: dict[str, str] = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "o": "Event",
    "u": "Allow-Events",
    "r": "Refer-To",
    "b": "Referred-By",
    "x": "Session-Expires",
    "a": "Accept-Contact",
    "j": "Reject-Contact",
    "d": "Request-Disposition",
    "y": "Identity",
    "n": "Identity-Info",
}


def _header_ids() -> dict[bytes, int]:
    ids = {name.lower().encode("ascii"): i for i, name in enumerate(HEADER_NAMES) if i}
    for short, long in COMPACT_FORMS.items():
        ids[short.encode("ascii")] = HEADER_NAMES.index(long)
    return ids


# Lower-cased header name (bytes) -> id.
HEADER_IDS: dict[bytes, int] = _header_ids()

# Headers whose grammar is a comma-separated list: header_values() splits these (outside
# quoted strings and <>). Others (Date, User-Agent, Authorization, unknown headers) are
# returned one value per header line, because a comma there is not a separator.
LIST_HEADER_IDS: frozenset[int] = frozenset(
    HEADER_NAMES.index(name)
    for name in (
        "Via",
        "Contact",
        "Route",
        "Record-Route",
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Allow",
        "Allow-Events",
        "Supported",
        "Require",
        "Proxy-Require",
        "Unsupported",
        "Content-Encoding",
        "Content-Language",
        "Accept-Contact",
        "Reject-Contact",
        "Request-Disposition",
        "Warning",
        "Path",
        "Service-Route",
        "Alert-Info",
        "Call-Info",
        "Error-Info",
        "In-Reply-To",
    )
)

# Flags per header id for the C implementation (a tuple is cheap to copy into a C array).
HEADER_IS_LIST: tuple[bool, ...] = tuple(i in LIST_HEADER_IDS for i in range(len(HEADER_NAMES)))

# Every structured Message field of the public API, in one place: the fuzz target and the
# twin-agreement tests read all of them.
MESSAGE_FIELDS = (
    "is_request",
    "method",
    "uri",
    "status",
    "reason",
    "version",
    "via",
    "from_",
    "to",
    "contacts",
    "contact_star",
    "call_id",
    "cseq",
    "max_forwards",
    "expires",
    "content_length",
    "body",
    "event",
    "authorization",
    "headers",
)
