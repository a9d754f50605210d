# Declarations of the compiled SIP parser: the types, constants and classes that the topic
# files included by edge/_sipparse.pyx share (edge/_sipparse_*.pxi, docs/sipparse.md).
# Everything here is C or Cython-level; the Python API is the .pyx's and the .pyi's.

ctypedef const unsigned char* cbuf  # a cursor into the message's bytes (never written)

# Character classes: bits of CLS[byte] (_sipparse_scanner.pxi), RFC 3261 section 25.1.
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

# Header ids the parser itself reads (the numbers of sipdefs.HEADER_IDS).
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
    N_ITEMS = 32  # header_values builds its list at once up to this many values
    N_INLINE_SLOTS = 20  # header spans kept inside the Message; more go to a bytes object

# One header line: name p[ns:ne], value p[vs:ve] (LWS trimmed); hid 0 for unknown names.
cdef struct Slot:
    int hid
    int ns
    int ne
    int vs
    int ve
    int folded  # the value spans more than one line (holds CRLF)

# The spans of a URI that the grammar check accepted (_sipparse_uri.pxi).
cdef struct USpan:
    int s, e, sc  # the whole URI; sc: the colon after the scheme
    int kind  # 1 sip, 2 sips, 3 tel, 0 another scheme
    int us, ue, ws, we, hs, he  # user, password, host; start -1: absent
    int ps, pe  # parameters, from the first ';'
    int qs, qe  # headers, after '?'; qs -1: absent
    int port  # -1: absent

# Header parameters that Address and Via expose as attributes (_sipparse_params.pxi).
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


cdef class Uri:
    cdef readonly str scheme
    cdef bytes _buf  # keeps _p valid
    cdef cbuf _p
    cdef USpan _u
    cdef unsigned int _have  # U_* bits: which of the lazy fields below are made
    cdef object _user, _password, _host, _params, _headers, _text


cdef class Address:
    cdef readonly object display_name
    cdef readonly object tag
    cdef readonly object expires
    cdef readonly object q
    cdef readonly object instance
    cdef readonly object reg_id
    cdef bytes _buf
    cdef cbuf _p
    cdef int _ps, _pe  # the header parameters, parsed into _params when read
    cdef dict _params
    cdef USpan _u
    cdef Uri _uri


cdef class Via:
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


cdef class CSeq:
    cdef readonly object number
    cdef readonly str method


cdef class Event:
    cdef readonly str package
    cdef readonly dict params


cdef class Auth:
    cdef readonly str scheme
    cdef readonly dict params


cdef class Message:
    cdef bytes _buf
    cdef cbuf _p
    cdef Slot* _hdr  # _slots, or the data of _more
    cdef bytes _more  # holds the spans when there are more than N_INLINE_SLOTS
    cdef Slot _slots[N_INLINE_SLOTS]
    cdef int _nhdr
    cdef unsigned char _first[N_HEADER_IDS]  # 1 + slot of each known header's first line
    cdef int _start, _end, _line_end, _body_start
    cdef int _ms, _me, _us, _ue, _vs, _ve, _rs, _re
    cdef unsigned int _have  # HAVE_* bits: which of the lazy fields below are made
    cdef bint _isreq
    cdef readonly object is_request
    cdef readonly object status
    cdef readonly object content_length
    cdef readonly object method
    cdef readonly object version
    cdef readonly object reason
    cdef object _uri, _via, _from, _to, _contacts, _call_id, _cseq
    cdef object _max_forwards, _expires, _event, _authorization

    cdef bint _matches(self, Slot* h, int hid, bytes key) noexcept
    cdef int _slot(self, int hid) noexcept
    cdef object _header(self, str name)
    cdef list _values(self, str name)
    cdef list _header_values(self, int hid, bytes key)
    cdef list _list(self, int hid)
    cdef object _address(self, int hid)
    cdef list _contact_list(self)
    cdef Uri _request_uri(self)
    cdef bint _contact_star(self) except -1


cdef class StreamParser:
    cdef bytearray _buf
    cdef Py_ssize_t _searched
    cdef Py_ssize_t _need
    cdef object _error
    cdef readonly Py_ssize_t max_size
    cdef readonly Py_ssize_t max_headers
    cdef readonly Py_ssize_t max_header_length

    cdef object _next(self)
    cdef Message _scan(self, bytes raw)
