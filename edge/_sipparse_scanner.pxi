# Byte-level scanning shared by every topic: character classes, the header-name and
# interned-word tables, SSE2 searches (with a byte-loop fallback), text decoding, numbers,
# quoted strings and list elements. Included by _sipparse.pyx; mirrors
# edge/_sipparse_py/scanner.py.

cdef extern from *:
    """
    #define SIP_HASH_SIZE 256  /* slots of each name table; a power of two */
    """
    enum: SIP_HASH_SIZE


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
