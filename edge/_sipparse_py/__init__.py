"""Pure-Python twin of ``edge._sipparse``: the reference SIP message parser.

Both implementations run the same algorithm step for step (a cursor over the message
bytes, the same error reasons and offsets), so that a property test can demand identical
results. Keep them in lock-step: a change here is a change in the compiled parser, whose
topic files (``edge/_sipparse_<topic>.pxi``) match this package's modules one to one:

- ``scanner``: character classes, text, numbers, quoted strings, list elements, header ids
- ``params``: ``;name=value`` header parameters and their numeric values
- ``uri``: ``Uri`` and ``Address`` (From, To, Contact)
- ``via``: ``Via``
- ``credentials``: ``Auth`` (Authorization, WWW-Authenticate, ...)
- ``message``: the scan, ``Message``, ``CSeq``, ``Event``, ``parse``, ``StreamParser``

Parsing has two phases. ``parse`` scans the start line and header lines once and records
where each header's name and value lie; structured fields (Via, From, Contact, ...) are
parsed from those spans on first access and cached. Text is decoded as UTF-8 with
``surrogateescape`` so every byte survives a round trip.
"""

from __future__ import annotations

from edge._sipparse_py.credentials import Auth
from edge._sipparse_py.message import CSeq, Event, Message, StreamParser, parse
from edge._sipparse_py.uri import Address, Uri
from edge._sipparse_py.via import Via
from edge.sipdefs import SipParseError

__all__ = [
    "Address",
    "Auth",
    "CSeq",
    "Event",
    "Message",
    "SipParseError",
    "StreamParser",
    "Uri",
    "Via",
    "parse",
]

# The public names keep ``edge._sipparse_py`` as their home, as before the split (reprs,
# pickles and ``parse.__module__`` do not depend on which topic module defines them).
for _obj in (Address, Auth, CSeq, Event, Message, StreamParser, Uri, Via, parse):
    _obj.__module__ = __name__
del _obj
