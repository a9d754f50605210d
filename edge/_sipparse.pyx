# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled SIP message parser; same API and results as ``edge._sipparse_py``.

The twin is the reference: every function here mirrors the one of the same name there
(same steps, same error reasons and offsets), so a property test can demand identical
results. Input is read through a ``const unsigned char*`` cursor into the caller's bytes
object (no copy); the scan records header spans in a C array and Python objects are only
built when a field is read.
"""

cimport cython

import sys
from cpython.dict cimport PyDict_Copy
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.object cimport (
    PyCFunction, PyMethodDef, PyObject, PyObject_GenericGetAttr, PyTypeObject,
)
from cpython.ref cimport Py_INCREF, Py_XDECREF
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

ctypedef const unsigned char* cbuf

cdef enum:
    C_TOKEN = 1
    C_SCHEME = 2
    C_HOST = 4
    C_IPV6 = 8
    C_PVALUE = 16
    C_LWS = 32
    C_HEX = 64
    C_ALPHA = 128
    C_DIGIT = 256
    C_URI_BAD = 512

cdef extern from *:
    """
    #define SIP_HASH_SIZE 256  /* slots of each name table; a power of two */
    """
    enum: SIP_HASH_SIZE

cdef enum:
    H_VIA = 1
    H_FROM = 2
    H_TO = 3
    H_CALL_ID = 4
    H_CSEQ = 5
    H_CONTACT = 6
    H_MAX_FORWARDS = 7
    H_EXPIRES = 8
    H_CONTENT_LENGTH = 9
    H_EVENT = 11
    H_AUTHORIZATION = 17
    N_HEADER_IDS = 64

cdef enum:
    HAVE_URI = 1
    HAVE_VIA = 2
    HAVE_FROM = 4
    HAVE_TO = 8
    HAVE_CONTACTS = 16
    HAVE_CALL_ID = 32
    HAVE_CSEQ = 64
    HAVE_MAX_FORWARDS = 128
    HAVE_EXPIRES = 256
    HAVE_EVENT = 512
    HAVE_AUTHORIZATION = 1024
    HAVE_LINE = 2048

cdef long long CSEQ_MAX = 2147483647
cdef long long DELTA_MAX = 4294967295

cdef unsigned short CLS[256]
cdef bint IS_LIST[N_HEADER_IDS]


cdef void _set_class(bytes chars, unsigned short flag):
    cdef Py_ssize_t i
    for i in range(len(chars)):
        CLS[<unsigned char>chars[i]] |= flag


cdef void _init_classes():
    alpha = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    digit = b"0123456789"
    token = alpha + digit + b"-.!%*_+`'~"
    cdef int i
    for i in range(256):
        CLS[i] = 0
    _set_class(alpha, C_ALPHA)
    _set_class(digit, C_DIGIT)
    _set_class(token, C_TOKEN)
    _set_class(alpha + digit + b"+-.", C_SCHEME)
    _set_class(alpha + digit + b"-._", C_HOST)
    _set_class(b"0123456789abcdefABCDEF:.", C_IPV6)
    _set_class(token + b":[]", C_PVALUE)
    _set_class(b" \t\r\n", C_LWS)
    _set_class(b"0123456789abcdefABCDEF", C_HEX)
    _set_class(bytes(range(33)) + b'<>"\x7f', C_URI_BAD)


_init_classes()

# --- header name lookup: open addressing over lower-cased names from sipdefs.HEADER_IDS ---

cdef struct HName:
    int hid
    int length
    unsigned char name[32]

cdef HName NAMES[SIP_HASH_SIZE]


cdef extern from *:
    """
    /* ASCII lower case, branch-free: a data-dependent branch per byte mispredicts on
       mixed-case names. */
    static CYTHON_INLINE unsigned char sip_lower(unsigned char c) {
        return (unsigned char)(c + 32 * ((unsigned char)(c - 65) < 26));
    }
    /* Slot of a name in the SIP_HASH_SIZE-slot tables below. OR 0x20 folds ASCII case (and
       merges a few non-letters, which only adds collisions that the comparison resolves). */
    static CYTHON_INLINE unsigned int sip_hash(const unsigned char *p, Py_ssize_t n) {
        return (((unsigned int)(p[0] | 32) << 2) ^ (unsigned int)(p[n - 1] | 32)
                ^ ((unsigned int)n << 5) ^ (unsigned int)n) & (SIP_HASH_SIZE - 1);
    }
    """
    unsigned char _lower "sip_lower"(unsigned char c) nogil
    unsigned int _hash "sip_hash"(cbuf p, Py_ssize_t n) nogil


cdef void _init_names():
    cdef unsigned int h
    cdef bytes name
    cdef int hid, i
    for i in range(SIP_HASH_SIZE):
        NAMES[i].hid = 0
        NAMES[i].length = 0
        memset(NAMES[i].name, 0, sizeof(NAMES[i].name))
    for name, hid in HEADER_IDS.items():
        h = _hash(<cbuf>PyBytes_AS_STRING(name), len(name))
        while NAMES[h].length:
            h = (h + 1) & (SIP_HASH_SIZE - 1)
        NAMES[h].hid = hid
        NAMES[h].length = len(name)
        memcpy(NAMES[h].name, PyBytes_AS_STRING(name), len(name))
        for i in range(len(name)):  # sip_name_eq16 relies on it
            if (name[i] | 32) != name[i] or name[i] == 127:
                raise RuntimeError(f"header name {name!r} is not lower-case token bytes")
    for i in range(N_HEADER_IDS):
        IS_LIST[i] = i < len(HEADER_IS_LIST) and HEADER_IS_LIST[i]


_init_names()


cdef extern from *:
    """
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    /* Whether the token p[0:n] (n <= 16, 16 bytes readable at p) equals the lower-case
       name (32 bytes, zero padded) ignoring ASCII case. OR-ing 0x20 lower-cases letters and
       leaves every other token byte but '_' alone; '_' becomes 0x7F, which no name holds
       (checked at import), and the other bytes that OR 0x20 could merge with a name byte
       are not token bytes. */
    static CYTHON_INLINE int sip_name_eq16(const unsigned char *p, const unsigned char *name,
                                           Py_ssize_t n) {
    #if defined(__SSE2__)
        __m128i v = _mm_or_si128(_mm_loadu_si128((const __m128i *)p), _mm_set1_epi8(0x20));
        int m = _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_loadu_si128((const __m128i *)name)));
        unsigned int want = (1u << n) - 1u;
        return ((unsigned int)m & want) == want;
    #else
        Py_ssize_t i;
        for (i = 0; i < n; i++)
            if ((p[i] | 0x20) != name[i])
                return 0;
        return 1;
    #endif
    }
    """
    bint sip_name_eq16(cbuf p, const unsigned char* name, Py_ssize_t n) nogil


cdef inline int _header_id(cbuf p, Py_ssize_t n, bint wide) noexcept:
    """Id of the header name p[0:n] (token bytes), 0 if unknown; ``wide``: 16 bytes can be
    read at p."""
    cdef unsigned int h
    cdef Py_ssize_t i
    if n <= 0 or n >= 32:
        return 0
    h = _hash(p, n)
    while NAMES[h].length:
        if NAMES[h].length == n:
            if wide and n <= 16:
                if sip_name_eq16(p, NAMES[h].name, n):
                    return NAMES[h].hid
            else:
                i = 0
                while i < n and _lower(p[i]) == NAMES[h].name[i]:
                    i += 1
                if i == n:
                    return NAMES[h].hid
        h = (h + 1) & (SIP_HASH_SIZE - 1)
    return 0

# --- interned strings: parameter names, methods and versions seen on every message ------
# A match returns the same str object each time, so there is no allocation and its hash is
# already cached when it becomes a dict key.

cdef object INTERNED = {}  # lower-cased bytes -> str, for names; exact bytes for methods
cdef extern from *:
    """
    typedef struct { int length; unsigned char name[24]; PyObject *obj; } sip_iname;
    """
    ctypedef struct IName "sip_iname":
        int length
        unsigned char name[24]
        PyObject* obj

cdef IName PNAMES[SIP_HASH_SIZE]
cdef IName WORDS[SIP_HASH_SIZE]

_PARAM_NAMES = (
    "tag", "branch", "rport", "received", "maddr", "ttl", "transport", "user", "lr", "method",
    "expires", "q", "reg-id", "+sip.instance", "profile-type", "vendor", "model", "version",
    "username", "realm", "nonce", "uri", "response", "algorithm", "cnonce", "qop", "nc",
    "opaque", "stale", "domain", "reboot", "phone-context", "ob", "reason",
)
_WORDS = (
    "REGISTER", "SUBSCRIBE", "NOTIFY", "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO",
    "PRACK", "UPDATE", "REFER", "MESSAGE", "PUBLISH", "SIP/2.0", "OK", "Trying", "Ringing",
    "Accepted", "Unauthorized", "sip", "sips", "tel", "UDP", "TCP", "TLS", "Digest", "MD5",
    "auth", "ua-profile", "check-sync", "device", "true", "false",
)


cdef void _intern_into(IName* table, tuple words):
    cdef unsigned int h
    cdef bytes raw
    cdef int i
    for i in range(SIP_HASH_SIZE):
        table[i].length = 0
        table[i].obj = NULL
    for word in words:
        raw = word.encode("ascii")
        INTERNED[raw] = word  # keeps the str alive for the C table
        h = _hash(<cbuf>PyBytes_AS_STRING(raw), len(raw))
        while table[h].length:
            h = (h + 1) & (SIP_HASH_SIZE - 1)
        table[h].length = len(raw)
        memcpy(table[h].name, PyBytes_AS_STRING(raw), len(raw))
        table[h].obj = <PyObject*>word


_intern_into(PNAMES, _PARAM_NAMES)
_intern_into(WORDS, _WORDS)


cdef extern from *:
    """
    /* Eight bytes with ASCII upper-case letters lower-cased (exactly _lower on each byte),
       without a branch per byte. */
    static CYTHON_INLINE uint64_t sip_lower8(uint64_t x) {
        const uint64_t h = 0x8080808080808080ULL;
        uint64_t low7 = x & ~h;
        uint64_t ge_a = low7 + 0x3F3F3F3F3F3F3F3FULL;  /* bit 7 set where byte >= 'A' */
        uint64_t gt_z = low7 + 0x2525252525252525ULL;  /* bit 7 set where byte > 'Z' */
        uint64_t upper = ge_a & ~gt_z & ~x & h;
        return x | (upper >> 2);
    }
    /* Whether a[0:n], ASCII lower-cased, equals the lower-case lit[0:n]: overlapping
       8- or 4-byte loads inside both ranges. */
    static CYTHON_INLINE int sip_ieq(const unsigned char *a, const unsigned char *lit,
                                     Py_ssize_t n) {
        if (n >= 8 && n <= 16) {
            uint64_t a0, a1, b0, b1;
            memcpy(&a0, a, 8); memcpy(&a1, a + n - 8, 8);
            memcpy(&b0, lit, 8); memcpy(&b1, lit + n - 8, 8);
            return ((sip_lower8(a0) ^ b0) | (sip_lower8(a1) ^ b1)) == 0;
        }
        if (n >= 4 && n < 8) {
            uint32_t a0, a1, b0, b1;
            memcpy(&a0, a, 4); memcpy(&a1, a + n - 4, 4);
            memcpy(&b0, lit, 4); memcpy(&b1, lit + n - 4, 4);
            return (((uint32_t)sip_lower8(a0) ^ b0) | ((uint32_t)sip_lower8(a1) ^ b1)) == 0;
        }
        for (Py_ssize_t k = 0; k < n; k++)
            if (sip_lower(a[k]) != lit[k])
                return 0;
        return 1;
    }
    """
    bint sip_ieq(cbuf a, const unsigned char* lit, Py_ssize_t n) nogil


cdef extern from *:
    """
    /* Whether a[0:n] == b[0:n], 1 <= n <= 24: a few overlapping loads inside both ranges
       instead of a call to memcmp. */
    static CYTHON_INLINE int sip_eq_short(const unsigned char *a, const unsigned char *b,
                                          Py_ssize_t n) {
        if (n >= 8) {
            uint64_t a0, b0, a1, b1, a2 = 0, b2 = 0;
            memcpy(&a0, a, 8); memcpy(&b0, b, 8);
            memcpy(&a1, a + n - 8, 8); memcpy(&b1, b + n - 8, 8);
            if (n > 16) {
                memcpy(&a2, a + 8, 8); memcpy(&b2, b + 8, 8);
            }
            return ((a0 ^ b0) | (a1 ^ b1) | (a2 ^ b2)) == 0;
        }
        if (n >= 4) {
            uint32_t a0, b0, a1, b1;
            memcpy(&a0, a, 4); memcpy(&b0, b, 4);
            memcpy(&a1, a + n - 4, 4); memcpy(&b1, b + n - 4, 4);
            return ((a0 ^ b0) | (a1 ^ b1)) == 0;
        }
        return ((a[0] ^ b[0]) | (a[n >> 1] ^ b[n >> 1]) | (a[n - 1] ^ b[n - 1])) == 0;
    }
    """
    bint sip_eq_short(cbuf a, const unsigned char* b, Py_ssize_t n) nogil


cdef extern from *:
    """
    /* The interned str equal to p[:n] (ASCII-lower-cased first if ``fold``), borrowed, or
       NULL. */
    static CYTHON_INLINE PyObject *sip_interned(const sip_iname *table, const unsigned char *p,
                                                Py_ssize_t n, int fold) {
        unsigned int h;
        if (n <= 0 || n > 24)
            return NULL;
        h = sip_hash(p, n);
        while (table[h].length) {
            /* Names mostly come in the table's case: the exact compare goes first. */
            if (table[h].length == n && (sip_eq_short(p, table[h].name, n)
                                         || (fold && sip_ieq(p, table[h].name, n))))
                return table[h].obj;
            h = (h + 1) & (SIP_HASH_SIZE - 1);
        }
        return NULL;
    }
    """
    PyObject* sip_interned(const IName* table, cbuf p, Py_ssize_t n, int fold) nogil


# --- attribute dispatch ------------------------------------------------------------------
# A parsed message is read field by field, a few dozen reads per message. CPython's generic
# attribute lookup for a Cython property costs ~120 instructions (type lookup, descriptor
# protocol, getset call); the types below instead map the attribute name to a field code in
# a small table keyed by the identity of the interned name. Python interns the attribute
# names of compiled code, so ``msg.via`` hits the table; any other name (or a non-interned
# str equal to a field name) takes the generic lookup and reaches the same property.

cdef extern from *:
    """
    typedef struct { PyObject *name; int code; } sip_attr_slot;
    #define SIP_ATTR_SLOTS 64
    /* Field code of ``name`` in table ``t`` (open addressing on the str's cached hash),
       or 0. A str whose hash is not computed yet (-1) simply finds no slot. */
    static CYTHON_INLINE int sip_attr_code(const sip_attr_slot *t, PyObject *name) {
        size_t i = (size_t)((PyASCIIObject *)name)->hash & (SIP_ATTR_SLOTS - 1);
        while (t[i].name != NULL) {
            if (t[i].name == name)
                return t[i].code;
            i = (i + 1) & (SIP_ATTR_SLOTS - 1);
        }
        return 0;
    }
    """
    ctypedef struct sip_attr_slot:
        PyObject* name
        int code
    enum: SIP_ATTR_SLOTS
    int sip_attr_code(const sip_attr_slot* t, PyObject* name) noexcept


cdef list _ATTR_NAMES = []  # keeps the interned names of the tables alive


cdef void _attr_table(sip_attr_slot* table, tuple names):
    """Fills ``table``: the i-th name gets code i + 1 (the class's enum follows that order)."""
    cdef Py_ssize_t h, code = 0
    memset(table, 0, sizeof(sip_attr_slot) * SIP_ATTR_SLOTS)
    for name in names:
        code += 1
        name = sys.intern(name)
        _ATTR_NAMES.append(name)
        h = hash(name) & (SIP_ATTR_SLOTS - 1)
        while table[h].name != NULL:
            h = (h + 1) & (SIP_ATTR_SLOTS - 1)
        table[h].name = <PyObject*>name
        table[h].code = code

# --- small helpers -------------------------------------------------------------------------


cdef int _fail(int status, str reason, Py_ssize_t offset) except -1:
    raise SipParseError(status, reason, offset)


cdef inline str _text(cbuf p, Py_ssize_t s, Py_ssize_t e):
    return PyUnicode_DecodeUTF8(<const char*>p + s, e - s, "surrogateescape")


cdef uint64_t HIGH_BITS = 0x8080808080808080ULL  # bit 7 of each of eight bytes


cdef inline str _ascii(cbuf p, Py_ssize_t s, Py_ssize_t e):
    """_text, with a direct copy when every byte is ASCII (the usual case)."""
    cdef Py_ssize_t n = e - s, k = 0
    cdef uint64_t acc = 0, word
    cdef str out
    if n < 2:
        return _text(p, s, e)  # the empty and one-character strings are shared
    while k + 8 <= n:  # eight bytes a step: fewer loop exits to mispredict
        memcpy(&word, p + s + k, 8)
        acc |= word
        k += 8
    while k < n:
        acc |= p[s + k]
        k += 1
    if acc & HIGH_BITS:
        return _text(p, s, e)
    out = PyUnicode_New(n, 127)
    memcpy(PyUnicode_1BYTE_DATA(out), p + s, n)
    return out


cdef inline str _word(cbuf p, Py_ssize_t s, Py_ssize_t e):
    """Like _text, but common words (methods, SIP/2.0, Digest, ...) come interned."""
    cdef PyObject* known = sip_interned(WORDS, p + s, e - s, 0)
    if known != NULL:
        return <str>known
    return _ascii(p, s, e)


cdef str _lower_text(cbuf p, Py_ssize_t s, Py_ssize_t e):
    """ASCII-lower-cased text (names are tokens: lower-casing never changes the length)."""
    cdef Py_ssize_t i
    cdef unsigned char tmp[64]
    cdef unsigned char* out
    cdef PyObject* known = sip_interned(PNAMES, p + s, e - s, 1)
    if known != NULL:
        return <str>known
    for i in range(s, e):
        if 65 <= p[i] <= 90:
            break
    else:
        return _text(p, s, e)
    if e - s <= 64:
        out = &tmp[0]
    else:
        out = <unsigned char*>malloc(e - s)
    if out == NULL:
        raise MemoryError()
    for i in range(s, e):
        out[i - s] = _lower(p[i])
    try:
        return _text(<cbuf>out, 0, e - s)
    finally:
        if out != &tmp[0]:
            free(out)


cdef inline Py_ssize_t _skip_lws(cbuf p, Py_ssize_t i, Py_ssize_t e) noexcept:
    while i < e and CLS[p[i]] & C_LWS:
        i += 1
    return i


cdef inline Py_ssize_t _rtrim(cbuf p, Py_ssize_t s, Py_ssize_t e) noexcept:
    while e > s and CLS[p[e - 1]] & C_LWS:
        e -= 1
    return e


cdef extern from *:
    """
    #if defined(__SSE2__)
    #include <emmintrin.h>
    /* Bytes of v in [lo, hi] (unsigned): 0xFF lanes. */
    static CYTHON_INLINE __m128i sip_in_range(__m128i v, unsigned char lo, unsigned char hi) {
        __m128i t = _mm_sub_epi8(v, _mm_set1_epi8((char)lo));
        return _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8((char)(hi - lo))), t);
    }
    /* The bytes of v in a class (one bit per byte): kind 0, token (RFC 3261:
       alphanumeric and - . ! % * _ + ` ' ~: C_TOKEN); kind 1, token and : [ ] (C_PVALUE);
       kind 2, alphanumeric and - . _ (C_HOST); kind 3, bytes a URI must not hold: <= 32,
       < > " and DEL (C_URI_BAD). Checked against the CLS table when the module is
       imported. */
    static CYTHON_INLINE int sip_class_bits(__m128i v, int kind) {
        __m128i m;
        if (kind == 3) {
            m = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(32)), v);
            m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('<')));
            m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('>')));
            m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
            m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F)));
            return _mm_movemask_epi8(m);
        }
        m = sip_in_range(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
        m = _mm_or_si128(m, sip_in_range(v, '0', kind == 1 ? ':' : '9'));
        m = _mm_or_si128(m, sip_in_range(v, '-', '.'));
        if (kind == 2)
            return _mm_movemask_epi8(_mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('_'))));
        m = _mm_or_si128(m, sip_in_range(v, '*', '+'));
        m = _mm_or_si128(m, sip_in_range(v, '_', '`'));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('!')));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('%')));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'')));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('~')));
        if (kind == 1)
            m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('[')),
                                             _mm_cmpeq_epi8(v, _mm_set1_epi8(']'))));
        return _mm_movemask_epi8(m);
    }
    #endif
    /* Index of the first byte in p[i:end] outside the class `kind` (`flag` in cls is the
       same class), or end: 16 bytes per step, so the loop does not exit on a mispredicted
       byte compare. */
    static CYTHON_INLINE Py_ssize_t sip_class_end(const unsigned char *p, Py_ssize_t i,
                                                  Py_ssize_t end, const unsigned short *cls,
                                                  unsigned short flag, int kind) {
    #if defined(__SSE2__)
        while (i + 16 <= end) {
            int m = sip_class_bits(_mm_loadu_si128((const __m128i *)(p + i)), kind);
            if (m != 0xFFFF)
                return i + __builtin_ctz((unsigned int)~m);
            i += 16;
        }
    #endif
        /* Every span lies inside a bytes object, whose data is followed by a NUL that is
           in none of these classes: the loop needs no bound of its own, and reading past
           `end` stays inside the object. */
        while (cls[p[i]] & flag)
            i++;
        return i < end ? i : end;
    }
    /* Index of the first byte in p[i:end] with `flag` in cls (class `kind`), or -1. */
    static CYTHON_INLINE Py_ssize_t sip_class_find(const unsigned char *p, Py_ssize_t i,
                                                   Py_ssize_t end, const unsigned short *cls,
                                                   unsigned short flag, int kind) {
    #if defined(__SSE2__)
        while (i + 16 <= end) {
            int m = sip_class_bits(_mm_loadu_si128((const __m128i *)(p + i)), kind);
            if (m)
                return i + __builtin_ctz((unsigned int)m);
            i += 16;
        }
    #endif
        for (; i < end; i++)
            if (cls[p[i]] & flag)
                return i;
        return -1;
    }
    """
    Py_ssize_t sip_class_end(cbuf p, Py_ssize_t i, Py_ssize_t end, const unsigned short* cls,
                             unsigned short flag, int kind) nogil
    Py_ssize_t sip_class_find(cbuf p, Py_ssize_t i, Py_ssize_t end, const unsigned short* cls,
                              unsigned short flag, int kind) nogil


cdef inline Py_ssize_t _token_end(cbuf p, Py_ssize_t i, Py_ssize_t e) noexcept:
    # Tokens (names, methods, transports) are short: a byte loop beats a 16-byte class
    # test. It needs no bound: the NUL after the message's bytes ends it (see sip_class_end).
    while CLS[p[i]] & C_TOKEN:
        i += 1
    return i if i < e else e


cdef inline Py_ssize_t _name_end(cbuf p, Py_ssize_t i, Py_ssize_t e) noexcept:
    """_token_end as a byte loop, for header names in the scan: there the loop measured
    faster (the CPU runs ahead on the predicted exit, where the vectorised form makes the
    next loads wait for its result)."""
    while i < e and CLS[p[i]] & C_TOKEN:
        i += 1
    return i


cdef inline Py_ssize_t _pvalue_end(cbuf p, Py_ssize_t i, Py_ssize_t e) noexcept:
    """End of a run of C_PVALUE bytes (token and : [ ]) from i."""
    return sip_class_end(p, i, e, CLS, C_PVALUE, 1)


cdef inline Py_ssize_t _hostname_end(cbuf p, Py_ssize_t i, Py_ssize_t e) noexcept:
    """End of a run of C_HOST bytes (alphanumeric and - . _) from i."""
    return sip_class_end(p, i, e, CLS, C_HOST, 2)


cdef void _check_class_ends() except *:
    """The vectorised class tests must agree with CLS on every byte value."""
    cdef unsigned char buf[18]
    cdef int c, k
    cdef Py_ssize_t want
    buf[17] = 0  # the NUL that ends the data of a bytes object
    for c in range(256):
        for k in range(17):
            buf[k] = c
        for flag, kind in ((C_TOKEN, 0), (C_PVALUE, 1), (C_HOST, 2)):
            want = 17 if CLS[c] & flag else 0
            if sip_class_end(buf, 0, 17, CLS, flag, kind) != want:
                raise RuntimeError(f"class {flag} table mismatch at byte {c}")
        want = 0 if CLS[c] & C_URI_BAD else -1
        if sip_class_find(buf, 0, 17, CLS, C_URI_BAD, 3) != want:
            raise RuntimeError(f"class {C_URI_BAD} table mismatch at byte {c}")


_check_class_ends()


cdef extern from *:
    """
    /* Index of the first c in p[i:end], or -1: memchr inline (the spans searched are short,
       so the call itself is most of memchr's cost). */
    static CYTHON_INLINE Py_ssize_t sip_find_byte(const unsigned char *p, unsigned char c,
                                                  Py_ssize_t i, Py_ssize_t end) {
    #if defined(__SSE2__)
        const __m128i cv = _mm_set1_epi8((char)c);
        while (i + 16 <= end) {
            __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
            int m = _mm_movemask_epi8(_mm_cmpeq_epi8(v, cv));
            if (m)
                return i + __builtin_ctz((unsigned int)m);
            i += 16;
        }
    #endif
        for (; i < end; i++)
            if (p[i] == c)
                return i;
        return -1;
    }
    """
    Py_ssize_t sip_find_byte(cbuf p, unsigned char c, Py_ssize_t i, Py_ssize_t end) nogil


cdef inline Py_ssize_t _find(cbuf p, unsigned char c, Py_ssize_t s, Py_ssize_t e) noexcept:
    return sip_find_byte(p, c, s, e)


cdef extern from *:
    """
    /* Index of the first '"' or backslash in p[i:end], or -1; *high gets whether a byte
       before it is >= 0x80 (the text is then not ASCII). */
    static CYTHON_INLINE Py_ssize_t sip_quote_end(const unsigned char *p, Py_ssize_t i,
                                                  Py_ssize_t end, int *high) {
        unsigned char acc = 0;
    #if defined(__SSE2__)
        const __m128i dq = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\\\');
        __m128i hi = _mm_setzero_si128();
        while (i + 16 <= end) {
            __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
            int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, dq), _mm_cmpeq_epi8(v, bs)));
            if (m) {
                int k = __builtin_ctz((unsigned int)m);
                /* high bits of the bytes before the hit only */
                *high = (_mm_movemask_epi8(hi) | (_mm_movemask_epi8(v) & ((1 << k) - 1))) != 0;
                return i + k;
            }
            hi = _mm_or_si128(hi, v);
            i += 16;
        }
        acc = _mm_movemask_epi8(hi) ? 0x80 : 0;
    #endif
        for (; i < end; i++) {
            if (p[i] == '"' || p[i] == '\\\\') {
                *high = (acc & 0x80) != 0;
                return i;
            }
            acc |= p[i];
        }
        *high = (acc & 0x80) != 0;
        return -1;
    }
    """
    Py_ssize_t sip_quote_end(cbuf p, Py_ssize_t i, Py_ssize_t end, int* high) nogil


cdef inline str _ascii_copy(cbuf p, Py_ssize_t s, Py_ssize_t e):
    """Text of p[s:e], known to be ASCII: a direct copy."""
    cdef str out
    if e - s < 2:
        return _text(p, s, e)  # the empty and one-character strings are shared
    out = PyUnicode_New(e - s, 127)
    memcpy(PyUnicode_1BYTE_DATA(out), p + s, e - s)
    return out


cdef bytes _unfold(cbuf p, Py_ssize_t s, Py_ssize_t e):
    """Value bytes with each run of LWS that holds a line break replaced by one space."""
    cdef Py_ssize_t i, n
    cdef bytes out
    cdef unsigned char* q
    if _find(p, 13, s, e) < 0:
        return PyBytes_FromStringAndSize(<const char*>p + s, e - s)
    out = PyBytes_FromStringAndSize(NULL, e - s)
    q = <unsigned char*>PyBytes_AS_STRING(out)
    n = 0
    i = s
    while i < e:
        if p[i] == 13:
            while n and (q[n - 1] == 32 or q[n - 1] == 9):
                n -= 1
            i += 2
            while i < e and (p[i] == 32 or p[i] == 9):
                i += 1
            q[n] = 32
            n += 1
        else:
            q[n] = p[i]
            n += 1
            i += 1
    return out[:n]


cdef str _unfold_word(cbuf p, Py_ssize_t s, Py_ssize_t e):
    """_unfold_text, with common words (method names in Allow, ...) interned."""
    if _find(p, 13, s, e) < 0:
        return _word(p, s, e)
    cdef bytes raw = _unfold(p, s, e)
    return _text(<cbuf>PyBytes_AS_STRING(raw), 0, len(raw))


cdef str _unfold_text(cbuf p, Py_ssize_t s, Py_ssize_t e):
    if _find(p, 13, s, e) < 0:
        return _text(p, s, e)
    cdef bytes raw = _unfold(p, s, e)
    return _text(<cbuf>PyBytes_AS_STRING(raw), 0, len(raw))


cdef inline int _hexval(unsigned char c) noexcept:
    if c <= 57:
        return c - 48
    return (c | 32) - 87


cdef str _pct_text(cbuf p, Py_ssize_t s, Py_ssize_t e, bint lower):
    """Text of [s, e) with %XX escapes undone ('%' without two hex digits stays)."""
    cdef Py_ssize_t i, n
    cdef unsigned char c
    cdef unsigned char* out
    if _find(p, 37, s, e) < 0:
        return _lower_text(p, s, e) if lower else _ascii(p, s, e)
    out = <unsigned char*>malloc(e - s)
    if out == NULL:
        raise MemoryError()
    try:
        n = 0
        i = s
        while i < e:
            c = p[i]
            if c == 37 and i + 2 < e and CLS[p[i + 1]] & C_HEX and CLS[p[i + 2]] & C_HEX:
                c = <unsigned char>(_hexval(p[i + 1]) * 16 + _hexval(p[i + 2]))
                i += 3
            else:
                i += 1
            out[n] = _lower(c) if lower else c
            n += 1
        return _text(<cbuf>out, 0, n)
    finally:
        free(out)


cdef long long _uint(cbuf p, Py_ssize_t s, Py_ssize_t e, long long limit, str reason) except -1:
    cdef long long n = 0
    cdef Py_ssize_t i
    if s >= e:
        _fail(400, reason, s)
    for i in range(s, e):
        if not (CLS[p[i]] & C_DIGIT):
            _fail(400, reason, s)
        n = n * 10 + (p[i] - 48)
        if n > limit:
            _fail(400, reason, s)
    return n


cdef str _quoted(cbuf p, Py_ssize_t i, Py_ssize_t e, Py_ssize_t* after):
    """Quoted string at ``p[i] == '"'``: unescaped text; ``after`` gets the index past it."""
    cdef int high
    cdef Py_ssize_t j = sip_quote_end(p, i + 1, e, &high)
    cdef bint escaped = False
    cdef Py_ssize_t n
    cdef unsigned char* out
    if j >= 0 and p[j] == 34:  # the common case: no backslash
        after[0] = j + 1
        return _text(p, i + 1, j) if high else _ascii_copy(p, i + 1, j)
    j = i + 1
    while j < e:
        if p[j] == 34:
            break
        if p[j] == 92 and j + 1 < e:
            escaped = True
            j += 2
            continue
        j += 1
    else:
        _fail(400, "Unterminated quoted string", i)
    after[0] = j + 1
    if not escaped:
        return _text(p, i + 1, j)
    out = <unsigned char*>malloc(j - i)
    if out == NULL:
        raise MemoryError()
    try:
        n = 0
        i += 1
        while i < j:
            if p[i] == 92:
                i += 1
            out[n] = p[i]
            n += 1
            i += 1
        return _text(<cbuf>out, 0, n)
    finally:
        free(out)


cdef unsigned char ELEM_STOP[256]  # the bytes _elem_end must look at: , " < >
ELEM_STOP[44] = ELEM_STOP[34] = ELEM_STOP[60] = ELEM_STOP[62] = 1


cdef extern from *:
    """
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    /* Index of the first of , " < > in p[i:end], or end. */
    static CYTHON_INLINE Py_ssize_t sip_find_stop(const unsigned char *p, Py_ssize_t i,
                                                  Py_ssize_t end, const unsigned char *stop) {
    #if defined(__SSE2__)
        const __m128i c1 = _mm_set1_epi8(','), c2 = _mm_set1_epi8('"');
        const __m128i c3 = _mm_set1_epi8('<'), c4 = _mm_set1_epi8('>');
        while (i + 16 <= end) {
            __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
            __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, c1), _mm_cmpeq_epi8(v, c2)),
                                       _mm_or_si128(_mm_cmpeq_epi8(v, c3), _mm_cmpeq_epi8(v, c4)));
            int m = _mm_movemask_epi8(hit);
            if (m)
                return i + __builtin_ctz((unsigned int)m);
            i += 16;
        }
    #endif
        while (i < end && !stop[p[i]])
            i++;
        return i;
    }
    """
    Py_ssize_t sip_find_stop(cbuf p, Py_ssize_t i, Py_ssize_t end, const unsigned char* stop) nogil


cdef Py_ssize_t _elem_end(cbuf p, Py_ssize_t i, Py_ssize_t e) noexcept:
    """Index of the comma ending the list element at ``i`` (outside quotes and <>), or e."""
    cdef int depth = 0
    cdef unsigned char c
    while True:
        i = sip_find_stop(p, i, e, ELEM_STOP)
        if i >= e:
            return e
        c = p[i]
        if c == 44:
            if depth == 0:
                return i
        elif c == 60:
            depth += 1
        elif c == 62:
            if depth:
                depth -= 1
        else:  # a quoted string: a backslash escapes the next byte
            i += 1
            while i < e:
                if p[i] == 92:
                    i += 1
                elif p[i] == 34:
                    break
                i += 1
        i += 1


# --- parameter dicts ----------------------------------------------------------------------
# Parameters (;name=value of Event, Via, addresses; the auth-params of credentials) are
# parsed in two passes: the first checks the grammar and notes each parameter's spans, the
# second makes the values and the dict. A phone model sends its parameters in the same
# order every time, so the dict is copied from a prototype with those keys in that order
# (a copy of the key table, then each value set on a key it already holds) instead of
# being built by inserts, each of which searches for a slot.

cdef extern from "Python.h":
    dict _PyDict_NewPresized(Py_ssize_t minused)
    int _PyDict_SetItem_KnownHash(object d, object key, object value, Py_hash_t h) except -1


cdef extern from *:
    """
    /* The hash a str caches in itself (names here are interned, so it is computed), or
       PyObject_Hash for one that has not computed it yet. */
    static CYTHON_INLINE Py_hash_t sip_str_hash(PyObject *s) {
        Py_hash_t h = ((PyASCIIObject *)s)->hash;
        return h != -1 ? h : PyObject_Hash(s);
    }
    """
    Py_hash_t sip_str_hash(object s) except? -1


cdef enum:
    PARAMS_INLINE = 16  # parameters noted on the stack; more go to the heap
    PARAM_PROTOS = 16  # prototypes kept, for as many orders of names (phone models, headers)

cdef struct ParamSpan:
    PyObject* name  # the shared lower-case name (PNAMES, borrowed), or NULL: made from p[ns:ne]
    int ns, ne, vs, ve  # value p[vs:ve]: the token, or the text between the quotes
    int kind  # PV_*

cdef enum:
    PV_TOKEN = 0
    PV_ASCII = 1  # quoted, ASCII, no escapes
    PV_TEXT = 2  # quoted, bytes past ASCII, no escapes
    PV_ESCAPED = 3  # quoted with backslash escapes (vs at the opening quote)
    PV_NONE = 4  # a name without a value

cdef struct ParamSpans:
    ParamSpan* a
    int n, cap
    ParamSpan inline[PARAMS_INLINE]


cdef inline void _spans_init(ParamSpans* sp) noexcept:
    sp.a = sp.inline
    sp.n = 0
    sp.cap = PARAMS_INLINE


cdef inline void _spans_free(ParamSpans* sp) noexcept:
    if sp.a != sp.inline:
        free(sp.a)


cdef inline ParamSpan* _spans_add(ParamSpans* sp, cbuf p, Py_ssize_t ns,
                                  Py_ssize_t ne) except NULL:
    """A new span for the parameter named p[ns:ne] (the array grows past the stack)."""
    cdef ParamSpan* grown
    if sp.n == sp.cap:
        grown = <ParamSpan*>malloc(2 * sp.cap * sizeof(ParamSpan))
        if grown == NULL:
            raise MemoryError()
        memcpy(grown, sp.a, sp.n * sizeof(ParamSpan))
        _spans_free(sp)
        sp.a = grown
        sp.cap *= 2
    grown = &sp.a[sp.n]
    sp.n += 1
    grown.ns = <int>ns
    grown.ne = <int>ne
    grown.name = sip_interned(PNAMES, p + ns, ne - ns, 1)
    grown.kind = PV_NONE
    return grown


cdef inline Py_ssize_t _quoted_span(cbuf p, Py_ssize_t j, Py_ssize_t e,
                                    ParamSpan* a) except -1:
    """Notes the quoted value at ``p[j] == '"'``; returns the index past it."""
    cdef int high
    cdef Py_ssize_t i = sip_quote_end(p, j + 1, e, &high)
    if i >= 0 and p[i] == 34:  # the common case: no backslash
        a.kind = PV_TEXT if high else PV_ASCII
        a.vs = <int>j + 1
        a.ve = <int>i
        return i + 1
    a.kind = PV_ESCAPED
    a.vs = <int>j
    return _quoted_end(p, j, e)


cdef inline Py_ssize_t _value_span(cbuf p, Py_ssize_t j, Py_ssize_t e, ParamSpan* a,
                                   str missing) except -1:
    """Notes the value at ``j``, a quoted string or a token; returns the index past it.
    ``missing``: the reason of the error when there is neither."""
    cdef Py_ssize_t i
    if j < e and p[j] == 34:
        return _quoted_span(p, j, e, a)
    i = _pvalue_end(p, j, e)
    if i == j:
        _fail(400, missing, j)
    a.kind = PV_TOKEN
    a.vs = <int>j
    a.ve = <int>i
    return i


cdef object _param_value(cbuf p, Py_ssize_t e, ParamSpan* a):
    cdef Py_ssize_t after
    if a.kind == PV_TOKEN:
        return _word(p, a.vs, a.ve)
    if a.kind == PV_ASCII:
        return _ascii_copy(p, a.vs, a.ve)
    if a.kind == PV_TEXT:
        return _text(p, a.vs, a.ve)
    if a.kind == PV_ESCAPED:
        return _quoted(p, a.vs, e, &after)
    return None


cdef struct ParamProto:
    int n  # 0: slot unused
    PyObject* keys[PARAMS_INLINE]  # borrowed: the PNAMES strings live as long as the module

cdef ParamProto _PROTO_KEYS[PARAM_PROTOS]
cdef list _PROTO_DICTS = [None] * PARAM_PROTOS
cdef int _proto_next = 0


cdef int _proto_slot(ParamSpan* a, int n) noexcept:
    """The prototype slot whose keys are the names of a[:n] in order, or -1."""
    cdef int k, m
    if n == 0 or n > PARAMS_INLINE:  # (n 0 marks an unused slot)
        return -1
    for k in range(PARAM_PROTOS):
        if _PROTO_KEYS[k].n != n:
            continue
        for m in range(n):
            if _PROTO_KEYS[k].keys[m] != a[m].name:
                break
        else:
            return k
    return -1


cdef void _keep_proto(ParamSpan* a, int n, dict params) except *:
    """Keeps the key order of ``params`` (built from a[:n]) as a prototype, when every
    name is a shared one and none repeats."""
    global _proto_next
    cdef int k, slot
    if n == 0 or n > PARAMS_INLINE or len(params) != n:
        return
    for k in range(n):
        if a[k].name == NULL:
            return
    slot = _proto_next
    _proto_next = (slot + 1) % PARAM_PROTOS
    proto = {}  # built by inserts: a table of str keys, which a copy keeps
    for k in range(n):
        proto[<object>a[k].name] = None
        _PROTO_KEYS[slot].keys[k] = a[k].name
    _PROTO_DICTS[slot] = proto
    _PROTO_KEYS[slot].n = n

cdef extern from *:
    """
    /* The entries of a dict just copied (PyDict_Copy) from a prototype built by inserts of
       str keys, so that each value can be set without a search: CPython 3.11 keeps such a
       table's entries in insertion order, right after its index array. NULL when this
       build of CPython lays dicts out otherwise, or the table is not of that kind; the
       caller then sets the items the usual way. The dict is new and nothing has seen it
       yet, so no version tag or watcher needs to learn of the change. */
    typedef struct { PyObject *key; PyObject *value; } sip_dict_entry;
    #if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000 && !defined(Py_LIMITED_API)
    typedef struct {  /* the head of 3.11's PyDictKeysObject (Include/internal/pycore_dict.h) */
        Py_ssize_t dk_refcnt;
        uint8_t dk_log2_size;
        uint8_t dk_log2_index_bytes;
        uint8_t dk_kind;
        uint32_t dk_version;
        Py_ssize_t dk_usable;
        Py_ssize_t dk_nentries;
        char dk_indices[];
    } sip_dict_keys;
    static CYTHON_INLINE sip_dict_entry *sip_dict_entries(PyObject *d, Py_ssize_t n) {
        PyDictObject *mp = (PyDictObject *)d;
        sip_dict_keys *dk = (sip_dict_keys *)mp->ma_keys;
        if (mp->ma_values != NULL || dk->dk_kind != 1 /* DICT_KEYS_UNICODE */
                || dk->dk_nentries != n || mp->ma_used != n)
            return NULL;
        return (sip_dict_entry *)(dk->dk_indices + ((size_t)1 << dk->dk_log2_index_bytes));
    }
    #else
    static CYTHON_INLINE sip_dict_entry *sip_dict_entries(PyObject *d, Py_ssize_t n) {
        return NULL;
    }
    #endif
    """
    ctypedef struct DictEntry "sip_dict_entry":
        PyObject* key
        PyObject* value
    DictEntry* sip_dict_entries(object d, Py_ssize_t n) noexcept


cdef inline void _set_entry(DictEntry* entry, object value) noexcept:
    """Puts ``value`` in place of the entry's value (a reference to None, from the copy)."""
    cdef PyObject* old = entry.value
    Py_INCREF(value)
    entry.value = <PyObject*>value
    Py_XDECREF(old)


cdef void _check_dict_entries() except *:
    """The direct writes must give the dict that inserts give (checked on import)."""
    cdef dict proto = dict.fromkeys(("username", "realm", "nonce", "uri", "response", "nc"))
    cdef dict copy = PyDict_Copy(proto)
    cdef DictEntry* entries = sip_dict_entries(copy, len(proto))
    cdef Py_ssize_t k
    if entries == NULL:
        return  # another CPython: _params_dict sets the items the usual way
    for k, key in enumerate(proto):
        if entries[k].key != <PyObject*>key:
            raise RuntimeError("dict entry layout mismatch")
        _set_entry(&entries[k], str(k))
    if copy != {key: str(k) for k, key in enumerate(proto)} or list(copy) != list(proto):
        raise RuntimeError("dict entry layout mismatch")


_check_dict_entries()


cdef dict _params_dict(cbuf p, Py_ssize_t e, ParamSpan* a, int n):
    """The dict of the parameters noted in a[:n]: lower-cased names, in first-seen order,
    each with its last value."""
    cdef int k, slot = _proto_slot(a, n)
    cdef dict params
    cdef DictEntry* entries
    cdef object name
    if slot >= 0:
        params = PyDict_Copy(_PROTO_DICTS[slot])
        entries = sip_dict_entries(params, n)
        for k in range(n):  # each key is there, with None: the value takes its place
            value = _param_value(p, e, &a[k])
            if entries != NULL:
                _set_entry(&entries[k], value)
            else:
                _PyDict_SetItem_KnownHash(params, <object>a[k].name, value,
                                          sip_str_hash(<object>a[k].name))
        return params
    params = _PyDict_NewPresized(n)
    for k in range(n):
        name = <object>a[k].name if a[k].name != NULL else _lower_text(p, a[k].ns, a[k].ne)
        _PyDict_SetItem_KnownHash(params, name, _param_value(p, e, &a[k]), sip_str_hash(name))
    _keep_proto(a, n, params)
    return params


cdef dict _header_params(cbuf p, Py_ssize_t i, Py_ssize_t e, Py_ssize_t* stop):
    cdef ParamSpans sp
    cdef ParamSpan* a
    cdef Py_ssize_t ns, j
    _spans_init(&sp)
    try:
        while True:
            i = _skip_lws(p, i, e)
            if i >= e or p[i] != 59:
                stop[0] = i
                return _params_dict(p, e, sp.a, sp.n)
            i = _skip_lws(p, i + 1, e)
            ns = i
            i = _token_end(p, i, e)
            if i == ns:
                _fail(400, "Empty parameter", ns)
            a = _spans_add(&sp, p, ns, i)
            j = _skip_lws(p, i, e)
            if j < e and p[j] == 61:
                i = _value_span(p, _skip_lws(p, j + 1, e), e, a, "Empty parameter value")
    finally:
        _spans_free(&sp)


cdef Py_ssize_t _host_end(cbuf p, Py_ssize_t h, Py_ssize_t e) except -1:
    cdef Py_ssize_t j
    if h < e and p[h] == 91:
        j = h + 1
        while j < e and CLS[p[j]] & C_IPV6:
            j += 1
        if j == h + 1 or j >= e or p[j] != 93:
            _fail(400, "Malformed host", h)
        return j + 1
    j = _hostname_end(p, h, e)
    if j == h:
        _fail(400, "Malformed host", h)
    return j

# --- URI ----------------------------------------------------------------------------------
# Uri, Address and Via check their whole grammar when parsed (so errors come exactly when
# the twin raises them) but keep only spans into the message buffer; each str, int and
# dict is built the first time it is read, then kept.

cdef struct USpan:
    int s, e, sc  # the whole URI; sc: the colon after the scheme
    int kind  # 1 sip, 2 sips, 3 tel, 0 another scheme
    int us, ue, ws, we, hs, he  # user, password, host; start -1: absent
    int ps, pe  # parameters, from the first ';'
    int qs, qe  # headers, after '?'; qs -1: absent
    int port  # -1: absent

cdef enum:
    U_USER = 1
    U_PASSWORD = 2
    U_HOST = 4
    U_PARAMS = 8
    U_HEADERS = 16
    U_TEXT = 32


cdef enum:
    UA_SCHEME = 1
    UA_USER = 2
    UA_PASSWORD = 3
    UA_HOST = 4
    UA_PORT = 5
    UA_PARAMS = 6
    UA_HEADERS = 7
    UA_TEXT = 8

cdef sip_attr_slot URI_ATTRS[SIP_ATTR_SLOTS]
_attr_table(URI_ATTRS, ("scheme", "user", "password", "host", "port", "params", "headers", "text"))


# Holds only the buffer, strings, numbers and dicts of them: no reference cycles to collect.
@cython.no_gc
@cython.final
@cython.freelist(32)
cdef class Uri:
    """A SIP, SIPS or tel URI (other schemes keep only ``scheme`` and ``text``)."""

    cdef readonly str scheme
    cdef bytes _buf
    cdef cbuf _p
    cdef USpan _u
    cdef unsigned int _have
    cdef object _user, _password, _host, _params, _headers, _text

    cdef object _get_user(self):
        if not self._have & U_USER:
            if self._u.us >= 0:
                self._user = _pct_text(self._p, self._u.us, self._u.ue, False)
            self._have |= U_USER
        return self._user

    cdef object _get_password(self):
        if not self._have & U_PASSWORD:
            if self._u.ws >= 0:
                self._password = _pct_text(self._p, self._u.ws, self._u.we, False)
            self._have |= U_PASSWORD
        return self._password

    cdef object _get_host(self):
        if not self._have & U_HOST:
            if self._u.hs >= 0:
                self._host = _ascii(self._p, self._u.hs, self._u.he)
            self._have |= U_HOST
        return self._host

    cdef object _get_port(self):
        return None if self._u.port < 0 else self._u.port

    cdef object _get_params(self):
        cdef dict params
        if not self._have & U_PARAMS:
            params = {}
            if self._u.pe > self._u.ps:
                _uri_params(self._p, self._u.ps, self._u.pe, params)
            self._params = params
            self._have |= U_PARAMS
        return self._params

    cdef object _get_headers(self):
        cdef dict headers
        if not self._have & U_HEADERS:
            headers = {}
            if self._u.qs >= 0:
                _uri_headers(self._p, self._u.qs, self._u.qe, headers)
            self._headers = headers
            self._have |= U_HEADERS
        return self._headers

    cdef object _get_text(self):
        if not self._have & U_TEXT:
            self._text = _text(self._p, self._u.s, self._u.e)
            self._have |= U_TEXT
        return self._text

    def __str__(self):
        return self.text

    def __repr__(self):
        return f"Uri({self.text!r})"

    @property
    def user(self):
        return self._get_user()

    @property
    def password(self):
        return self._get_password()

    @property
    def host(self):
        return self._get_host()

    @property
    def port(self):
        return self._get_port()

    @property
    def params(self):
        return self._get_params()

    @property
    def headers(self):
        return self._get_headers()

    @property
    def text(self):
        return self._get_text()

    def __getattribute__(self, name):
        # Fields are read by identity of the interned name (see _attr_table).
        cdef int code = sip_attr_code(URI_ATTRS, <PyObject*>name)
        if code == UA_SCHEME:
            return self.scheme
        elif code == UA_USER:
            return self._get_user()
        elif code == UA_PASSWORD:
            return self._get_password()
        elif code == UA_HOST:
            return self._get_host()
        elif code == UA_PORT:
            return self._get_port()
        elif code == UA_PARAMS:
            return self._get_params()
        elif code == UA_HEADERS:
            return self._get_headers()
        elif code == UA_TEXT:
            return self._get_text()
        return PyObject_GenericGetAttr(self, name)


cdef Py_ssize_t _uri_params(cbuf p, Py_ssize_t i, Py_ssize_t e, dict params) except -1:
    """Checks URI parameters from ``p[i] == ';'``; fills ``params`` unless it is None."""
    cdef Py_ssize_t ns, vs
    cdef object value
    while i < e and p[i] == 59:
        i += 1
        ns = i
        while i < e and p[i] != 59 and p[i] != 63 and p[i] != 61:
            i += 1
        if i == ns:
            _fail(400, "Empty parameter", ns)
        vs = -1
        if i < e and p[i] == 61:
            i += 1
            vs = i
            while i < e and p[i] != 59 and p[i] != 63:
                i += 1
        if params is not None:
            name = _pct_text(p, ns, i if vs < 0 else vs - 1, True)
            value = None if vs < 0 else _pct_text(p, vs, i, False)
            params[name] = value
    return i


cdef int _uri_headers(cbuf p, Py_ssize_t i, Py_ssize_t e, dict headers) except -1:
    cdef Py_ssize_t j, eq
    while True:
        j = i
        while j < e and p[j] != 38:
            j += 1
        eq = i
        while eq < j and p[eq] != 61:
            eq += 1
        if eq == i:
            _fail(400, "Malformed URI header", i)
        if headers is not None:
            headers[_text(p, i, eq)] = _text(p, eq + 1, j) if eq < j else ""
        if j >= e:
            return 0
        i = j + 1


cdef str S_SIP = "sip"
cdef str S_SIPS = "sips"
cdef str S_TEL = "tel"


cdef int _scheme_kind(cbuf p, Py_ssize_t s, Py_ssize_t e) noexcept:
    cdef Py_ssize_t n = e - s
    if n == 3 and _lower(p[s]) == 115 and _lower(p[s + 1]) == 105 and _lower(p[s + 2]) == 112:
        return 1
    if n == 4 and _lower(p[s]) == 115 and _lower(p[s + 1]) == 105 and _lower(p[s + 2]) == 112 \
            and _lower(p[s + 3]) == 115:
        return 2
    if n == 3 and _lower(p[s]) == 116 and _lower(p[s + 1]) == 101 and _lower(p[s + 2]) == 108:
        return 3
    return 0


cdef int _port_num(cbuf p, Py_ssize_t i, Py_ssize_t e, Py_ssize_t* stop) except -1:
    cdef Py_ssize_t j = i
    cdef long n = 0
    while j < e and CLS[p[j]] & C_DIGIT:
        n = n * 10 + (p[j] - 48) if j - i < 6 else n
        j += 1
    if j == i or j - i > 5 or n > 65535:
        _fail(400, "Invalid port", i)
    stop[0] = j
    return <int>n


cdef Uri _make_uri(bytes buf, cbuf p, USpan* u):
    """The Uri of a URI that _check_uri accepted."""
    cdef Uri uri = Uri.__new__(Uri)
    uri._buf = buf
    uri._p = p
    uri._u = u[0]
    uri._have = 0
    if u.kind == 1:
        uri.scheme = S_SIP
    elif u.kind == 2:
        uri.scheme = S_SIPS
    elif u.kind == 3:
        uri.scheme = S_TEL
    else:
        uri.scheme = _lower_text(p, u.s, u.sc)
    return uri


cdef int _check_uri(cbuf p, Py_ssize_t s, Py_ssize_t e, USpan* u) except -1:
    cdef Py_ssize_t i
    if s >= e:
        _fail(400, "Empty URI", s)
    i = sip_class_find(p, s, e, CLS, C_URI_BAD, 3)
    if i >= 0:
        _fail(400, "Malformed URI", i)
    i = s
    if not (CLS[p[i]] & C_ALPHA):
        _fail(400, "Malformed URI", s)
    i += 1
    while i < e and CLS[p[i]] & C_SCHEME:
        i += 1
    if i >= e or p[i] != 58:
        _fail(400, "Malformed URI", i)
    u.s = <int>s
    u.e = <int>e
    u.sc = <int>i
    u.us = u.ws = u.hs = u.port = u.qs = -1
    u.ps = u.pe = 0
    u.kind = _scheme_kind(p, s, i)
    if u.kind == 1 or u.kind == 2:
        _sip_uri(p, i + 1, e, u)
    elif u.kind == 3:
        _tel_uri(p, i + 1, e, u)
    return 0


cdef int _sip_uri(cbuf p, Py_ssize_t s, Py_ssize_t e, USpan* u) except -1:
    cdef Py_ssize_t at = _find(p, 64, s, e)
    cdef Py_ssize_t h = s, j, colon, user_end, i
    if at < 0:
        j = s
        while j < e and p[j] != 59 and p[j] != 63:
            j += 1
        if _find(p, 37, s, j) >= 0:
            # snom PnP sends From/To <sip:MAC%3a000413...>: an escaped user and no host.
            u.us = <int>s
            u.ue = <int>j
            return _uri_rest(p, j, e, u)
    else:
        colon = _find(p, 58, s, at)
        user_end = at
        if colon >= 0:
            user_end = colon
            u.ws = <int>colon + 1
            u.we = <int>at
        if user_end == s:
            _fail(400, "Empty user", s)
        u.us = <int>s
        u.ue = <int>user_end
        h = at + 1
    i = _host_end(p, h, e)
    u.hs = <int>h
    u.he = <int>i
    if i < e and p[i] == 58:
        u.port = _port_num(p, i + 1, e, &i)
    return _uri_rest(p, i, e, u)


cdef int _uri_rest(cbuf p, Py_ssize_t i, Py_ssize_t e, USpan* u) except -1:
    u.ps = <int>i
    i = _uri_params(p, i, e, None)
    u.pe = <int>i
    if i < e and p[i] == 63:
        _uri_headers(p, i + 1, e, None)
        u.qs = <int>i + 1
        u.qe = <int>e
        i = e
    if i != e:
        _fail(400, "Malformed URI", i)
    return 0


cdef int _tel_uri(cbuf p, Py_ssize_t s, Py_ssize_t e, USpan* u) except -1:
    cdef Py_ssize_t i = s
    while i < e and p[i] != 59:
        i += 1
    if i == s:
        _fail(400, "Malformed URI", s)
    u.us = <int>s
    u.ue = <int>i
    u.ps = <int>i
    i = _uri_params(p, i, e, None)
    u.pe = <int>i
    if i != e:
        _fail(400, "Malformed URI", i)
    return 0

# --- header parameters of addresses and Via -----------------------------------------------
# A check pass notes where the value of each name the object exposes last appears (the
# dict keeps the last value of a repeated name); the dict itself is built when read.

cdef enum:
    P_TAG = 0
    P_EXPIRES = 1
    P_Q = 2
    P_REG_ID = 3
    P_INSTANCE = 4
    P_BRANCH = 5
    P_RECEIVED = 6
    P_MADDR = 7
    P_RPORT = 8
    P_TTL = 9
    N_PKEYS = 10

cdef struct PV:
    int s  # -2: name absent; -1: name without value; else value start ('"' when quoted)
    int e


cdef PV NO_PARAMS[N_PKEYS]  # every name absent: _check_params starts from a copy
for _k in range(N_PKEYS):
    NO_PARAMS[_k].s = -2
    NO_PARAMS[_k].e = 0




cdef inline bint _ieq(cbuf p, Py_ssize_t s, const char* lit, Py_ssize_t n) noexcept:
    return sip_ieq(p + s, <const unsigned char*>lit, n)


cdef int _pkey(cbuf p, Py_ssize_t s, Py_ssize_t e) noexcept:
    """Which of the exposed parameter names p[s:e] is (ASCII case folded), or -1."""
    cdef Py_ssize_t n = e - s
    if n == 1:
        return P_Q if _lower(p[s]) == 113 else -1
    if n == 3:
        if _ieq(p, s, b"tag", 3):
            return P_TAG
        if _ieq(p, s, b"ttl", 3):
            return P_TTL
    elif n == 5:
        if _ieq(p, s, b"rport", 5):
            return P_RPORT
        if _ieq(p, s, b"maddr", 5):
            return P_MADDR
    elif n == 6:
        if _ieq(p, s, b"branch", 6):
            return P_BRANCH
        if _ieq(p, s, b"reg-id", 6):
            return P_REG_ID
    elif n == 7:
        if _ieq(p, s, b"expires", 7):
            return P_EXPIRES
    elif n == 8:
        if _ieq(p, s, b"received", 8):
            return P_RECEIVED
    elif n == 13:
        if _ieq(p, s, b"+sip.instance", 13):
            return P_INSTANCE
    return -1


cdef Py_ssize_t _quoted_end(cbuf p, Py_ssize_t i, Py_ssize_t e) except -1:
    """Index past the quoted string at ``p[i] == '"'`` (checks it as _quoted does)."""
    cdef int high
    cdef Py_ssize_t j = sip_quote_end(p, i + 1, e, &high)
    if j >= 0 and p[j] == 34:  # the common case: no backslash
        return j + 1
    j = i + 1
    while j < e:
        if p[j] == 34:
            return j + 1
        if p[j] == 92 and j + 1 < e:
            j += 2
            continue
        j += 1
    _fail(400, "Unterminated quoted string", i)


cdef Py_ssize_t _check_params(cbuf p, Py_ssize_t i, Py_ssize_t e, PV* kv) except -1:
    """_header_params without the dict: where they stop; ``kv`` gets the exposed values."""
    cdef Py_ssize_t ns, ne, j, vs, ve
    cdef int key
    memcpy(kv, NO_PARAMS, sizeof(NO_PARAMS))
    while True:
        i = _skip_lws(p, i, e)
        if i >= e or p[i] != 59:
            return i
        i = _skip_lws(p, i + 1, e)
        ns = i
        i = _token_end(p, i, e)
        if i == ns:
            _fail(400, "Empty parameter", ns)
        ne = i
        vs = -1
        ve = 0
        j = _skip_lws(p, i, e)
        if j < e and p[j] == 61:
            j = _skip_lws(p, j + 1, e)
            vs = j
            if j < e and p[j] == 34:
                i = ve = _quoted_end(p, j, e)
            else:
                j = _pvalue_end(p, j, e)
                if j == vs:
                    _fail(400, "Empty parameter value", vs)
                i = ve = j
        key = _pkey(p, ns, ne)
        if key >= 0:
            kv[key].s = <int>vs
            kv[key].e = <int>ve


cdef object _pvalue(cbuf p, PV* v):
    """The value _header_params stores for a name noted by _check_params (an equal str:
    the values read this way, tags, branches, addresses, are not worth an interned-word
    lookup)."""
    cdef Py_ssize_t after
    if v.s < 0:
        return None
    if p[v.s] == 34:
        return _quoted(p, v.s, v.e, &after)
    return _ascii(p, v.s, v.e)

# --- addresses ----------------------------------------------------------------------------


cdef enum:
    AA_DISPLAY_NAME = 1
    AA_TAG = 2
    AA_EXPIRES = 3
    AA_Q = 4
    AA_INSTANCE = 5
    AA_REG_ID = 6
    AA_URI = 7
    AA_PARAMS = 8

cdef sip_attr_slot ADDRESS_ATTRS[SIP_ATTR_SLOTS]
_attr_table(ADDRESS_ATTRS, (
    "display_name", "tag", "expires", "q", "instance", "reg_id", "uri", "params",
))


# Holds only the buffer, strings, numbers and dicts of them: no reference cycles to collect.
@cython.no_gc
@cython.final
@cython.freelist(32)
cdef class Address:
    """name-addr or addr-spec with header parameters (From, To, Contact, ...)."""

    cdef readonly object display_name
    cdef readonly object tag
    cdef readonly object expires
    cdef readonly object q
    cdef readonly object instance
    cdef readonly object reg_id
    cdef bytes _buf
    cdef cbuf _p
    cdef int _ps, _pe
    cdef dict _params
    cdef USpan _u
    cdef Uri _uri

    cdef object _get_uri(self):
        if self._uri is None:
            self._uri = _make_uri(self._buf, self._p, &self._u)
        return self._uri

    cdef object _get_params(self):
        cdef Py_ssize_t stop
        if self._params is None:
            self._params = _header_params(self._p, self._ps, self._pe, &stop)
        return self._params

    def __repr__(self):
        return f"Address({self.display_name!r}, {self.uri.text!r}, {self.params!r})"

    @property
    def uri(self):
        return self._get_uri()

    @property
    def params(self):
        return self._get_params()

    def __getattribute__(self, name):
        # Fields are read by identity of the interned name (see _attr_table).
        cdef int code = sip_attr_code(ADDRESS_ATTRS, <PyObject*>name)
        if code == AA_DISPLAY_NAME:
            return self.display_name
        elif code == AA_TAG:
            return self.tag
        elif code == AA_EXPIRES:
            return self.expires
        elif code == AA_Q:
            return self.q
        elif code == AA_INSTANCE:
            return self.instance
        elif code == AA_REG_ID:
            return self.reg_id
        elif code == AA_URI:
            return self._get_uri()
        elif code == AA_PARAMS:
            return self._get_params()
        return PyObject_GenericGetAttr(self, name)


cdef long long _uint_text(str value, long long limit, str reason, Py_ssize_t offset) except -1:
    cdef long long n = 0
    cdef Py_ssize_t k
    cdef Py_UCS4 ch
    if not value:
        _fail(400, reason, offset)
    for k in range(len(value)):
        ch = value[k]
        if ch < 48 or ch > 57:
            _fail(400, reason, offset)
        n = n * 10 + (<long long>ch - 48)
        if n > limit:
            _fail(400, reason, offset)
    return n


cdef object _qvalue(str value, Py_ssize_t offset):
    cdef Py_ssize_t n = len(value), k
    cdef long thousandths, scale = 100
    cdef Py_UCS4 ch
    if n < 1 or n > 5 or (value[0] != "0" and value[0] != "1") or (n > 1 and value[1] != "."):
        _fail(400, "Invalid q value", offset)
    thousandths = (<long><Py_UCS4>value[0] - 48) * 1000
    for k in range(2, n):
        ch = value[k]
        if ch < 48 or ch > 57:
            _fail(400, "Invalid q value", offset)
        thousandths += (<long>ch - 48) * scale
        scale //= 10
    if thousandths > 1000:
        _fail(400, "Invalid q value", offset)
    return thousandths / 1000.0


cdef long long _uint_param(cbuf p, PV* v, long long limit, str reason,
                           Py_ssize_t offset) except -1:
    """_uint_text(_pvalue(p, v), ...) without making the str when the value is unquoted
    (a byte that is not an ASCII digit fails here as its character fails there)."""
    cdef long long n = 0
    cdef Py_ssize_t k
    if p[v.s] == 34:
        return _uint_text(_pvalue(p, v), limit, reason, offset)
    for k in range(v.s, v.e):  # not empty: _check_params refuses an empty value
        if not (CLS[p[k]] & C_DIGIT):
            _fail(400, reason, offset)
        n = n * 10 + (p[k] - 48)
        if n > limit:
            _fail(400, reason, offset)
    return n


cdef object _qvalue_param(cbuf p, PV* v, Py_ssize_t offset):
    """_qvalue(_pvalue(p, v), offset) without the str when the value is unquoted."""
    cdef Py_ssize_t k
    cdef long thousandths, scale = 100
    if p[v.s] == 34:
        return _qvalue(_pvalue(p, v), offset)
    if (v.e - v.s > 5 or (p[v.s] != 48 and p[v.s] != 49)
            or (v.e - v.s > 1 and p[v.s + 1] != 46)):
        _fail(400, "Invalid q value", offset)
    thousandths = (p[v.s] - 48) * 1000
    for k in range(v.s + 2, v.e):
        if not (CLS[p[k]] & C_DIGIT):
            _fail(400, "Invalid q value", offset)
        thousandths += (p[k] - 48) * scale
        scale //= 10
    if thousandths > 1000:
        _fail(400, "Invalid q value", offset)
    return thousandths / 1000.0


cdef Address _parse_address(bytes buf, cbuf p, Py_ssize_t s, Py_ssize_t e):
    cdef Py_ssize_t i = s, j, gt, ue, q, ps
    cdef object display = None
    cdef USpan u
    cdef PV kv[N_PKEYS]
    if s >= e:
        _fail(400, "Empty address", s)
    if p[i] == 34:
        display = _quoted(p, i, e, &i)
        i = _skip_lws(p, i, e)
        if i >= e or p[i] != 60:
            _fail(400, "Expected <", i)
    elif p[i] != 60:
        j = i
        while j < e and CLS[p[j]] & (C_TOKEN | C_LWS):
            j += 1
        if j < e and p[j] == 60:
            display = _text(p, i, _rtrim(p, i, j))
            i = j
    if i < e and p[i] == 60:
        gt = _find(p, 62, i + 1, e)
        if gt < 0:
            _fail(400, "Unterminated <", i)
        _check_uri(p, i + 1, gt, &u)
        i = gt + 1
    else:
        j = _find(p, 59, i, e)
        if j < 0:
            j = e
        ue = _rtrim(p, i, j)
        q = _find(p, 63, i, ue)
        if q >= 0:
            _fail(400, "URI with headers must be enclosed in <>", q)
        _check_uri(p, i, ue, &u)
        i = j
    ps = i
    i = _check_params(p, i, e, kv)
    if i != e:
        _fail(400, "Malformed address", i)
    cdef Address addr = Address.__new__(Address)
    addr.display_name = display
    addr._u = u
    addr._buf = buf
    addr._p = p
    addr._ps = ps
    addr._pe = e
    addr.tag = _pvalue(p, &kv[P_TAG])
    addr.instance = _pvalue(p, &kv[P_INSTANCE])
    addr.expires = addr.q = addr.reg_id = None
    if kv[P_EXPIRES].s >= 0:
        addr.expires = _uint_param(p, &kv[P_EXPIRES], DELTA_MAX, "Invalid expires parameter", ps)
    if kv[P_Q].s >= 0:
        addr.q = _qvalue_param(p, &kv[P_Q], ps)
    if kv[P_REG_ID].s >= 0:
        addr.reg_id = _uint_param(p, &kv[P_REG_ID], DELTA_MAX, "Invalid reg-id", ps)
    return addr

# --- Via, CSeq, Event, Auth ---------------------------------------------------------------


cdef enum:
    VA_PROTOCOL = 1
    VA_TRANSPORT = 2
    VA_BRANCH = 3
    VA_RECEIVED = 4
    VA_RPORT = 5
    VA_HAS_RPORT = 6
    VA_MADDR = 7
    VA_TTL = 8
    VA_HOST = 9
    VA_PORT = 10
    VA_PARAMS = 11

cdef sip_attr_slot VIA_ATTRS[SIP_ATTR_SLOTS]
_attr_table(VIA_ATTRS, (
    "protocol", "transport", "branch", "received", "rport", "has_rport", "maddr", "ttl",
    "host", "port", "params",
))


# Holds only the buffer, strings, numbers and dicts of them: no reference cycles to collect.
@cython.no_gc
@cython.final
@cython.freelist(16)
cdef class Via:
    """One via-parm: ``SIP/2.0/UDP host:port;branch=...;received=...;rport``."""

    cdef readonly str protocol
    cdef readonly str transport
    cdef readonly object branch
    cdef readonly object received
    cdef readonly object rport
    cdef readonly object has_rport
    cdef readonly object maddr
    cdef readonly object ttl
    cdef bytes _buf
    cdef cbuf _p
    cdef int _hs, _he, _port, _ps, _pe
    cdef str _host
    cdef dict _params

    cdef object _get_host(self):
        if self._host is None:
            self._host = _ascii(self._p, self._hs, self._he)
        return self._host

    cdef object _get_port(self):
        return None if self._port < 0 else self._port

    cdef object _get_params(self):
        cdef Py_ssize_t stop
        if self._params is None:
            self._params = _header_params(self._p, self._ps, self._pe, &stop)
        return self._params

    def __repr__(self):
        return f"Via({self.protocol}/{self.transport} {self.host}:{self.port} {self.params!r})"

    @property
    def host(self):
        return self._get_host()

    @property
    def port(self):
        return self._get_port()

    @property
    def params(self):
        return self._get_params()

    def __getattribute__(self, name):
        # Fields are read by identity of the interned name (see _attr_table).
        cdef int code = sip_attr_code(VIA_ATTRS, <PyObject*>name)
        if code == VA_PROTOCOL:
            return self.protocol
        elif code == VA_TRANSPORT:
            return self.transport
        elif code == VA_BRANCH:
            return self.branch
        elif code == VA_RECEIVED:
            return self.received
        elif code == VA_RPORT:
            return self.rport
        elif code == VA_HAS_RPORT:
            return self.has_rport
        elif code == VA_MADDR:
            return self.maddr
        elif code == VA_TTL:
            return self.ttl
        elif code == VA_HOST:
            return self._get_host()
        elif code == VA_PORT:
            return self._get_port()
        elif code == VA_PARAMS:
            return self._get_params()
        return PyObject_GenericGetAttr(self, name)


cdef str S_SIP20 = "SIP/2.0"
cdef str S_UDP = "UDP"
cdef str S_TCP = "TCP"
cdef str S_TLS = "TLS"


cdef inline bint _is(cbuf p, Py_ssize_t s, Py_ssize_t e, const char* lit, Py_ssize_t n) noexcept:
    cdef Py_ssize_t k
    if e - s != n:
        return False
    for k in range(n):
        if p[s + k] != <unsigned char>lit[k]:
            return False
    return True


cdef Via _parse_via(bytes buf, cbuf p, Py_ssize_t s, Py_ssize_t e):
    cdef Py_ssize_t ne, i, vs, ve, ts, te, h, he, ps
    cdef int port = -1
    cdef PV kv[N_PKEYS]
    ne = _token_end(p, s, e)
    if ne == s:
        _fail(400, "Malformed Via", s)
    i = _skip_lws(p, ne, e)
    if i >= e or p[i] != 47:
        _fail(400, "Malformed Via", i)
    vs = _skip_lws(p, i + 1, e)
    ve = _token_end(p, vs, e)
    if ve == vs:
        _fail(400, "Malformed Via", vs)
    i = _skip_lws(p, ve, e)
    if i >= e or p[i] != 47:
        _fail(400, "Malformed Via", i)
    ts = _skip_lws(p, i + 1, e)
    te = _token_end(p, ts, e)
    if te == ts:
        _fail(400, "Malformed Via", ts)
    h = _skip_lws(p, te, e)
    if h == te:
        _fail(400, "Malformed Via", h)
    he = _host_end(p, h, e)
    i = _skip_lws(p, he, e)
    if i < e and p[i] == 58:
        port = _port_num(p, _skip_lws(p, i + 1, e), e, &i)
    else:
        i = he
    ps = i
    i = _check_params(p, i, e, kv)
    if i != e:
        _fail(400, "Malformed Via", i)
    cdef Via via = Via.__new__(Via)
    if _is(p, s, ne, b"SIP", 3) and _is(p, vs, ve, b"2.0", 3):
        via.protocol = S_SIP20
    else:
        via.protocol = _text(p, s, ne) + "/" + _text(p, vs, ve)
    if _is(p, ts, te, b"UDP", 3):
        via.transport = S_UDP
    elif _is(p, ts, te, b"TCP", 3):
        via.transport = S_TCP
    elif _is(p, ts, te, b"TLS", 3):
        via.transport = S_TLS
    else:
        via.transport = _text(p, ts, te)
    via._buf = buf
    via._p = p
    via._hs = <int>h
    via._he = <int>he
    via._port = port
    via._ps = <int>ps
    via._pe = <int>e
    via.branch = _pvalue(p, &kv[P_BRANCH])
    via.received = _pvalue(p, &kv[P_RECEIVED])
    via.maddr = _pvalue(p, &kv[P_MADDR])
    via.has_rport = True if kv[P_RPORT].s != -2 else False
    via.rport = via.ttl = None
    if kv[P_RPORT].s >= 0:
        via.rport = _uint_param(p, &kv[P_RPORT], 65535, "Invalid rport", ps)
    if kv[P_TTL].s >= 0:
        via.ttl = _uint_param(p, &kv[P_TTL], 255, "Invalid ttl", ps)
    return via


cdef enum:
    CA_NUMBER = 1
    CA_METHOD = 2

cdef sip_attr_slot CSEQ_ATTRS[SIP_ATTR_SLOTS]
_attr_table(CSEQ_ATTRS, ("number", "method"))


# Holds only strings, numbers and dicts of them: no reference cycles to collect.
@cython.no_gc
@cython.final
@cython.freelist(8)
cdef class CSeq:
    cdef readonly object number
    cdef readonly str method

    def __repr__(self):
        return f"CSeq({self.number}, {self.method!r})"


    def __getattribute__(self, name):
        # Fields are read by identity of the interned name (see _attr_table).
        cdef int code = sip_attr_code(CSEQ_ATTRS, <PyObject*>name)
        if code == CA_NUMBER:
            return self.number
        elif code == CA_METHOD:
            return self.method
        return PyObject_GenericGetAttr(self, name)


cdef enum:
    EA_PACKAGE = 1
    EA_PARAMS = 2

cdef sip_attr_slot EVENT_ATTRS[SIP_ATTR_SLOTS]
_attr_table(EVENT_ATTRS, ("package", "params"))


# Holds only strings, numbers and dicts of them: no reference cycles to collect.
@cython.no_gc
@cython.final
@cython.freelist(8)
cdef class Event:
    cdef readonly str package
    cdef readonly dict params

    def __repr__(self):
        return f"Event({self.package!r}, {self.params!r})"


    def __getattribute__(self, name):
        # Fields are read by identity of the interned name (see _attr_table).
        cdef int code = sip_attr_code(EVENT_ATTRS, <PyObject*>name)
        if code == EA_PACKAGE:
            return self.package
        elif code == EA_PARAMS:
            return self.params
        return PyObject_GenericGetAttr(self, name)


cdef enum:
    XA_SCHEME = 1
    XA_PARAMS = 2

cdef sip_attr_slot AUTH_ATTRS[SIP_ATTR_SLOTS]
_attr_table(AUTH_ATTRS, ("scheme", "params"))


# Holds only strings, numbers and dicts of them: no reference cycles to collect.
@cython.no_gc
@cython.final
@cython.freelist(8)
cdef class Auth:
    """Credentials or a challenge: ``Digest username="...", realm="...", ...``."""

    cdef readonly str scheme
    cdef readonly dict params

    def __repr__(self):
        return f"Auth({self.scheme!r}, {self.params!r})"


    def __getattribute__(self, name):
        # Fields are read by identity of the interned name (see _attr_table).
        cdef int code = sip_attr_code(AUTH_ATTRS, <PyObject*>name)
        if code == XA_SCHEME:
            return self.scheme
        elif code == XA_PARAMS:
            return self.params
        return PyObject_GenericGetAttr(self, name)


cdef CSeq _parse_cseq(cbuf p, Py_ssize_t s, Py_ssize_t e, str method):
    cdef Py_ssize_t i = s, ms, me
    while i < e and CLS[p[i]] & C_DIGIT:
        i += 1
    cdef long long number = _uint(p, s, i, CSEQ_MAX, "Invalid CSeq")
    ms = _skip_lws(p, i, e)
    me = _token_end(p, ms, e)
    if ms == i or me == ms or me != e:
        _fail(400, "Invalid CSeq", s)
    cdef CSeq cseq = CSeq.__new__(CSeq)
    cseq.number = number
    cseq.method = _word(p, ms, me)
    return cseq


cdef Event _parse_event(cbuf p, Py_ssize_t s, Py_ssize_t e):
    cdef Py_ssize_t pe = _token_end(p, s, e), i
    if pe == s:
        _fail(400, "Malformed Event", s)
    cdef dict params = _header_params(p, pe, e, &i)
    if i != e:
        _fail(400, "Malformed Event", i)
    cdef Event event = Event.__new__(Event)
    event.package = _word(p, s, pe)
    event.params = params
    return event


cdef Auth _parse_auth(cbuf p, Py_ssize_t s, Py_ssize_t e):
    cdef Py_ssize_t se = _token_end(p, s, e), i, j, ns
    cdef ParamSpans sp
    cdef ParamSpan* a
    cdef Auth auth
    if se == s:
        _fail(400, "Malformed credentials", s)
    i = _skip_lws(p, se, e)
    if i < e and i == se:
        _fail(400, "Malformed credentials", i)
    _spans_init(&sp)
    try:
        while i < e:
            ns = i
            i = _token_end(p, i, e)
            if i == ns:
                _fail(400, "Malformed credentials", i)
            a = _spans_add(&sp, p, ns, i)
            j = i
            if j < e and CLS[p[j]] & C_LWS:
                j = _skip_lws(p, j, e)
            if j >= e or p[j] != 61:
                _fail(400, "Malformed credentials", j)
            j += 1
            if j < e and CLS[p[j]] & C_LWS:
                j = _skip_lws(p, j, e)
            i = _value_span(p, j, e, a, "Malformed credentials")
            if i < e and CLS[p[i]] & C_LWS:
                i = _skip_lws(p, i, e)
            if i < e:
                if p[i] != 44:
                    _fail(400, "Malformed credentials", i)
                i += 1
                if i < e and CLS[p[i]] & C_LWS:
                    i = _skip_lws(p, i, e)
        auth = Auth.__new__(Auth)
        auth.scheme = _word(p, s, se)
        auth.params = _params_dict(p, e, sp.a, sp.n)
        return auth
    finally:
        _spans_free(&sp)

# --- the message --------------------------------------------------------------------------


cdef dict _NAME_CACHE = {}
cdef dict _HEADER_IDS = HEADER_IDS


cdef extern from *:
    """
    /* The elements of the unfolded list value p[s:e]: split at commas, SP/HT trimmed,
       empty ones dropped, as _elem_end would split them when the value holds no quoted
       string or angle brackets. Spans go to st/en (at most max); returns the count, or -1
       when the value holds '"', '<' or '>' or more than max elements (the caller then
       takes the general loop). */
    static int sip_split_plain(const unsigned char *p, Py_ssize_t s, Py_ssize_t e,
                               Py_ssize_t *st, Py_ssize_t *en, int max) {
        Py_ssize_t i = s, k, ts, te;
        int n = 0;
    #if defined(__SSE2__)
        /* One pass finds the commas and refuses '"', '<' and '>', 16 bytes at a time. */
        const __m128i comma = _mm_set1_epi8(','), dq = _mm_set1_epi8('"');
        const __m128i lt = _mm_set1_epi8('<'), gt = _mm_set1_epi8('>');
        Py_ssize_t start = s;
        for (k = s; k < e; k += 16) {
            unsigned int cm, bad, valid = e - k >= 16 ? 0xFFFFu : (1u << (e - k)) - 1u;
            __m128i v;
            if (e - k >= 16) {
                v = _mm_loadu_si128((const __m128i *)(p + k));
            } else {
                unsigned char tail[16] = {0};
                memcpy(tail, p + k, (size_t)(e - k));
                v = _mm_loadu_si128((const __m128i *)tail);
            }
            bad = (unsigned int)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, dq),
                      _mm_or_si128(_mm_cmpeq_epi8(v, lt), _mm_cmpeq_epi8(v, gt)))) & valid;
            if (bad)
                return -1;
            cm = (unsigned int)_mm_movemask_epi8(_mm_cmpeq_epi8(v, comma)) & valid;
            while (cm) {
                Py_ssize_t c = k + __builtin_ctz(cm);
                cm &= cm - 1;
                ts = start; te = c;
                while (ts < te && (p[ts] == ' ' || p[ts] == '\\t')) ts++;
                while (te > ts && (p[te - 1] == ' ' || p[te - 1] == '\\t')) te--;
                if (te > ts) {
                    if (n == max)
                        return -1;
                    st[n] = ts; en[n] = te; n++;
                }
                start = c + 1;
            }
        }
        ts = start; te = e;
        while (ts < te && (p[ts] == ' ' || p[ts] == '\\t')) ts++;
        while (te > ts && (p[te - 1] == ' ' || p[te - 1] == '\\t')) te--;
        if (te > ts) {
            if (n == max)
                return -1;
            st[n] = ts; en[n] = te; n++;
        }
        (void)i;
        return n;
    #else
        for (;;) {
            while (i < e && (p[i] == ' ' || p[i] == '\\t'))
                i++;
            ts = i;
            while (i < e && p[i] != ',') {
                if (p[i] == '"' || p[i] == '<' || p[i] == '>')
                    return -1;
                i++;
            }
            te = i;
            while (te > ts && (p[te - 1] == ' ' || p[te - 1] == '\\t'))
                te--;
            if (te > ts) {
                if (n == max)
                    return -1;
                st[n] = ts;
                en[n] = te;
                n++;
            }
            if (i >= e)
                return n;
            i++;
        }
    #endif
    }
    """
    int sip_split_plain(cbuf p, Py_ssize_t s, Py_ssize_t e, Py_ssize_t* st, Py_ssize_t* en,
                        int max) noexcept nogil


# header("User-Agent") is called with the same str object (a literal) message after
# message: a direct-mapped cache on the object's address answers it without hashing. Each
# slot holds a reference to its name, so the address cannot be reused by another object.
cdef enum:
    NAME_SLOTS = 64
cdef PyObject* _NAME_SLOT_KEY[NAME_SLOTS]
cdef PyObject* _NAME_SLOT_HIT[NAME_SLOTS]


cdef tuple _lookup_name(str name):
    """(header id, lower-cased name bytes) for a name given to header(); cached."""
    cdef size_t slot = (<size_t><PyObject*>name >> 4) & (NAME_SLOTS - 1)
    if _NAME_SLOT_KEY[slot] == <PyObject*>name:
        return <tuple>_NAME_SLOT_HIT[slot]
    cdef object hit = _NAME_CACHE.get(name)
    if hit is None:
        key = name.encode("utf-8", "surrogateescape").lower()
        hit = (_HEADER_IDS.get(key, 0), key)
        if len(_NAME_CACHE) < 1024:  # names usually are literals; do not grow without bound
            _NAME_CACHE[name] = hit
    Py_XDECREF(_NAME_SLOT_KEY[slot])
    Py_XDECREF(_NAME_SLOT_HIT[slot])
    Py_INCREF(name)
    Py_INCREF(hit)
    _NAME_SLOT_KEY[slot] = <PyObject*>name
    _NAME_SLOT_HIT[slot] = <PyObject*>hit
    return <tuple>hit


cdef extern from *:
    """
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    /* Index of the first CR or LF in p[i:end], or -1. */
    static CYTHON_INLINE Py_ssize_t sip_find_crlf(const unsigned char *p, Py_ssize_t i,
                                                  Py_ssize_t end) {
    #if defined(__SSE2__)
        const __m128i cr = _mm_set1_epi8('\\r'), lf = _mm_set1_epi8('\\n');
        while (i + 16 <= end) {
            __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
            int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
            if (m)
                return i + __builtin_ctz((unsigned int)m);
            i += 16;
        }
    #endif
        for (; i < end; i++)
            if (p[i] == '\\r' || p[i] == '\\n')
                return i;
        return -1;
    }
    """
    Py_ssize_t sip_find_crlf(cbuf p, Py_ssize_t i, Py_ssize_t end) nogil


cdef extern from *:
    """
    /* One header line: name p[ns:ne], value p[vs:ve] (LWS trimmed). */
    typedef struct { int hid, ns, ne, vs, ve, folded; } sip_slot;

    /* The common header lines, in C: a token name, optional SP/HT, ':', a value on one
       line ended by CRLF and not continued (no folding). Fills slots[n..cap) and returns
       the new count; *pos moves past each accepted line and stops at the first line this
       loop does not take (end of headers, folding, anything malformed, the line limit),
       which the scan loop then handles exactly as before. ``hid`` is left 0. */
    static int sip_scan_simple(const unsigned char *p, Py_ssize_t *pos, Py_ssize_t end,
                               sip_slot *slots, int n, int cap, Py_ssize_t max_hlen,
                               const unsigned short *cls, unsigned short token) {
        Py_ssize_t i = *pos, ns, ne, vs, ve, le, seg;
        while (n < cap && i + 1 < end && !(p[i] == '\\r' && p[i + 1] == '\\n')) {
            ns = i;
            while (cls[p[i]] & token)  /* stops at the NUL after the bytes data at the latest */
                i++;
            if (i > end)
                i = end;
            ne = i;
            if (ne == ns)
                break;
            while (i < end && (p[i] == ' ' || p[i] == '\\t'))
                i++;
            if (i >= end || p[i] != ':')
                break;
            vs = i + 1;
            le = sip_find_crlf(p, vs, end);
            if (le < 0 || p[le] != '\\r' || le + 1 >= end || p[le + 1] != '\\n'
                    || le - ns > max_hlen)
                break;
            seg = le + 2;
            if (seg < end && (p[seg] == ' ' || p[seg] == '\\t'))
                break;  /* folded: the scan loop joins the lines */
            while (vs < le && (p[vs] == ' ' || p[vs] == '\\t'))
                vs++;
            ve = le;
            while (ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\\t'))
                ve--;
            slots[n].hid = 0;
            slots[n].ns = (int)ns;
            slots[n].ne = (int)ne;
            slots[n].vs = (int)vs;
            slots[n].ve = (int)ve;
            slots[n].folded = 0;
            n++;
            i = *pos = seg;
        }
        return n;
    }
    """
    ctypedef struct Slot "sip_slot":
        int hid
        int ns
        int ne
        int vs
        int ve
        int folded  # the value spans more than one line (holds CRLF)
    int sip_scan_simple(cbuf p, Py_ssize_t* pos, Py_ssize_t end, Slot* slots, int n, int cap,
                        Py_ssize_t max_hlen, const unsigned short* cls,
                        unsigned short token) noexcept nogil


cdef enum:
    N_ITEMS = 32  # header_values builds its list at once up to this many values
    N_INLINE_SLOTS = 20  # header spans kept inside the Message; more go to the heap


cdef inline str _value_text(cbuf p, Slot* h):
    if h.folded:
        return _unfold_text(p, h.vs, h.ve)
    return _ascii(p, h.vs, h.ve)


cdef enum:
    MA_IS_REQUEST = 1
    MA_STATUS = 2
    MA_CONTENT_LENGTH = 3
    MA_METHOD = 4
    MA_VERSION = 5
    MA_REASON = 6
    MA_URI = 7
    MA_VIA = 8
    MA_FROM = 9
    MA_TO = 10
    MA_CONTACTS = 11
    MA_CALL_ID = 12
    MA_CSEQ = 13
    MA_MAX_FORWARDS = 14
    MA_EXPIRES = 15
    MA_EVENT = 16
    MA_AUTHORIZATION = 17
    MA_BODY = 18
    MA_HEADER = 19
    MA_HEADER_VALUES = 20

cdef sip_attr_slot MESSAGE_ATTRS[SIP_ATTR_SLOTS]
_attr_table(MESSAGE_ATTRS, (
    "is_request", "status", "content_length", "method", "version", "reason", "uri", "via",
    "from_", "to", "contacts", "call_id", "cseq", "max_forwards", "expires", "event",
    "authorization", "body", "header", "header_values",
))


# Holds only strings, numbers and dicts of them: no reference cycles to collect.
@cython.no_gc
@cython.final
@cython.freelist(16)
cdef class Message:
    """A parsed SIP request or response; structured fields are parsed on first access."""

    cdef bytes _buf
    cdef cbuf _p
    cdef Slot* _hdr
    cdef bytes _more  # holds the spans when there are more than N_INLINE_SLOTS
    cdef Slot _slots[N_INLINE_SLOTS]
    cdef int _nhdr
    cdef unsigned char _first[N_HEADER_IDS]  # 1 + slot of each known header's first line
    cdef int _start, _end, _line_end, _body_start
    cdef int _ms, _me, _us, _ue, _vs, _ve, _rs, _re
    cdef unsigned int _have
    cdef bint _isreq
    cdef readonly object is_request
    cdef readonly object status
    cdef readonly object content_length
    cdef readonly object method
    cdef readonly object version
    cdef readonly object reason
    cdef object _uri, _via, _from, _to, _contacts, _call_id, _cseq
    cdef object _max_forwards, _expires, _event, _authorization

    # -- start line ------------------------------------------------------------------------

    # method, version, reason, status, is_request: filled by the scan (the start line is
    # checked there, and decoding it cannot fail).

    # -- header access ---------------------------------------------------------------------

    cdef bint _matches(self, Slot* h, int hid, bytes key) noexcept:
        cdef Py_ssize_t n, k
        cdef cbuf kp
        if hid:
            return h.hid == hid
        if h.hid:
            return False
        n = len(key)
        if h.ne - h.ns != n:
            return False
        kp = <cbuf>PyBytes_AS_STRING(key)
        for k in range(n):
            if _lower(self._p[h.ns + k]) != kp[k]:
                return False
        return True

    cdef int _slot(self, int hid) noexcept:
        cdef int k
        if self._first[hid]:
            return self._first[hid] - 1
        if self._nhdr < 255:  # every known header below slot 255 is in _first
            return -1
        for k in range(self._nhdr):
            if self._hdr[k].hid == hid:
                return k
        return -1

    def header(self, str name):
        """First value of header ``name`` (long or compact form, any case), unfolded."""
        return self._header(name)

    def header_values(self, str name):
        """Every value of ``name``: list headers split at commas, others one per line."""
        return self._values(name)

    cdef object _header(self, str name):
        cdef tuple named = _lookup_name(name)
        cdef bytes key = named[1]
        cdef int hid = named[0]
        cdef int k
        if hid:
            k = self._slot(hid)
            return None if k < 0 else _value_text(self._p, &self._hdr[k])
        for k in range(self._nhdr):
            if self._matches(&self._hdr[k], hid, key):
                return _value_text(self._p, &self._hdr[k])
        return None

    cdef list _values(self, str name):
        cdef tuple named = _lookup_name(name)
        cdef bytes key = named[1]
        cdef int hid = named[0]
        cdef int k, m, n = 0
        cdef Py_ssize_t i, j, ts, te
        cdef Py_ssize_t item_s[N_ITEMS]
        # item_e: the element's end; -2 - end: a folded element; -1: the whole value of
        # the line whose slot index is in item_s
        cdef Py_ssize_t item_e[N_ITEMS]
        cdef list out
        cdef Slot* h
        # The spans first, then a list of the right size (appending would grow it 3 times
        # for a 10-method Allow); more than N_ITEMS values take the appending path below.
        # A known header's lines start at its first slot.
        k = self._slot(hid) if hid else 0
        if k < 0:
            return []
        for k in range(k, self._nhdr):
            h = &self._hdr[k]
            if not self._matches(h, hid, key):
                continue
            if hid and IS_LIST[hid]:
                if not h.folded:
                    m = sip_split_plain(self._p, h.vs, h.ve, &item_s[n], &item_e[n], N_ITEMS - n)
                    if m >= 0:
                        n += m
                        continue
                i = h.vs
                while True:
                    j = _elem_end(self._p, i, h.ve)
                    ts = _skip_lws(self._p, i, j)
                    te = _rtrim(self._p, ts, j)
                    if te > ts:
                        if n == N_ITEMS:
                            return self._header_values(hid, key)
                        item_s[n] = ts
                        item_e[n] = te if not h.folded else -2 - te
                        n += 1
                    if j >= h.ve:
                        break
                    i = j + 1
            else:
                if n == N_ITEMS:
                    return self._header_values(hid, key)
                item_s[n] = k
                item_e[n] = -1
                n += 1
        out = PyList_New(n)
        for k in range(n):
            if item_e[k] == -1:
                value = _value_text(self._p, &self._hdr[item_s[k]])
            elif item_e[k] >= 0:
                value = _word(self._p, item_s[k], item_e[k])
            else:
                value = _unfold_word(self._p, item_s[k], -2 - item_e[k])
            Py_INCREF(value)
            PyList_SET_ITEM(out, k, value)
        return out

    cdef list _header_values(self, int hid, bytes key):
        """header_values by appending, for any number of values."""
        cdef int k
        cdef Py_ssize_t i, j, ts, te
        cdef list out = []
        cdef Slot* h
        for k in range(self._nhdr):
            h = &self._hdr[k]
            if not self._matches(h, hid, key):
                continue
            if hid and IS_LIST[hid]:
                i = h.vs
                while True:
                    j = _elem_end(self._p, i, h.ve)
                    ts = _skip_lws(self._p, i, j)
                    te = _rtrim(self._p, ts, j)
                    if te > ts:
                        if h.folded:
                            out.append(_unfold_word(self._p, ts, te))
                        else:
                            out.append(_word(self._p, ts, te))
                    if j >= h.ve:
                        break
                    i = j + 1
            else:
                out.append(_value_text(self._p, h))
        return out

    @property
    def headers(self):
        """Every header line as (name as sent, unfolded value), in order."""
        cdef int k
        return [
            (_text(self._p, self._hdr[k].ns, self._hdr[k].ne),
             _value_text(self._p, &self._hdr[k]))
            for k in range(self._nhdr)
        ]

    # -- structured fields -----------------------------------------------------------------

    cdef object _get_uri(self):
        if not self._have & HAVE_URI:
            self._uri = self._request_uri() if self._isreq else None
            self._have |= HAVE_URI
        return self._uri

    cdef Uri _request_uri(self):
        cdef USpan u
        _check_uri(self._p, self._us, self._ue, &u)
        return _make_uri(self._buf, self._p, &u)

    cdef list _list(self, int hid):
        """The parsed elements of every ``hid`` line (Via, Contact), in order."""
        cdef list out = []
        cdef int k = self._slot(hid)
        cdef Py_ssize_t i, j, ts, te
        cdef Slot* h
        if k < 0:
            return out
        for k in range(k, self._nhdr):
            h = &self._hdr[k]
            if h.hid != hid:
                continue
            i = h.vs
            while True:
                j = _elem_end(self._p, i, h.ve)
                ts = _skip_lws(self._p, i, j)
                te = _rtrim(self._p, ts, j)
                if ts == te:
                    _fail(400, "Empty list element", ts)
                if hid == H_VIA:
                    out.append(_parse_via(self._buf, self._p, ts, te))
                else:
                    out.append(_parse_address(self._buf, self._p, ts, te))
                if j >= h.ve:
                    break
                i = j + 1
        return out

    cdef object _get_via(self):
        if not self._have & HAVE_VIA:
            self._via = self._list(H_VIA)
            self._have |= HAVE_VIA
        return self._via

    cdef object _address(self, int hid):
        cdef int k = self._slot(hid)
        if k < 0:
            return None
        return _parse_address(self._buf, self._p, self._hdr[k].vs, self._hdr[k].ve)

    cdef object _get_from_(self):
        if not self._have & HAVE_FROM:
            self._from = self._address(H_FROM)
            self._have |= HAVE_FROM
        return self._from

    cdef object _get_to(self):
        if not self._have & HAVE_TO:
            self._to = self._address(H_TO)
            self._have |= HAVE_TO
        return self._to

    cdef object _get_contacts(self):
        if not self._have & HAVE_CONTACTS:
            self._contacts = self._contact_list()
            self._have |= HAVE_CONTACTS
        return self._contacts

    cdef list _contact_list(self):
        """[] if _contact_star() else _list(H_CONTACT), splitting the values only once."""
        cdef Py_ssize_t ts_[8]
        cdef Py_ssize_t te_[8]
        cdef Py_ssize_t star = -1, i, j, ts, te
        cdef int n = 0, k
        cdef Slot* h
        cdef list out = []
        for k in range(self._nhdr):
            h = &self._hdr[k]
            if h.hid != H_CONTACT:
                continue
            i = h.vs
            while True:
                j = _elem_end(self._p, i, h.ve)
                ts = _skip_lws(self._p, i, j)
                te = _rtrim(self._p, ts, j)
                if n == 8:
                    return [] if self._contact_star() else self._list(H_CONTACT)
                ts_[n] = ts
                te_[n] = te
                n += 1
                if te - ts == 1 and self._p[ts] == 42:
                    star = ts
                if j >= h.ve:
                    break
                i = j + 1
        if star >= 0:
            if n > 1:
                _fail(400, "Contact * must be the only contact", star)
            return out
        for k in range(n):
            if ts_[k] == te_[k]:
                _fail(400, "Empty list element", ts_[k])
            out.append(_parse_address(self._buf, self._p, ts_[k], te_[k]))
        return out

    cdef bint _contact_star(self) except -1:
        cdef Py_ssize_t star = -1, i, j, ts, te
        cdef int count = 0, k
        cdef Slot* h
        for k in range(self._nhdr):
            h = &self._hdr[k]
            if h.hid != H_CONTACT:
                continue
            i = h.vs
            while True:
                j = _elem_end(self._p, i, h.ve)
                ts = _skip_lws(self._p, i, j)
                te = _rtrim(self._p, ts, j)
                count += 1
                if te - ts == 1 and self._p[ts] == 42:
                    star = ts
                if j >= h.ve:
                    break
                i = j + 1
        if star >= 0 and count > 1:
            _fail(400, "Contact * must be the only contact", star)
        return star >= 0

    @property
    def contact_star(self):
        """True for ``Contact: *`` (REGISTER removing every binding)."""
        return self._contact_star()

    cdef object _get_call_id(self):
        cdef int k
        if not self._have & HAVE_CALL_ID:
            k = self._slot(H_CALL_ID)
            if k >= 0 and self._hdr[k].vs == self._hdr[k].ve:
                _fail(400, "Empty Call-ID", self._hdr[k].vs)
            self._call_id = (
                None if k < 0 else _value_text(self._p, &self._hdr[k])
            )
            self._have |= HAVE_CALL_ID
        return self._call_id

    cdef object _get_cseq(self):
        cdef int k
        if not self._have & HAVE_CSEQ:
            k = self._slot(H_CSEQ)
            self._cseq = (
                None if k < 0
                else _parse_cseq(self._p, self._hdr[k].vs, self._hdr[k].ve, self.method)
            )
            self._have |= HAVE_CSEQ
        return self._cseq

    cdef object _get_max_forwards(self):
        cdef int k
        if not self._have & HAVE_MAX_FORWARDS:
            k = self._slot(H_MAX_FORWARDS)
            self._max_forwards = (
                None if k < 0
                else _uint(self._p, self._hdr[k].vs, self._hdr[k].ve, 255, "Invalid Max-Forwards")
            )
            self._have |= HAVE_MAX_FORWARDS
        return self._max_forwards

    cdef object _get_expires(self):
        cdef int k
        if not self._have & HAVE_EXPIRES:
            k = self._slot(H_EXPIRES)
            self._expires = (
                None if k < 0
                else _uint(self._p, self._hdr[k].vs, self._hdr[k].ve, DELTA_MAX, "Invalid Expires")
            )
            self._have |= HAVE_EXPIRES
        return self._expires

    cdef object _get_event(self):
        cdef int k
        if not self._have & HAVE_EVENT:
            k = self._slot(H_EVENT)
            self._event = (
                None if k < 0 else _parse_event(self._p, self._hdr[k].vs, self._hdr[k].ve)
            )
            self._have |= HAVE_EVENT
        return self._event

    cdef object _get_authorization(self):
        cdef int k
        if not self._have & HAVE_AUTHORIZATION:
            k = self._slot(H_AUTHORIZATION)
            self._authorization = (
                None if k < 0 else _parse_auth(self._p, self._hdr[k].vs, self._hdr[k].ve)
            )
            self._have |= HAVE_AUTHORIZATION
        return self._authorization

    def auth(self, str name):
        """First Authorization / WWW-Authenticate / Proxy-Authenticate / -Authorization."""
        cdef tuple named = _lookup_name(name)
        cdef bytes key = named[1]
        cdef int hid = named[0]
        cdef int k
        for k in range(self._nhdr):
            if self._matches(&self._hdr[k], hid, key):
                return _parse_auth(self._p, self._hdr[k].vs, self._hdr[k].ve)
        return None

    cdef object _get_body(self):
        return PyBytes_FromStringAndSize(
            <const char*>self._p + self._body_start, self._end - self._body_start
        )

    # -- serialisation ---------------------------------------------------------------------

    def to_bytes(self):
        """Wire form: start line, ``Name: value`` lines unfolded, Content-Length, body."""
        cdef list out = [self._buf[self._start:self._line_end], b"\r\n"]
        cdef int k
        cdef Slot* h
        for k in range(self._nhdr):
            h = &self._hdr[k]
            out.append(self._buf[h.ns:h.ne])
            out.append(b": ")
            out.append(_unfold(self._p, h.vs, h.ve))
            out.append(b"\r\n")
        if self.content_length is None:
            out.append(b"Content-Length: %d\r\n" % (self._end - self._body_start))
        out.append(b"\r\n")
        out.append(self._buf[self._body_start:self._end])
        return b"".join(out)

    def __repr__(self):
        if self._isreq:
            return f"<Message {self.method} {_text(self._p, self._us, self._ue)}>"
        return f"<Message {self.status} {self.reason}>"

    @property
    def uri(self):
        return self._get_uri()

    @property
    def via(self):
        return self._get_via()

    @property
    def from_(self):
        return self._get_from_()

    @property
    def to(self):
        return self._get_to()

    @property
    def contacts(self):
        """Contact addresses in order; empty for ``Contact: *`` (see ``contact_star``)."""
        return self._get_contacts()

    @property
    def call_id(self):
        return self._get_call_id()

    @property
    def cseq(self):
        return self._get_cseq()

    @property
    def max_forwards(self):
        return self._get_max_forwards()

    @property
    def expires(self):
        return self._get_expires()

    @property
    def event(self):
        return self._get_event()

    @property
    def authorization(self):
        return self._get_authorization()

    @property
    def body(self):
        return self._get_body()

    def __getattribute__(self, name):
        # Fields are read by identity of the interned name (see _attr_table).
        cdef int code = sip_attr_code(MESSAGE_ATTRS, <PyObject*>name)
        if code == MA_IS_REQUEST:
            return self.is_request
        elif code == MA_STATUS:
            return self.status
        elif code == MA_CONTENT_LENGTH:
            return self.content_length
        elif code == MA_METHOD:
            return self.method
        elif code == MA_VERSION:
            return self.version
        elif code == MA_REASON:
            return self.reason
        elif code == MA_URI:
            return self._get_uri()
        elif code == MA_VIA:
            return self._get_via()
        elif code == MA_FROM:
            return self._get_from_()
        elif code == MA_TO:
            return self._get_to()
        elif code == MA_CONTACTS:
            return self._get_contacts()
        elif code == MA_CALL_ID:
            return self._get_call_id()
        elif code == MA_CSEQ:
            return self._get_cseq()
        elif code == MA_MAX_FORWARDS:
            return self._get_max_forwards()
        elif code == MA_EXPIRES:
            return self._get_expires()
        elif code == MA_EVENT:
            return self._get_event()
        elif code == MA_AUTHORIZATION:
            return self._get_authorization()
        elif code == MA_BODY:
            return self._get_body()
        elif code == MA_HEADER:
            return _bound(&HEADER_METHOD, &_HEADER_BOUND, self)
        elif code == MA_HEADER_VALUES:
            return _bound(&HEADER_VALUES_METHOD, &_HEADER_VALUES_BOUND, self)
        return PyObject_GenericGetAttr(self, name)



# ``msg.header`` and ``msg.header_values`` are read on every message, and reading a method
# binds it: through the generic lookup a Python bound method around the Cython function,
# whose call then parses its arguments. A builtin bound straight to the message (METH_O)
# is made and called for less than half of that.

cdef object _header_of(object msg, object name):
    if type(name) is not str:
        raise TypeError(f"header name must be str, not {type(name).__name__}")
    return (<Message>msg)._header(<str>name)


cdef object _values_of(object msg, object name):
    if type(name) is not str:
        raise TypeError(f"header name must be str, not {type(name).__name__}")
    return (<Message>msg)._values(<str>name)


cdef extern from "Python.h":
    object PyCFunction_NewEx(PyMethodDef* ml, object self, PyObject* module)
    enum: METH_O
    ctypedef struct PyCFunctionObject:
        PyObject* m_self
        PyObject* m_weakreflist
    Py_ssize_t Py_REFCNT(PyObject* o)
    void Py_DECREF(PyObject* o)


# The builtin made for ``msg.header`` mostly lives for one call: reading the method, calling
# it and dropping it cost an allocation, GC tracking and a free each time. So the last one
# made is kept, and when nothing else holds it (its only reference is this cache) it is
# re-bound to the message that reads the method instead. A weak reference does not count
# in the reference count, so one with weak references is never re-bound: it would move
# under the weak reference. The cache holds the last message it was bound to until the
# next read re-binds it (one message: a bounded cost).
cdef PyObject* _HEADER_BOUND = NULL
cdef PyObject* _HEADER_VALUES_BOUND = NULL


cdef object _bound(PyMethodDef* ml, PyObject** cache, object msg):
    cdef PyObject* kept = cache[0]
    cdef PyObject* previous
    if kept != NULL and Py_REFCNT(kept) == 1 and (<PyCFunctionObject*>kept).m_weakreflist == NULL:
        previous = (<PyCFunctionObject*>kept).m_self
        Py_INCREF(msg)
        (<PyCFunctionObject*>kept).m_self = <PyObject*>msg
        Py_DECREF(previous)  # last: it may free the previous message
        return <object>kept
    fresh = PyCFunction_NewEx(ml, msg, NULL)
    Py_INCREF(fresh)
    cache[0] = <PyObject*>fresh
    Py_XDECREF(kept)  # whoever still holds it keeps it bound as it was
    return fresh


cdef PyMethodDef HEADER_METHOD
HEADER_METHOD.ml_name = "header"
HEADER_METHOD.ml_meth = <PyCFunction>_header_of
HEADER_METHOD.ml_flags = METH_O
HEADER_METHOD.ml_doc = "First value of header ``name`` (long or compact form, any case), unfolded."
cdef PyMethodDef HEADER_VALUES_METHOD
HEADER_VALUES_METHOD.ml_name = "header_values"
HEADER_VALUES_METHOD.ml_meth = <PyCFunction>_values_of
HEADER_VALUES_METHOD.ml_flags = METH_O
HEADER_VALUES_METHOD.ml_doc = "Every value of ``name``: list headers split at commas, others one per line."

# --- scanning -----------------------------------------------------------------------------


cdef Py_ssize_t _version_end(cbuf p, Py_ssize_t i, Py_ssize_t e) noexcept:
    cdef Py_ssize_t j, k
    if e - i < 7 or (p[i] | 32) != 115 or (p[i + 1] | 32) != 105 or (p[i + 2] | 32) != 112 \
            or p[i + 3] != 47:
        return -1
    j = i + 4
    k = j
    while k < e and CLS[p[k]] & C_DIGIT:
        k += 1
    if k == j or k >= e or p[k] != 46:
        return -1
    j = k + 1
    k = j
    while k < e and CLS[p[k]] & C_DIGIT:
        k += 1
    return k if k > j else -1




cdef Py_ssize_t _line_end(cbuf p, Py_ssize_t pos, Py_ssize_t end, str reason) except -1:
    cdef Py_ssize_t nl = _find(p, 10, pos, end), cr
    if nl < 0:
        _fail(400, reason, pos)
    cr = _find(p, 13, pos, nl)
    if cr != nl - 1 or cr < pos:
        _fail(400, "Bare CR or LF", cr if cr >= 0 else nl)
    return cr


cdef inline bint _is_status_prefix(cbuf p, Py_ssize_t pos, Py_ssize_t le) noexcept:
    # Same test as the twin's buf[pos:pos+4].upper() == b"SIP/": ASCII case only.
    return (le - pos >= 4 and _lower(p[pos]) == 115 and _lower(p[pos + 1]) == 105
            and _lower(p[pos + 2]) == 112 and p[pos + 3] == 47)


cdef Py_ssize_t _start_line(Message msg, cbuf p, Py_ssize_t pos, Py_ssize_t end,
                            Py_ssize_t max_hlen) except -1:
    cdef Py_ssize_t le = sip_find_crlf(p, pos, end)
    if le < 0 or p[le] != 13 or le + 1 >= end or p[le + 1] != 10:
        le = _line_end(p, pos, end, "Truncated start line")  # raises
    if le - pos > max_hlen:
        _fail(400, "Start line too long", pos)
    msg._line_end = le
    if _is_status_prefix(p, pos, le):
        _status_line(msg, p, pos, le)
    else:
        _request_line(msg, p, pos, le)
    return le + 2


cdef int _status_line(Message msg, cbuf p, Py_ssize_t pos, Py_ssize_t le) except -1:
    cdef Py_ssize_t ve = _version_end(p, pos, le), c
    if ve < 0 or ve >= le or p[ve] != 32:
        _fail(400, "Malformed status line", pos if ve < 0 else ve)
    c = ve + 1
    if (le - c < 3 or p[c] < 49 or p[c] > 54 or not (CLS[p[c + 1]] & C_DIGIT)
            or not (CLS[p[c + 2]] & C_DIGIT) or (le > c + 3 and p[c + 3] != 32)):
        _fail(400, "Invalid status code", c)
    msg._isreq = False
    msg.is_request = False
    msg._us = msg._ue = c
    msg._vs = pos
    msg._ve = ve
    msg.status = (p[c] - 48) * 100 + (p[c + 1] - 48) * 10 + (p[c + 2] - 48)
    msg._rs = c + 4 if le > c + 3 else le
    msg._re = le
    msg.method = None
    msg.reason = _word(p, msg._rs, le)
    msg.version = _word(p, pos, ve)
    return 0


cdef int _request_line(Message msg, cbuf p, Py_ssize_t pos, Py_ssize_t le) except -1:
    cdef Py_ssize_t me = _token_end(p, pos, le), us, ue, i
    if me == pos or me >= le or p[me] != 32:
        _fail(400, "Malformed request line", me)
    us = me + 1
    ue = _find(p, 32, us, le)
    if ue < 0:
        ue = le
    if ue == us:
        _fail(400, "Malformed request line", us)
    for i in range(us, ue):
        if p[i] < 33 or p[i] == 127:
            _fail(400, "Malformed Request-URI", i)
    i = us
    if CLS[p[i]] & C_ALPHA:
        i += 1
        while i < ue and CLS[p[i]] & C_SCHEME:
            i += 1
    if i == us or i >= ue or p[i] != 58:
        _fail(400, "Malformed Request-URI", us)
    if ue >= le or _version_end(p, ue + 1, le) != le:
        _fail(400, "Malformed request line", ue)
    msg._isreq = True
    msg.is_request = True
    msg._ms = pos
    msg._me = me
    msg._us = us
    msg._ue = ue
    msg._vs = ue + 1
    msg._ve = le
    msg.status = None
    msg.method = _word(p, pos, me)
    msg.reason = None
    msg.version = _word(p, ue + 1, le)
    return 0


cdef Py_ssize_t _content_length(cbuf p, Py_ssize_t s, Py_ssize_t e, Py_ssize_t max_size) except -1:
    cdef Py_ssize_t n = 0, i
    if s >= e:
        _fail(400, "Invalid Content-Length", s)
    for i in range(s, e):
        if not (CLS[p[i]] & C_DIGIT):
            _fail(400, "Invalid Content-Length", s)
        n = n * 10 + (p[i] - 48)
        if n > max_size:
            _fail(513, "Content-Length too large", s)
    return n


cdef Message _scan(bytes data, Py_ssize_t end, bint stream, Py_ssize_t max_size,
                   Py_ssize_t max_headers, Py_ssize_t max_hlen):
    cdef cbuf p = <cbuf>PyBytes_AS_STRING(data)
    cdef Py_ssize_t pos = 0, ns, ne, i, vs, seg, le, ve, n, cl = -1
    cdef int cap, folded, k, done = 0
    cdef Slot* h
    while pos + 1 < end and p[pos] == 13 and p[pos + 1] == 10:
        pos += 2
    if pos >= end:
        _fail(400, "Empty message", pos)
    cdef Message msg = Message.__new__(Message)
    msg._buf = data
    msg._p = p
    msg._start = pos
    pos = _start_line(msg, p, pos, end, max_hlen)
    cap = N_INLINE_SLOTS
    msg._hdr = &msg._slots[0]
    while True:
        # Most lines take the C loop; it stops at the first one it does not take (folding,
        # an error, the end of the headers), which the code below handles.
        msg._nhdr = sip_scan_simple(p, &pos, end, msg._hdr, msg._nhdr,
                                    cap if cap < max_headers else <int>max_headers,
                                    max_hlen, CLS, C_TOKEN)
        # The new slots, from the C loop and from the line handled below on the last turn:
        # their header ids, and Content-Length (in line order, as the errors must be).
        for k in range(done, msg._nhdr):
            h = &msg._hdr[k]
            h.hid = _header_id(p + h.ns, h.ne - h.ns, h.ns + 16 <= end)
            if not msg._first[h.hid] and k < 255:
                msg._first[h.hid] = k + 1
            if h.hid == H_CONTENT_LENGTH:
                n = _content_length(p, h.vs, h.ve, max_size)
                if cl < 0:
                    cl = n
                elif n != cl and stream:
                    _fail(400, "Conflicting Content-Length", h.ns)
        done = msg._nhdr
        if pos + 1 < end and p[pos] == 13 and p[pos + 1] == 10:
            pos += 2
            break
        if pos >= end:
            _fail(400, "Truncated header section", pos)
        if msg._nhdr >= max_headers:
            _fail(400, "Too many headers", pos)
        ns = pos
        ne = _name_end(p, pos, end)
        if ne == ns:
            _fail(400, "Malformed header line", ns)
        i = ne
        while i < end and (p[i] == 32 or p[i] == 9):
            i += 1
        if i >= end or p[i] != 58:
            _fail(400, "Malformed header line", i)
        vs = i + 1
        seg = vs
        folded = 0
        while True:
            le = sip_find_crlf(p, seg, end)
            if le < 0 or p[le] != 13 or le + 1 >= end or p[le + 1] != 10:
                le = _line_end(p, seg, end, "Truncated header section")  # raises
            if le - ns > max_hlen:
                _fail(400, "Header too long", ns)
            seg = le + 2
            if not (seg < end and (p[seg] == 32 or p[seg] == 9)):
                break
            folded = 1
        pos = seg
        vs = _skip_lws(p, vs, le)
        ve = _rtrim(p, vs, le)
        if msg._nhdr == cap:
            # Past the inline slots, the spans live in a bytes object the message owns, so
            # that freeing it needs no __dealloc__ (which costs every message an
            # exception save and restore).
            cap *= 2
            more = PyBytes_FromStringAndSize(NULL, cap * sizeof(Slot))
            memcpy(PyBytes_AS_STRING(more), msg._hdr, msg._nhdr * sizeof(Slot))
            msg._more = more
            msg._hdr = <Slot*>PyBytes_AS_STRING(more)
        msg._hdr[msg._nhdr].hid = 0  # set with the C loop's slots, on the next turn
        msg._hdr[msg._nhdr].ns = ns
        msg._hdr[msg._nhdr].ne = ne
        msg._hdr[msg._nhdr].vs = vs
        msg._hdr[msg._nhdr].ve = ve
        msg._hdr[msg._nhdr].folded = folded
        msg._nhdr += 1
    msg._body_start = pos
    if cl < 0:
        msg.content_length = None
        msg._end = pos if stream else end
    else:
        msg.content_length = cl
        msg._end = pos + cl
        if not stream and pos + cl > end:
            _fail(400, "Content-Length larger than message", pos)
    return msg


def parse(data, *, Py_ssize_t max_size=MAX_MESSAGE_SIZE, Py_ssize_t max_headers=MAX_HEADERS,
          Py_ssize_t max_header_length=MAX_HEADER_LENGTH):
    """Parse one SIP message from a UDP datagram (trailing octets past the body are ignored).

    Raises ``SipParseError`` when the start line or header section is malformed or a
    size limit is exceeded. Structured fields are checked when first read. A bytes object
    is used in place; other buffers are copied once, because the lazily parsed message
    keeps reading its buffer and must not see it change.
    """
    cdef bytes buf = data if type(data) is bytes else bytes(data)
    if max_size > 0x7FFFFFFF:
        raise ValueError("max_size must fit in 31 bits")
    if PyBytes_GET_SIZE(buf) > max_size:
        _fail(513, "Message too large", max_size)
    return _scan(buf, PyBytes_GET_SIZE(buf), False, max_size, max_headers, max_header_length)


cdef class StreamParser:
    """Frames SIP messages out of a TCP/TLS byte stream; bytes may arrive split anywhere.

    ``feed`` returns the messages completed by the new bytes. When the stream turns out
    malformed, the messages before the fault are returned and ``SipParseError`` is raised
    by the next ``feed`` (``feed(b"")`` flushes it) and by every one after: a stream
    cannot be re-synchronised, the connection should be closed.
    """

    cdef bytearray _buf
    cdef Py_ssize_t _searched
    cdef Py_ssize_t _need
    cdef object _error
    cdef readonly Py_ssize_t max_size
    cdef readonly Py_ssize_t max_headers
    cdef readonly Py_ssize_t max_header_length

    def __init__(self, *, Py_ssize_t max_size=MAX_MESSAGE_SIZE,
                 Py_ssize_t max_headers=MAX_HEADERS,
                 Py_ssize_t max_header_length=MAX_HEADER_LENGTH):
        if max_size > 0x7FFFFFFF:
            raise ValueError("max_size must fit in 31 bits")
        self._buf = bytearray()
        self._searched = 0
        self._need = -1
        self._error = None
        self.max_size = max_size
        self.max_headers = max_headers
        self.max_header_length = max_header_length

    @property
    def buffered(self):
        """Bytes received but not yet part of a complete message."""
        return len(self._buf)

    def feed(self, data):
        if self._error is not None:
            raise self._error
        self._buf += data
        cdef list out = []
        try:
            while True:
                msg = self._next()
                if msg is None:
                    return out
                out.append(msg)
        except SipParseError as exc:
            # Messages completed before the error are delivered first; the error comes
            # with the next feed, so framing does not depend on how the bytes were split.
            self._error = exc
            if out:
                return out
            raise

    cdef object _next(self):
        cdef bytearray buf = self._buf
        cdef Py_ssize_t skip, hend
        cdef Message head
        if self._need < 0:
            # Keep-alive CRLFs between messages (RFC 5626 section 3.5.1) are skipped.
            skip = 0
            while skip + 1 < len(buf) and buf[skip] == 13 and buf[skip + 1] == 10:
                skip += 2
            if skip:
                del buf[:skip]
                self._searched = 0
            hend = buf.find(b"\r\n\r\n", max(self._searched - 3, 0))
            if hend < 0:
                self._searched = len(buf)
                if len(buf) > self.max_size:
                    _fail(513, "Message too large", self.max_size)
                return None
            head = self._scan(bytes(buf[:hend + 4]))
            if head._end > self.max_size:
                _fail(513, "Message too large", self.max_size)
            self._need = head._end
        if len(buf) < self._need:
            return None
        msg = self._scan(bytes(buf[:self._need]))
        del buf[:self._need]
        self._need = -1
        self._searched = 0
        return msg

    cdef Message _scan(self, bytes raw):
        return _scan(raw, len(raw), True, self.max_size, self.max_headers,
                     self.max_header_length)
