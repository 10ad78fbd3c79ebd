/* The analysis chain's per-character loop in C (retrieval/analysis.py is the specification).
 *
 * `Chain(mapped, token_chars, term_of, fallback, cache_limit)` analyses a text the way
 * `analysis._chain` does, chunk by whitespace-delimited chunk:
 *
 *   - every BMP character goes through `mapped`, a table that analysis.py computes from its own
 *     normaliser (`ch.translate(table).lower()` for each character: 0-3 characters out), or is
 *     marked unsafe (None) when that per-character view is not exact (the context-dependent
 *     lower-casing of capital sigma, surrogates);
 *   - `token_chars` says which normalised characters are token characters (the tokenizer's
 *     character class, also computed by analysis.py); runs of them are tokens, cut every
 *     `max_token` characters, as the tokenizer's regex does;
 *   - each token's term comes from a cache filled by calling `term_of(token)` (str or None);
 *   - a chunk holding any unsafe or non-BMP character is handed whole to `fallback(chunk)`,
 *     the Python chain, whose terms are taken as they are.
 *
 * Chunking at whitespace gives the same terms as the whole text (analysis.py explains why and
 * tests it), so the result equals the Python chain's; tests/test_native_chain.py checks it on
 * generated and tricky text. No pointer into the cache is held across a call back into Python
 * (term_of, fallback), since another thread may use or clear the same Chain meanwhile.
 *
 * Speed: each raw character costs one lookup in an 8-byte-per-character table, and each token
 * one probe of an open-addressing table whose 64-byte entries hold the token and its term inline,
 * so a cached token costs one cache line (the table is tens of MB on a large ingest, and a probe
 * that chased pointers to the key and the term cost three cache misses).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define BMP 0x10000
#define MAX_OUT 3
#define SPACE 0xFE  /* CharInfo.n: whitespace, which ends a chunk */
#define UNSAFE 0xFF /* CharInfo.n: the chunk goes to the Python fallback */
#define INLINE_UNITS 24
#define MAX_TOKEN 256

typedef struct {
    uint8_t n;        /* characters out (0-3), SPACE or UNSAFE */
    uint8_t tokmask;  /* bit j: out[j] is a token character */
    Py_UCS2 out[MAX_OUT];
} CharInfo;

enum { HAS_TERM = 1, HEAP = 2, WIDE_TERM = 4 };

typedef struct {
    uint32_t tag;       /* high half of the token's hash */
    uint8_t key_len;    /* 0 marks an empty slot (tokens have 1..MAX_TOKEN-1 characters) */
    uint8_t term_len;
    uint8_t flags;
    uint8_t pad;
    PyObject *term;     /* the term (a str), or NULL when the token yields none */
    union {
        Py_UCS2 chars[INLINE_UNITS]; /* key, then the term's characters (unless WIDE_TERM) */
        Py_UCS2 *heap;               /* the same, malloc'd, when they do not fit inline */
    } u;
} Entry;

typedef struct {
    PyObject_HEAD
    CharInfo *info;     /* one per BMP character */
    PyObject *term_of;
    PyObject *fallback;
    Py_ssize_t max_token;
    Py_ssize_t cache_limit;
    Entry *table;
    size_t capacity;    /* a power of two */
    size_t used;
} Chain;

/* Python 3.11 still has "legacy" str objects (made by the deprecated wchar_t API, e.g. by an old
 * C extension) whose kind, data and length are not filled in until PyUnicode_READY: read
 * directly they look empty, and the chain silently dropped their terms. Every str the chain reads
 * (the text, the callbacks' terms, the tables) goes through this first; it is free on 3.12+. */
static inline int str_ready(PyObject *s) {
#if PY_VERSION_HEX < 0x030C0000
    return PyUnicode_READY(s);
#else
    (void)s;
    return 0;
#endif
}

/* --- the token → term cache ----------------------------------------------------------------- */

/* The token's hash: CPython's own str/bytes hash (SipHash-1-3 keyed per process by
 * PYTHONHASHSEED), not an unkeyed hash such as FNV. Tokens come from uploaded files and from
 * anyone who writes to the bot, and with a hash known in advance an attacker can make thousands of
 * tokens that land in one run of slots: each lookup then walks the whole run (up to the cache
 * limit), and the event loop, which analyses questions, stalls on it. */
static inline uint64_t hash_chars(const Py_UCS2 *s, Py_ssize_t n) {
#if PY_VERSION_HEX >= 0x030E0000
    return (uint64_t)Py_HashBuffer(s, n * (Py_ssize_t)sizeof(Py_UCS2));
#else
    return (uint64_t)_Py_HashBytes(s, n * (Py_ssize_t)sizeof(Py_UCS2));
#endif
}

static inline const Py_UCS2 *entry_chars(const Entry *e) {
    return (e->flags & HEAP) ? e->u.heap : e->u.chars;
}

static void free_entries(Entry *table, size_t capacity) {
    for (size_t i = 0; i < capacity; i++) {
        if (table[i].key_len) {
            if (table[i].flags & HEAP)
                PyMem_Free(table[i].u.heap);
            Py_XDECREF(table[i].term);
        }
    }
}

static int cache_reset(Chain *self, size_t capacity) {
    Entry *fresh = PyMem_RawCalloc(capacity, sizeof(Entry));
    if (!fresh) {
        PyErr_NoMemory();
        return -1;
    }
    Entry *old = self->table;
    size_t old_capacity = self->capacity;
    self->table = fresh;
    self->capacity = capacity;
    self->used = 0;
    if (old) {
        free_entries(old, old_capacity);
        PyMem_RawFree(old);
    }
    return 0;
}

static inline Entry *cache_find(Chain *self, const Py_UCS2 *key, Py_ssize_t n, uint64_t h) {
    size_t mask = self->capacity - 1;
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        Entry *e = &self->table[i];
        if (!e->key_len)
            return e;
        if (e->tag == tag && e->key_len == n && memcmp(entry_chars(e), key, n * sizeof(Py_UCS2)) == 0)
            return e;
    }
}

static int cache_grow(Chain *self) {
    size_t capacity = self->capacity * 2;
    Entry *fresh = PyMem_RawCalloc(capacity, sizeof(Entry));
    if (!fresh) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < self->capacity; i++) {
        Entry *e = &self->table[i];
        if (!e->key_len)
            continue;
        size_t j = (size_t)hash_chars(entry_chars(e), e->key_len) & (capacity - 1);
        while (fresh[j].key_len)
            j = (j + 1) & (capacity - 1);
        fresh[j] = *e;
    }
    PyMem_RawFree(self->table);
    self->table = fresh;
    self->capacity = capacity;
    return 0;
}

/* Fill an empty slot with a token and the term term_of gave for it (a new reference, or None). */
static int entry_fill(Entry *e, const Py_UCS2 *key, Py_ssize_t n, uint64_t h, PyObject *term) {
    Py_ssize_t term_len = 0;
    uint8_t flags = 0;
    if (term != Py_None) {
        flags |= HAS_TERM;
        term_len = PyUnicode_GET_LENGTH(term);
        if (PyUnicode_KIND(term) == PyUnicode_4BYTE_KIND || term_len > 255) {
            flags |= WIDE_TERM; /* copied from the object when output */
            term_len = 0;
        }
    }
    Py_UCS2 *dest;
    if (n + term_len > INLINE_UNITS) {
        dest = PyMem_Malloc((n + term_len) * sizeof(Py_UCS2));
        if (!dest) {
            PyErr_NoMemory();
            return -1;
        }
        flags |= HEAP;
        e->u.heap = dest;
    } else {
        dest = e->u.chars;
    }
    memcpy(dest, key, n * sizeof(Py_UCS2));
    if (term_len) {
        int kind = PyUnicode_KIND(term);
        const void *data = PyUnicode_DATA(term);
        for (Py_ssize_t i = 0; i < term_len; i++)
            dest[n + i] = (Py_UCS2)PyUnicode_READ(kind, data, i);
    }
    e->tag = (uint32_t)(h >> 32);
    e->key_len = (uint8_t)n;
    e->term_len = (uint8_t)term_len;
    e->flags = flags;
    if (term == Py_None) {
        Py_DECREF(term);
        e->term = NULL;
    } else {
        e->term = term; /* the reference is the cache's */
    }
    return 0;
}

/* The entry of a token, calling term_of on a miss; NULL with an exception set on error.
 * The entry is valid only until the next call into Python. */
static Entry *term_entry(Chain *self, const Py_UCS2 *key, Py_ssize_t n) {
    uint64_t h = hash_chars(key, n);
    Entry *e = cache_find(self, key, n, h);
    if (e->key_len)
        return e;
    PyObject *token = PyUnicode_FromKindAndData(PyUnicode_2BYTE_KIND, key, n);
    if (!token)
        return NULL;
    PyObject *term = PyObject_CallOneArg(self->term_of, token);
    Py_DECREF(token);
    if (!term)
        return NULL;
    if (term != Py_None && !PyUnicode_Check(term)) {
        PyErr_Format(PyExc_TypeError, "term_of must return str or None, not %.100s", Py_TYPE(term)->tp_name);
        Py_DECREF(term);
        return NULL;
    }
    if (term != Py_None && str_ready(term) < 0) {
        Py_DECREF(term);
        return NULL;
    }
    /* term_of ran Python code: the cache may have changed meanwhile (another thread, a clear). */
    int rc = 0;
    if ((Py_ssize_t)self->used >= self->cache_limit)
        rc = cache_reset(self, 1024);
    else if ((self->used + 1) * 2 > self->capacity)
        rc = cache_grow(self);
    if (rc < 0) {
        Py_DECREF(term);
        return NULL;
    }
    e = cache_find(self, key, n, h);
    if (e->key_len) { /* filled meanwhile by another thread */
        Py_DECREF(term);
        return e;
    }
    if (entry_fill(e, key, n, h, term) < 0) {
        Py_DECREF(term);
        return NULL;
    }
    self->used++;
    return e;
}

/* --- output: a list of terms, or one string of space-joined terms ----------------------------- */

typedef struct {
    PyObject *list;  /* list mode */
    Py_UCS4 *buf;    /* joined mode */
    Py_ssize_t len, cap, count;
} Out;

static int out_reserve(Out *o, Py_ssize_t n) {
    if (o->len + n + 1 <= o->cap)
        return 0;
    /* Sizes stay far below these bounds in practice; checked so that no doubling can wrap. */
    const Py_ssize_t max_cap = PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(Py_UCS4) / 2;
    if (n > max_cap - o->len - 1) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t cap = (o->cap ? o->cap * 2 : 1024);
    while (cap < o->len + n + 1)
        cap *= 2;
    Py_UCS4 *grown = PyMem_RawRealloc(o->buf, cap * sizeof(Py_UCS4));
    if (!grown) {
        PyErr_NoMemory();
        return -1;
    }
    o->buf = grown;
    o->cap = cap;
    return 0;
}

static int out_object(Out *o, PyObject *term) {
    if (o->list)
        return PyList_Append(o->list, term); /* increfs the term before anything else can run */
    Py_ssize_t n = PyUnicode_GET_LENGTH(term);
    if (out_reserve(o, n) < 0)
        return -1;
    if (o->count++)
        o->buf[o->len++] = ' ';
    int kind = PyUnicode_KIND(term);
    const void *data = PyUnicode_DATA(term);
    for (Py_ssize_t i = 0; i < n; i++)
        o->buf[o->len++] = PyUnicode_READ(kind, data, i);
    return 0;
}

static inline int out_entry(Out *o, const Entry *e) {
    if (!(e->flags & HAS_TERM))
        return 0;
    if (o->list || (e->flags & WIDE_TERM))
        return out_object(o, e->term);
    Py_ssize_t n = e->term_len;
    if (out_reserve(o, n) < 0)
        return -1;
    if (o->count++)
        o->buf[o->len++] = ' ';
    const Py_UCS2 *t = entry_chars(e) + e->key_len;
    for (Py_ssize_t i = 0; i < n; i++)
        o->buf[o->len++] = t[i];
    return 0;
}

typedef struct {
    Py_ssize_t len, count, items;
} Mark;

static Mark out_mark(const Out *o) {
    Mark m = {o->len, o->count, o->list ? PyList_GET_SIZE(o->list) : 0};
    return m;
}

static int out_rollback(Out *o, Mark m) {
    o->len = m.len;
    o->count = m.count;
    if (o->list && PyList_GET_SIZE(o->list) > m.items)
        return PyList_SetSlice(o->list, m.items, PyList_GET_SIZE(o->list), NULL);
    return 0;
}

/* --- the chain ------------------------------------------------------------------------------- */

static int run_fallback(Chain *self, PyObject *text, Py_ssize_t start, Py_ssize_t end, Out *o) {
    PyObject *chunk = PyUnicode_Substring(text, start, end);
    if (!chunk)
        return -1;
    PyObject *terms = PyObject_CallOneArg(self->fallback, chunk);
    Py_DECREF(chunk);
    if (!terms)
        return -1;
    PyObject *seq = PySequence_Fast(terms, "fallback must return a sequence of terms");
    Py_DECREF(terms);
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *term = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(term)) {
            PyErr_SetString(PyExc_TypeError, "fallback must return str terms");
            Py_DECREF(seq);
            return -1;
        }
        if (str_ready(term) < 0) {
            Py_DECREF(seq);
            return -1;
        }
        if (out_object(o, term) < 0) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    return 0;
}

static inline int emit_token(Chain *self, const Py_UCS2 *tok, Py_ssize_t n, Out *o) {
    Entry *e = term_entry(self, tok, n);
    if (!e)
        return -1;
    return out_entry(o, e);
}

/* One pass over the text: characters are normalised and tokens looked up as they come; a chunk
 * that turns out to hold an unsafe character has its output rolled back and goes to the fallback. */
static int run(Chain *self, PyObject *text, Out *o) {
    /* term_of and fallback are NULL before __init__ and after the garbage collector's tp_clear
     * (a finaliser in a reference cycle may still call the chain then). */
    if (!self->table || !self->term_of || !self->fallback) {
        PyErr_SetString(PyExc_RuntimeError, "Chain not initialised");
        return -1;
    }
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "expected str, not %.100s", Py_TYPE(text)->tp_name);
        return -1;
    }
    if (str_ready(text) < 0)
        return -1;
    Py_INCREF(text); /* term_of and fallback run Python code */
    const int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    const Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    const Py_ssize_t max_token = self->max_token;
    const CharInfo *info = self->info;
    Py_UCS2 tok[MAX_TOKEN];
    Py_ssize_t n = 0, chunk_start = 0;
    Mark mark = out_mark(o);
    int rc = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        CharInfo ci;
        if (c < BMP) {
            ci = info[c];
        } else {
            ci.n = Py_UNICODE_ISSPACE(c) ? SPACE : UNSAFE;
        }
        if (ci.n == SPACE) {
            if (n && (rc = emit_token(self, tok, n, o)) < 0)
                break;
            n = 0;
            chunk_start = i + 1;
            mark = out_mark(o);
            continue;
        }
        if (ci.n == UNSAFE) {
            Py_ssize_t end = i + 1;
            while (end < len && !Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, end)))
                end++;
            if ((rc = out_rollback(o, mark)) < 0 || (rc = run_fallback(self, text, chunk_start, end, o)) < 0)
                break;
            n = 0;
            i = end - 1; /* the loop moves on to the whitespace after the chunk */
            continue;
        }
        for (int j = 0; j < ci.n; j++) {
            if (ci.tokmask & (1 << j)) {
                tok[n++] = ci.out[j];
                if (n == max_token) {
                    if ((rc = emit_token(self, tok, n, o)) < 0)
                        goto done;
                    n = 0;
                }
            } else if (n) {
                if ((rc = emit_token(self, tok, n, o)) < 0)
                    goto done;
                n = 0;
            }
        }
    }
    if (rc == 0 && n)
        rc = emit_token(self, tok, n, o);
done:
    Py_DECREF(text);
    return rc;
}

static PyObject *Chain_analyze(Chain *self, PyObject *text) {
    Out o = {0};
    o.list = PyList_New(0);
    if (!o.list)
        return NULL;
    if (run(self, text, &o) < 0) {
        Py_DECREF(o.list);
        return NULL;
    }
    return o.list;
}

static PyObject *Chain_analyze_joined(Chain *self, PyObject *text) {
    Out o = {0};
    if (run(self, text, &o) < 0) {
        PyMem_RawFree(o.buf);
        return NULL;
    }
    PyObject *joined = o.len ? PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, o.buf, o.len) : PyUnicode_New(0, 0);
    PyMem_RawFree(o.buf);
    return joined;
}

static PyObject *Chain_clear(Chain *self, PyObject *Py_UNUSED(ignored)) {
    if (cache_reset(self, 1024) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Chain_cached(Chain *self, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromSize_t(self->used);
}

/* --- construction ------------------------------------------------------------------------------ */

static int Chain_init(Chain *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"mapped", "token_chars", "term_of", "fallback", "max_token", "cache_limit", NULL};
    PyObject *mapped, *term_of, *fallback;
    Py_buffer token_chars;
    Py_ssize_t max_token, cache_limit;
    if (self->table) {
        PyErr_SetString(PyExc_RuntimeError, "Chain is already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Oy*OOnn", kwlist, &mapped, &token_chars, &term_of, &fallback,
                                     &max_token, &cache_limit))
        return -1;
    int rc = -1;
    PyObject *seq = NULL;
    CharInfo *info = NULL;
    const uint8_t *is_token = token_chars.buf;
    if (token_chars.len != BMP) {
        PyErr_SetString(PyExc_ValueError, "token_chars must have one byte per BMP character");
        goto done;
    }
    if (max_token < 1 || max_token >= MAX_TOKEN || cache_limit < 1) {
        PyErr_SetString(PyExc_ValueError, "max_token must be in 1..255 and cache_limit positive");
        goto done;
    }
    seq = PySequence_Fast(mapped, "mapped must be a sequence");
    if (!seq)
        goto done;
    if (PySequence_Fast_GET_SIZE(seq) != BMP) {
        PyErr_SetString(PyExc_ValueError, "mapped must have one entry per BMP character");
        goto done;
    }
    info = PyMem_RawCalloc(BMP, sizeof(CharInfo));
    if (!info) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t c = 0; c < BMP; c++) {
        PyObject *m = PySequence_Fast_GET_ITEM(seq, c);
        info[c].n = UNSAFE;
        if (Py_UNICODE_ISSPACE((Py_UCS4)c)) {
            info[c].n = SPACE; /* what str.split() splits at, whatever the table says */
            continue;
        }
        if (m == Py_None)
            continue;
        if (!PyUnicode_Check(m)) {
            PyErr_SetString(PyExc_TypeError, "mapped entries must be str or None");
            goto done;
        }
        if (str_ready(m) < 0)
            goto done;
        Py_ssize_t n = PyUnicode_GET_LENGTH(m);
        if (n > MAX_OUT)
            continue; /* left to the fallback */
        int ok = 1;
        uint8_t tokmask = 0;
        for (Py_ssize_t j = 0; j < n; j++) {
            Py_UCS4 ch = PyUnicode_READ_CHAR(m, j);
            if (ch >= BMP) {
                ok = 0;
                break;
            }
            info[c].out[j] = (Py_UCS2)ch;
            if (is_token[ch])
                tokmask |= (uint8_t)(1 << j);
        }
        if (ok) {
            info[c].n = (uint8_t)n;
            info[c].tokmask = tokmask;
        }
    }
    /* Checked again: `mapped` may be any sequence, and iterating it ran Python code that could
     * have initialised this Chain meanwhile (its table, info and callbacks would then leak). */
    if (self->table) {
        PyErr_SetString(PyExc_RuntimeError, "Chain is already initialised");
        goto done;
    }
    if (cache_reset(self, 1024) < 0)
        goto done;
    self->info = info;
    info = NULL;
    Py_INCREF(term_of);
    self->term_of = term_of;
    Py_INCREF(fallback);
    self->fallback = fallback;
    self->max_token = max_token;
    self->cache_limit = cache_limit;
    rc = 0;
done:
    PyMem_RawFree(info);
    Py_XDECREF(seq);
    PyBuffer_Release(&token_chars);
    return rc;
}

static void Chain_dealloc(Chain *self) {
    PyObject_GC_UnTrack(self);
    if (self->table) {
        free_entries(self->table, self->capacity);
        PyMem_RawFree(self->table);
    }
    PyMem_RawFree(self->info);
    Py_XDECREF(self->term_of);
    Py_XDECREF(self->fallback);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Chain_traverse(Chain *self, visitproc visit, void *arg) {
    Py_VISIT(self->term_of);
    Py_VISIT(self->fallback);
    return 0;
}

static int Chain_clear_refs(Chain *self) {
    Py_CLEAR(self->term_of);
    Py_CLEAR(self->fallback);
    return 0;
}

static PyMethodDef Chain_methods[] = {
    {"analyze", (PyCFunction)Chain_analyze, METH_O, "The terms of a text, as a list."},
    {"analyze_joined", (PyCFunction)Chain_analyze_joined, METH_O, "The terms of a text joined by single spaces."},
    {"clear", (PyCFunction)Chain_clear, METH_NOARGS, "Empty the token cache."},
    {"cached", (PyCFunction)Chain_cached, METH_NOARGS, "How many tokens the cache holds."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ChainType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "retrieval._chain.Chain",
    .tp_basicsize = sizeof(Chain),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The analysis chain's hot loop (see retrieval/_chain.c).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Chain_init,
    .tp_dealloc = (destructor)Chain_dealloc,
    .tp_traverse = (traverseproc)Chain_traverse,
    .tp_clear = (inquiry)Chain_clear_refs,
    .tp_methods = Chain_methods,
};

/* `s.encode("utf-8")`, through the UTF-8 copy CPython keeps inside the str once asked for it
 * (PyUnicode_AsUTF8AndSize): sqlite3 binds a str parameter through that same copy, so an
 * article body hashed this way is encoded once for the fingerprint and the INSERT together. */
static PyObject *utf8(PyObject *module, PyObject *s) {
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "expected str, not %.100s", Py_TYPE(s)->tp_name);
        return NULL;
    }
    Py_ssize_t n;
    const char *data = PyUnicode_AsUTF8AndSize(s, &n);
    if (!data)
        return NULL;
    return PyBytes_FromStringAndSize(data, n);
}

static PyMethodDef module_methods[] = {
    {"utf8", (PyCFunction)utf8, METH_O, "s.encode('utf-8'), keeping the UTF-8 in s for later encoders (sqlite3)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_chain", .m_doc = "The analysis chain's hot loop in C.", .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__chain(void) {
    if (PyType_Ready(&ChainType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    Py_INCREF(&ChainType);
    if (PyModule_AddObject(m, "Chain", (PyObject *)&ChainType) < 0) {
        Py_DECREF(&ChainType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
