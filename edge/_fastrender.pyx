# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Default template engine, Cython accelerator of ``edge._fastrender_py``.

Same API and byte-identical output as the twin. Parsing is shared with the
twin (compiling is not hot); this module only makes the plan C-friendly and
renders it: look each distinct value up once, take its UTF-8 bytes straight
from the str object (no copy for ASCII), measure, allocate the result once and
memcpy literals and values into it. Escaping works on the UTF-8 bytes and only
runs for a value that contains something to escape.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_CheckExact
from cpython.exc cimport PyErr_Clear, PyErr_Occurred
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport Py_DECREF, Py_INCREF, PyObject
from cpython.tuple cimport PyTuple_GET_ITEM
from cpython.unicode cimport PyUnicode_Check
from libc.string cimport memcpy

from edge._fastrender_py import ESCAPE_MODES, bad_value_type, check_escape, parse
from edge.template_errors import TemplateError

__all__ = ["ESCAPE_MODES", "Plan", "TemplateError", "compile_template"]


cdef extern from "Python.h":
    # NULL with an exception set (lone surrogates); checked by the caller.
    const char* PyUnicode_AsUTF8AndSize(object text, Py_ssize_t* size)
    # Borrowed reference; NULL without an exception set means "not there".
    PyObject* PyDict_GetItemWithError(object mapping, object key)


# Byte classes: what a byte of a UTF-8 value needs in the current escape mode.
# (Anonymous enum: plain int constants that can index the tables below.)
cdef enum:
    PLAIN = 0
    TO_SPACE = 1     # a control character: becomes one space
    AMP = 2          # &  -> &amp;
    LT = 3           # <  -> &lt;
    GT = 4           # >  -> &gt;
    QUOT = 5         # "  -> &quot;
    APOS = 6         # '  -> &apos;
    LEAD_C2 = 7      # may open U+0080..U+009F (C1 control), 2 bytes -> space
    LEAD_E2 = 8      # may open U+2028/U+2029 (line/para separator), 3 bytes -> space


cdef enum:
    STACK_PIECES = 96  # distinct names rendered without a heap allocation


cdef unsigned char XML_CLASS[256]
cdef unsigned char LINE_CLASS[256]
# Entity text per class, indexed by byte class (unused slots are empty).
cdef const char* ENTITY[7]
cdef Py_ssize_t ENTITY_LEN[7]


cdef void _init_tables() noexcept:
    cdef int c
    for c in range(256):
        XML_CLASS[c] = PLAIN
        LINE_CLASS[c] = PLAIN
    for c in range(0x20):
        LINE_CLASS[c] = TO_SPACE
        # XML 1.0 allows no C0 control but TAB, LF and CR, not even escaped.
        if c != 0x09 and c != 0x0A and c != 0x0D:
            XML_CLASS[c] = TO_SPACE
    LINE_CLASS[0x7F] = TO_SPACE
    LINE_CLASS[0xC2] = LEAD_C2
    LINE_CLASS[0xE2] = LEAD_E2
    XML_CLASS[ord("&")] = AMP
    XML_CLASS[ord("<")] = LT
    XML_CLASS[ord(">")] = GT
    XML_CLASS[ord('"')] = QUOT
    XML_CLASS[ord("'")] = APOS
    ENTITY[AMP] = b"&amp;"
    ENTITY[LT] = b"&lt;"
    ENTITY[GT] = b"&gt;"
    ENTITY[QUOT] = b"&quot;"
    ENTITY[APOS] = b"&apos;"
    for c in range(AMP, APOS + 1):
        ENTITY_LEN[c] = len(<bytes>ENTITY[c])


_init_tables()


cdef inline Py_ssize_t _special_len(const unsigned char* p, Py_ssize_t i, Py_ssize_t n,
                                    unsigned char cls) noexcept nogil:
    """Input bytes taken by a special at p[i], or 0 when p[i] is an ordinary byte.

    The UTF-8 of a str is always well formed, so the continuation bytes a lead
    byte promises are there.
    """
    if cls == LEAD_C2:
        return 2 if (i + 1 < n and p[i + 1] <= 0x9F) else 0
    if cls == LEAD_E2:
        if i + 2 < n and p[i + 1] == 0x80 and (p[i + 2] == 0xA8 or p[i + 2] == 0xA9):
            return 3
        return 0
    return 1


cdef Py_ssize_t _escaped_len(const unsigned char* p, Py_ssize_t n,
                             const unsigned char* table) noexcept nogil:
    """Length of the escaped form of p[0:n], or -1 when it needs no escaping."""
    cdef Py_ssize_t i = 0, out = n, taken
    cdef bint dirty = False
    cdef unsigned char cls
    while i < n:
        cls = table[p[i]]
        if cls == PLAIN:
            i += 1
            continue
        taken = _special_len(p, i, n, cls)
        if taken == 0:
            i += 1
            continue
        dirty = True
        out += (ENTITY_LEN[cls] if AMP <= cls <= APOS else 1) - taken
        i += taken
    return out if dirty else -1


cdef char* _write_escaped(char* dst, const unsigned char* p, Py_ssize_t n,
                          const unsigned char* table) noexcept nogil:
    """Write the escaped form of p[0:n] at dst; return the end of what was written."""
    cdef Py_ssize_t i = 0, run, taken
    cdef unsigned char cls
    while i < n:
        run = i  # copy the run of ordinary bytes in one memcpy
        while i < n and table[p[i]] == PLAIN:
            i += 1
        memcpy(dst, p + run, i - run)
        dst += i - run
        if i == n:
            break
        cls = table[p[i]]
        taken = _special_len(p, i, n, cls)
        if taken == 0:  # a lead byte of a character that needs nothing
            dst[0] = <char>p[i]
            dst += 1
            i += 1
        elif AMP <= cls <= APOS:
            memcpy(dst, ENTITY[cls], ENTITY_LEN[cls])
            dst += ENTITY_LEN[cls]
            i += taken
        else:
            dst[0] = b" "
            dst += 1
            i += taken
    return dst


cdef struct Piece:
    PyObject* value       # strong reference, keeps ``data`` alive
    const char* data      # UTF-8 of the value
    Py_ssize_t size       # len(data)
    Py_ssize_t out_size   # bytes it takes in the output
    bint escaped          # out_size differs in content from data: run the escaper


cdef inline void _release(Piece* pieces, Py_ssize_t count) noexcept:
    cdef Py_ssize_t i
    for i in range(count):
        Py_DECREF(<object>pieces[i].value)


cdef class Plan:
    """A compiled Default-engine template; build it with :func:`compile_template`."""

    cdef readonly str escape
    cdef readonly frozenset variables
    cdef tuple _literals          # bytes, n_slots + 1 of them (kept alive for _lit_ptr)
    cdef tuple _names             # distinct names in first-use order
    cdef tuple _positions         # (line, column) of each name's first placeholder
    cdef Py_ssize_t _n_slots
    cdef Py_ssize_t _literal_size
    cdef const unsigned char* _table
    cdef const char** _lit_ptr
    cdef Py_ssize_t* _lit_len
    cdef Py_ssize_t* _slot_name  # slot -> index into _names

    def __cinit__(self):
        self._lit_ptr = NULL
        self._lit_len = NULL
        self._slot_name = NULL

    def __dealloc__(self):
        PyMem_Free(self._lit_ptr)
        PyMem_Free(self._lit_len)
        PyMem_Free(self._slot_name)

    def __init__(self, *args, **kwargs):
        raise TypeError("build a Plan with compile_template()")

    def __repr__(self):
        return f"<Plan escape={self.escape!r} variables={len(self.variables)}>"

    cdef _setup(self, parsed, str escape):
        cdef Py_ssize_t i
        cdef bytes literal
        self.escape = escape
        self.variables = frozenset(parsed.slots)
        self._table = XML_CLASS if escape == "xml" else LINE_CLASS if escape == "line" else NULL
        self._literals = tuple(parsed.literals)
        self._names = tuple(parsed.positions)
        self._positions = tuple(parsed.positions.values())
        self._n_slots = len(parsed.slots)
        count = self._n_slots + 1
        self._lit_ptr = <const char**>PyMem_Malloc(count * sizeof(char*))
        self._lit_len = <Py_ssize_t*>PyMem_Malloc(count * sizeof(Py_ssize_t))
        self._slot_name = <Py_ssize_t*>PyMem_Malloc(count * sizeof(Py_ssize_t))
        if not self._lit_ptr or not self._lit_len or not self._slot_name:
            raise MemoryError()
        self._literal_size = 0
        for i in range(count):
            literal = self._literals[i]
            self._lit_ptr[i] = PyBytes_AS_STRING(literal)
            self._lit_len[i] = len(literal)
            self._literal_size += len(literal)
        index = {name: i for i, name in enumerate(self._names)}
        for i in range(self._n_slots):
            self._slot_name[i] = index[parsed.slots[i]]

    def render(self, values) -> bytes:
        """Render with ``values`` (name -> str); a missing name raises TemplateError."""
        cdef Py_ssize_t n_names = len(self._names)
        cdef Piece on_stack[STACK_PIECES]  # a phone template needs no heap block
        cdef Piece* pieces = on_stack
        if n_names == 0:
            return self._literals[0]
        if n_names > STACK_PIECES:
            pieces = <Piece*>PyMem_Malloc(n_names * sizeof(Piece))
            if pieces == NULL:
                raise MemoryError()
        try:
            self._collect(values, pieces, n_names)
            try:
                return self._assemble(pieces, self._total(pieces))
            finally:
                _release(pieces, n_names)
        finally:
            if pieces != on_stack:
                PyMem_Free(pieces)

    cdef int _collect(self, object values, Piece* pieces, Py_ssize_t n_names) except -1:
        """Fill pieces[i] for every name i; on an error, hold no references.

        The hot loop has no try/except (Cython saves the exception state on
        entering one); each failure is raised by a cold helper instead.
        """
        cdef Py_ssize_t i, size, escaped_size
        cdef PyObject* value
        cdef PyObject* name
        cdef bint exact_dict = PyDict_CheckExact(values)
        cdef Piece* piece
        for i in range(n_names):
            piece = &pieces[i]
            name = PyTuple_GET_ITEM(self._names, i)
            if exact_dict:
                value = PyDict_GetItemWithError(values, <object>name)
                if value == NULL:
                    _release(pieces, i)
                    self._raise_missing(i)
                Py_INCREF(<object>value)
            else:
                value = self._generic_lookup(values, i, pieces)
            piece.value = value
            if not PyUnicode_Check(<object>value):
                _release(pieces, i + 1)
                raise bad_value_type(<object>name, <object>value)
            piece.data = PyUnicode_AsUTF8AndSize(<object>value, &size)
            if piece.data == NULL:
                _release(pieces, i + 1)
                self._raise_surrogate(i)
            piece.size = size
            piece.out_size = size
            piece.escaped = False
            if self._table != NULL:
                escaped_size = _escaped_len(<const unsigned char*>piece.data, size, self._table)
                if escaped_size >= 0:
                    piece.out_size = escaped_size
                    piece.escaped = True
        return 0

    cdef PyObject* _generic_lookup(self, object values, Py_ssize_t i, Piece* pieces) except NULL:
        """New reference to ``values[name]`` for a mapping that is not an exact dict."""
        cdef object value
        try:
            value = values[self._names[i]]
        except BaseException as exc:
            _release(pieces, i)
            if isinstance(exc, KeyError):
                self._raise_missing(i)
            raise
        Py_INCREF(value)
        return <PyObject*>value

    cdef int _raise_missing(self, Py_ssize_t i) except -1:
        if PyErr_Occurred():
            return -1  # e.g. a key's __eq__ raised inside the dict lookup: let that through
        raise TemplateError(
            f"no value for variable {self._names[i]!r}", *self._positions[i]
        ) from None

    cdef int _raise_surrogate(self, Py_ssize_t i) except -1:
        PyErr_Clear()  # the UnicodeEncodeError, replaced by a clear TemplateError
        message = f"value for {self._names[i]!r} is not valid Unicode (lone surrogate)"
        raise TemplateError(message, *self._positions[i])

    cdef Py_ssize_t _total(self, Piece* pieces) noexcept:
        cdef Py_ssize_t i, total = self._literal_size
        for i in range(self._n_slots):
            total += pieces[self._slot_name[i]].out_size
        return total

    cdef bytes _assemble(self, Piece* pieces, Py_ssize_t total):
        cdef bytes result = PyBytes_FromStringAndSize(NULL, total)
        cdef char* dst = PyBytes_AS_STRING(result)
        cdef Piece* piece
        cdef Py_ssize_t i
        for i in range(self._n_slots):
            memcpy(dst, self._lit_ptr[i], self._lit_len[i])
            dst += self._lit_len[i]
            piece = &pieces[self._slot_name[i]]
            if piece.escaped:
                dst = _write_escaped(dst, <const unsigned char*>piece.data, piece.size, self._table)
            else:
                memcpy(dst, piece.data, piece.size)
                dst += piece.size
        memcpy(dst, self._lit_ptr[self._n_slots], self._lit_len[self._n_slots])
        return result


def compile_template(str source, str escape="none", known=None):
    """Compile ``source`` once; ``known`` (when given) is the set of allowed names."""
    check_escape(escape)
    parsed = parse(source, known)
    cdef Plan plan = Plan.__new__(Plan)
    plan._setup(parsed, escape)
    return plan
