# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled SIP message parser; same API and results as ``edge._sipparse_py``.

The twin is the reference: every function here mirrors the one of the same name there
(same steps, same error reasons and offsets), so a property test can demand identical
results. Input is read through a ``const unsigned char*`` cursor into the caller's bytes
object (no copy); the scan records header spans in a C array and Python objects are only
built when a field is read.

This file only gathers the module: the shared declarations are in ``_sipparse.pxd``, the
code in one include file per topic, in the order they build on each other (the twin's
package ``edge/_sipparse_py/`` has a module of the same name for each). Public C API and
documented Cython features only (docs/sipparse.md; tests/test_sipparse_layout.py checks).
"""

cimport cython

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.unicode cimport PyUnicode_1BYTE_DATA, PyUnicode_DecodeUTF8, PyUnicode_New
from libc.stdlib cimport free, malloc
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy, memset

from edge.sipdefs import (
    HEADER_IDS,
    HEADER_IS_LIST,
    MAX_HEADER_LENGTH,
    MAX_HEADERS,
    MAX_MESSAGE_SIZE,
    SipParseError,
)

__all__ = [
    "Address", "Auth", "CSeq", "Event", "Message", "SipParseError", "StreamParser", "Uri",
    "Via", "parse",
]

include "_sipparse_scanner.pxi"  # character classes, name tables, text, quoted strings, lists
include "_sipparse_params.pxi"  # ;name=value parameters and auth-params
include "_sipparse_uri.pxi"  # Uri, Address
include "_sipparse_via.pxi"  # Via
include "_sipparse_credentials.pxi"  # Auth
include "_sipparse_message.pxi"  # the scan, Message, CSeq, Event, parse, StreamParser
