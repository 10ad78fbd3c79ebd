/* The analysis chain's per-character loop in C (retrieval/analysis.py is the specification).
 *
 * `Chain(mapped, token_chars, stopwords, clitic_exceptions, fallback, max_token, max_stem, cache_limit)`
 * analyses a text the way `analysis._chain` does, chunk by whitespace-delimited chunk:
 *
 *   - every BMP character goes through `mapped`, a table that analysis.py computes from its own
 *     normaliser (`ch.translate(table).lower()` for each character: 0-3 characters out), or is
 *     marked unsafe (None) when that per-character view is not exact (the context-dependent
 *     lower-casing of capital sigma, surrogates);
 *   - `token_chars` says which normalised characters are token characters (the tokenizer's
 *     character class, also computed by analysis.py); runs of them are tokens, cut every
 *     `max_token` characters, as the tokenizer's regex does;
 *   - each token's term comes from a cache; a token not in it gets the term `stemmer._term` gives
 *     it, computed here (stopwords, clitics and the article with `clitic_exceptions`, the folds,
 *     the suffixes);
 *   - a chunk holding any unsafe or non-BMP character is handed whole to `fallback(chunk)`,
 *     the Python chain, whose terms are taken as they are.
 *
 * Chunking at whitespace gives the same terms as the whole text (analysis.py explains why and
 * tests it), so the result equals the Python chain's; tests/test_native_chain.py checks it on
 * generated and tricky text. No pointer into the cache is held across a call back into Python
 * (a set lookup, the fallback), since another thread may use or clear the same Chain meanwhile.
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
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

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
    PyObject *stopwords;    /* a set or frozenset of str */
    PyObject *clitic_exceptions; /* a set or frozenset of str: analysis.CLITIC_EXCEPTIONS */
    PyObject *fallback;
    Py_ssize_t max_token;
    Py_ssize_t max_stem;
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


/* Tables of 2 MiB and more are allocated 2 MiB-aligned and offered to the kernel for transparent
 * huge pages: a probe lands anywhere in tens of MB, and with 4 KiB pages nearly every one also
 * missed the TLB (~8% of the first analysis pass over 100k passages). */
#define HUGE_PAGE ((size_t)2 << 20)

static Entry *table_alloc(size_t capacity) {
    size_t bytes = capacity * sizeof(Entry);
#if defined(MADV_HUGEPAGE)
    if (bytes >= HUGE_PAGE) {
        void *p = NULL;
        if (posix_memalign(&p, HUGE_PAGE, bytes) != 0)
            return NULL;
        madvise(p, bytes, MADV_HUGEPAGE); /* advice: refused or unsupported, the table still works */
        memset(p, 0, bytes);
        return p;
    }
#endif
    return PyMem_RawCalloc(capacity, sizeof(Entry));
}

static void table_free(Entry *table, size_t capacity) {
#if defined(MADV_HUGEPAGE)
    if (capacity * sizeof(Entry) >= HUGE_PAGE) {
        free(table);
        return;
    }
#endif
    PyMem_RawFree(table);
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
    Entry *fresh = table_alloc(capacity);
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
        table_free(old, old_capacity);
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
    Entry *fresh = table_alloc(capacity);
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
    table_free(self->table, self->capacity);
    self->table = fresh;
    self->capacity = capacity;
    return 0;
}

/* Fill an empty slot with a token and its term (a new reference to a str, or None). */
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

/* --- a new token's term: stemmer._term -------------------------------------------------------- */

/* The letters and rules stemmer._term uses, spelled out (stemmer.py asserts its tables and suffix
 * lists against these letters, and tests/test_native_chain.py compares Chain.term with _term on
 * generated tokens and on the conflation families). */
#define TAA_MARBUTA 0x0629
#define HEH 0x0647
#define ALEF 0x0627
#define LAM 0x0644
#define WAW 0x0648
#define FEH 0x0641
#define BEH 0x0628
#define KAF 0x0643
#define TEH 0x062A
#define NOON 0x0646
#define MEEM 0x0645
#define YEH 0x064A
#define ALEF_MAQSURA 0x0649
#define CONJUNCTION_ARTICLE_MIN_CHARS 6 /* analysis.CONJUNCTION_ARTICLE_MIN_CHARS */
#define MIN_STEM_CHARS 3                /* analysis.MIN_STEM_CHARS */

static inline int is_hamza_alef(Py_UCS2 c) { return c == 0x0623 || c == 0x0625 || c == 0x0622; } /* أ إ آ */
static inline int is_conjunction(Py_UCS2 c) { return c == WAW || c == FEH; }             /* analysis.CONJUNCTIONS */
static inline int is_preposition(Py_UCS2 c) { return c == BEH || c == KAF || c == LAM; } /* analysis.PREPOSITIONS */

/* _STOP_TABLE: taa marbuta → heh, hamza alefs → alef (how stopwords are matched). */
static inline Py_UCS2 stop_fold(Py_UCS2 c) { return c == TAA_MARBUTA ? HEH : is_hamza_alef(c) ? ALEF : c; }

/* _STEM_TABLE: every alef form → alef, alef maqsura → yeh (what the suffix stage sees). */
static inline Py_UCS2 stem_fold(Py_UCS2 c) {
    if (is_hamza_alef(c) || c == 0x0671 || c == 0x0672 || c == 0x0673) /* ٱ ٲ ٳ */
        return ALEF;
    return c == ALEF_MAQSURA ? YEH : c;
}

/* 1 if the str of `s` is in `set`, 0 if not, -1 with an exception set. */
static int set_has(PyObject *set, const Py_UCS2 *s, Py_ssize_t n) {
    PyObject *word = PyUnicode_FromKindAndData(PyUnicode_2BYTE_KIND, s, n);
    if (!word)
        return -1;
    int found = PySet_Contains(set, word);
    Py_DECREF(word);
    return found;
}

/* 1 if the token, folded as stopwords are matched, is one; 0 if not; -1 with an exception set. */
static int is_stopword(Chain *self, const Py_UCS2 *tok, Py_ssize_t n) {
    Py_UCS2 folded[MAX_TOKEN];
    for (Py_ssize_t i = 0; i < n; i++)
        folded[i] = stop_fold(tok[i]);
    return set_has(self->stopwords, folded, n);
}

/* stemmer.is_clitic on a token of ≥ 4 letters starting with و ف ب ك ل: clitic_default, flipped
 * for the tokens in the exceptions set (1, 0, or -1 with an exception set). */
static int is_clitic(Chain *self, const Py_UCS2 *t, Py_ssize_t n) {
    int by_default = 0;
    if (is_conjunction(t[0])) {
        if (is_hamza_alef(t[1]))
            by_default = 1;
        else if (t[1] == ALEF)
            by_default = t[2] == LAM && n >= CONJUNCTION_ARTICLE_MIN_CHARS;
        else
            by_default = 1;
    }
    int listed = set_has(self->clitic_exceptions, t, n);
    return listed < 0 ? -1 : by_default != listed;
}

/* stemmer.strip_prefixes: how many leading characters it removes (-1 with an exception set). */
static Py_ssize_t strip_prefixes(Chain *self, const Py_UCS2 *t, Py_ssize_t n) {
    Py_ssize_t start = 0;
    int clitic;
    if (n >= 4 && is_conjunction(t[0])) {
        if ((clitic = is_clitic(self, t, n)) < 0)
            return -1;
        start = clitic;
    }
    t += start;
    n -= start;
    if (n >= 5 && t[0] == LAM && t[1] == LAM)
        return start + 2;
    if (n >= 6 && is_preposition(t[0]) && t[1] == ALEF && t[2] == LAM)
        return start + 3;
    if (n >= 4 && is_preposition(t[0])) {
        if ((clitic = is_clitic(self, t, n)) < 0)
            return -1;
        start += clitic;
        t += clitic;
        n -= clitic;
    }
    if (n >= 5 && t[0] == ALEF && t[1] == LAM)
        start += 2;
    return start;
}

static inline int ends_with(const Py_UCS2 *w, Py_ssize_t n, const Py_UCS2 *suffix, Py_ssize_t k) {
    return n >= k && memcmp(w + n - k, suffix, (size_t)k * sizeof(Py_UCS2)) == 0;
}

typedef struct {
    Py_ssize_t len;
    Py_UCS2 chars[3];
} Suffix;

/* analysis.PRONOUN_SUFFIXES and PLURAL_SUFFIXES, in their order. */
static const Suffix PRONOUNS[] = {
    {3, {KAF, MEEM, ALEF}}, {3, {HEH, MEEM, ALEF}}, {2, {HEH, MEEM}}, {2, {HEH, NOON}},
    {2, {HEH, ALEF}}, {2, {KAF, MEEM}}, {2, {NOON, ALEF}}, {1, {HEH}},
};
static const Suffix PLURALS[] = {{2, {ALEF, TEH}}, {2, {WAW, NOON}}, {2, {YEH, NOON}}, {2, {WAW, ALEF}}};

/* stemmer.strip_suffixes on w[0:n]: the stem's new length. */
static Py_ssize_t strip_suffixes(const Py_UCS2 *w, Py_ssize_t n) {
    static const Py_UCS2 alef_teh[2] = {ALEF, TEH};
    for (size_t i = 0; i < sizeof PRONOUNS / sizeof *PRONOUNS; i++) {
        if (ends_with(w, n, PRONOUNS[i].chars, PRONOUNS[i].len) && n - PRONOUNS[i].len >= MIN_STEM_CHARS) {
            n -= PRONOUNS[i].len;
            if (w[n - 1] == TEH && !ends_with(w, n, alef_teh, 2) && n > MIN_STEM_CHARS)
                n--;
            break;
        }
    }
    for (size_t i = 0; i < sizeof PLURALS / sizeof *PLURALS; i++) {
        if (ends_with(w, n, PLURALS[i].chars, PLURALS[i].len) && n - PLURALS[i].len >= MIN_STEM_CHARS) {
            n -= PLURALS[i].len;
            break;
        }
    }
    if (n > 2 && w[n - 1] == TAA_MARBUTA)
        n--;
    if (n > MIN_STEM_CHARS && w[n - 1] == HEH)
        n--;
    if (n > MIN_STEM_CHARS && w[n - 1] == YEH)
        n--;
    return n;
}

/* stemmer._term of a normalised token: None for a stopword (with or without its clitics), else
 * its stem (a new reference; NULL with an exception set on error). No Python code runs but the
 * set lookups. */
static PyObject *compute_term(Chain *self, const Py_UCS2 *tok, Py_ssize_t n) {
    int found = is_stopword(self, tok, n);
    if (found)
        return found < 0 ? NULL : Py_NewRef(Py_None);
    Py_UCS2 word[MAX_TOKEN];
    Py_ssize_t len;
    /* Digits, Latin words and overlong tokens are folded but not stemmed. */
    if (n > 0 && tok[0] >= 0x0621 && tok[0] <= 0x064A && n <= self->max_stem) {
        Py_ssize_t start = strip_prefixes(self, tok, n);
        if (start < 0)
            return NULL;
        if (start > 0 && (found = is_stopword(self, tok + start, n - start)))
            return found < 0 ? NULL : Py_NewRef(Py_None);
        len = n - start;
        for (Py_ssize_t i = 0; i < len; i++)
            word[i] = stem_fold(tok[start + i]);
        len = strip_suffixes(word, len);
    } else {
        len = n;
        for (Py_ssize_t i = 0; i < len; i++)
            word[i] = stem_fold(tok[i]);
    }
    if (len == 0)
        Py_RETURN_NONE;
    for (Py_ssize_t i = 0; i < len; i++)
        if (word[i] == TAA_MARBUTA)
            word[i] = HEH;
    return PyUnicode_FromKindAndData(PyUnicode_2BYTE_KIND, word, len);
}

/* The entry of a token (h: its hash_chars), computing its term on a miss; NULL with an exception
 * set on error. The entry is valid only until the next call into Python. */
static Entry *term_entry(Chain *self, const Py_UCS2 *key, Py_ssize_t n, uint64_t h) {
    Entry *e = cache_find(self, key, n, h);
    if (e->key_len)
        return e;
    PyObject *term = compute_term(self, key, n);
    if (!term)
        return NULL;
    if (term != Py_None && str_ready(term) < 0) {
        Py_DECREF(term);
        return NULL;
    }
    /* The set lookups may have run Python code (a str key of a subclass): the cache may have changed meanwhile. */
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

/* --- output: a list of terms, or the terms joined by single spaces (as str or as UTF-8) ---------- */

typedef struct {
    PyObject *list;       /* list mode */
    int utf8;             /* joined mode: UTF-8 bytes in b8, or else code points in buf */
    Py_UCS4 *buf;
    unsigned char *b8;
    Py_ssize_t len, cap, count;
} Out;

/* Room for n more units (code points, or bytes in UTF-8 mode) and a separator. */
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
    void *grown = PyMem_RawRealloc(o->utf8 ? (void *)o->b8 : (void *)o->buf,
                                   cap * (o->utf8 ? sizeof(unsigned char) : sizeof(Py_UCS4)));
    if (!grown) {
        PyErr_NoMemory();
        return -1;
    }
    if (o->utf8)
        o->b8 = grown;
    else
        o->buf = grown;
    o->cap = cap;
    return 0;
}

/* One code point as UTF-8 (room reserved by the caller); a surrogate has no UTF-8, as for str.encode. */
static inline int put_utf8(Out *o, Py_UCS4 ch) {
    unsigned char *d = o->b8 + o->len;
    if (ch < 0x80) {
        d[0] = (unsigned char)ch;
        o->len += 1;
    } else if (ch < 0x800) {
        d[0] = (unsigned char)(0xC0 | (ch >> 6));
        d[1] = (unsigned char)(0x80 | (ch & 0x3F));
        o->len += 2;
    } else if (ch < 0x10000) {
        if (ch >= 0xD800 && ch < 0xE000) {
            PyErr_SetString(PyExc_UnicodeError, "a term holds a surrogate, which has no UTF-8");
            return -1;
        }
        d[0] = (unsigned char)(0xE0 | (ch >> 12));
        d[1] = (unsigned char)(0x80 | ((ch >> 6) & 0x3F));
        d[2] = (unsigned char)(0x80 | (ch & 0x3F));
        o->len += 3;
    } else {
        d[0] = (unsigned char)(0xF0 | (ch >> 18));
        d[1] = (unsigned char)(0x80 | ((ch >> 12) & 0x3F));
        d[2] = (unsigned char)(0x80 | ((ch >> 6) & 0x3F));
        d[3] = (unsigned char)(0x80 | (ch & 0x3F));
        o->len += 4;
    }
    return 0;
}

static int out_object(Out *o, PyObject *term) {
    if (o->list)
        return PyList_Append(o->list, term); /* increfs the term before anything else can run */
    Py_ssize_t n = PyUnicode_GET_LENGTH(term);
    if (n > PY_SSIZE_T_MAX / 8) {
        PyErr_NoMemory();
        return -1;
    }
    if (out_reserve(o, o->utf8 ? 4 * n : n) < 0)
        return -1;
    int kind = PyUnicode_KIND(term);
    const void *data = PyUnicode_DATA(term);
    if (o->utf8) {
        if (o->count++)
            o->b8[o->len++] = ' ';
        for (Py_ssize_t i = 0; i < n; i++)
            if (put_utf8(o, PyUnicode_READ(kind, data, i)) < 0)
                return -1;
        return 0;
    }
    if (o->count++)
        o->buf[o->len++] = ' ';
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
    const Py_UCS2 *t = entry_chars(e) + e->key_len;
    if (o->utf8) {
        if (out_reserve(o, 3 * n) < 0)
            return -1;
        if (o->count++)
            o->b8[o->len++] = ' ';
        for (Py_ssize_t i = 0; i < n; i++)
            if (put_utf8(o, t[i]) < 0)
                return -1;
        return 0;
    }
    if (out_reserve(o, n) < 0)
        return -1;
    if (o->count++)
        o->buf[o->len++] = ' ';
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

/* Tokens waiting to be looked up. A cache probe is one cache line anywhere in a table of tens of
 * MB, and on a large ingest most probes miss the CPU caches (one after the other, ~8% of ingest's
 * CPU waiting on the first probe): so tokens are gathered a few at a time, the slot of each
 * prefetched as it comes, and looked up together, so the misses overlap.
 *
 * The batch spans chunks; a chunk's tokens must not be output if the chunk turns out to hold an
 * unsafe character (it then goes whole to the fallback). So the batch remembers where the current
 * chunk's tokens begin: on an unsafe character, the tokens before it are output and the chunk's
 * dropped. Only a chunk with more tokens than a batch holds has some of its terms output before
 * its end; for it, the output is marked at the chunk's start and rolled back if needed. */
#ifndef BATCH /* -DBATCH=N to measure another size: first analysis pass over 100k passages, medians of
                * 5 alternating runs, 8 / 16 / 32 / 64 tokens: 10.4 / 8.8 / 7.8 / 7.5 µs a passage */
#define BATCH 32
#endif
#define BATCH_UNITS (BATCH * 16 + MAX_TOKEN)

typedef struct {
    Py_ssize_t count, units;
    Py_ssize_t chunk_first;  /* the first pending token of the current chunk */
    int chunk_out;           /* some of the current chunk's terms are output already... */
    Mark chunk_mark;         /* ...and this is where the output stood at the chunk's start */
    uint64_t hash[BATCH];
    Py_ssize_t at[BATCH];
    Py_ssize_t len[BATCH];
    Py_UCS2 chars[BATCH_UNITS];
} Batch;

static void batch_next_chunk(Batch *b) {
    b->chunk_first = b->count;
    b->chunk_out = 0;
}

/* Output the terms of pending tokens [from, to). */
static int batch_output(Chain *self, Batch *b, Py_ssize_t from, Py_ssize_t to, Out *o) {
    for (Py_ssize_t i = from; i < to; i++) {
        Entry *e = term_entry(self, b->chars + b->at[i], b->len[i], b->hash[i]);
        if (!e || out_entry(o, e) < 0)
            return -1;
    }
    return 0;
}

/* Output every pending token (the current chunk's too, marking where it began if not done yet). */
static int batch_flush(Chain *self, Batch *b, Out *o) {
    if (batch_output(self, b, 0, b->chunk_first, o) < 0)
        return -1;
    if (!b->chunk_out && b->chunk_first < b->count) {
        b->chunk_mark = out_mark(o);
        b->chunk_out = 1;
    }
    if (batch_output(self, b, b->chunk_first, b->count, o) < 0)
        return -1;
    b->count = b->units = b->chunk_first = 0;
    return 0;
}

/* At a chunk's end: the batch is output once full (no chunk is then half out). */
static int batch_end_chunk(Chain *self, Batch *b, Out *o) {
    if (b->count >= BATCH && batch_flush(self, b, o) < 0)
        return -1;
    batch_next_chunk(b);
    return 0;
}

/* The current chunk holds an unsafe character: output the tokens before it and forget its own. */
static int batch_drop_chunk(Chain *self, Batch *b, Out *o) {
    int rc = b->chunk_out ? out_rollback(o, b->chunk_mark) : batch_output(self, b, 0, b->chunk_first, o);
    b->count = b->units = b->chunk_first = 0;
    b->chunk_out = 0;
    return rc;
}

static inline int batch_push(Chain *self, Batch *b, const Py_UCS2 *tok, Py_ssize_t n, Out *o) {
    if ((b->count == BATCH || b->units + n > BATCH_UNITS) && batch_flush(self, b, o) < 0)
        return -1;
    uint64_t h = hash_chars(tok, n);
    __builtin_prefetch(&self->table[(size_t)h & (self->capacity - 1)]);
    b->hash[b->count] = h;
    b->at[b->count] = b->units;
    b->len[b->count] = n;
    memcpy(b->chars + b->units, tok, n * sizeof(Py_UCS2));
    b->units += n;
    b->count++;
    return 0;
}

/* One pass over the text: characters are normalised and tokens batched as they come (see Batch);
 * a chunk that turns out to hold an unsafe character goes to the fallback instead. */
static int run(Chain *self, PyObject *text, Py_ssize_t start, Py_ssize_t stop, Out *o) {
    /* The callbacks are NULL before __init__ and after the garbage collector's tp_clear
     * (a finaliser in a reference cycle may still call the chain then). */
    if (!self->table || !self->stopwords || !self->clitic_exceptions || !self->fallback) {
        PyErr_SetString(PyExc_RuntimeError, "Chain not initialised");
        return -1;
    }
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "expected str, not %.100s", Py_TYPE(text)->tp_name);
        return -1;
    }
    if (str_ready(text) < 0)
        return -1;
    Py_INCREF(text); /* the fallback runs Python code */
    const int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    const Py_ssize_t len = stop < 0 ? PyUnicode_GET_LENGTH(text) : stop;
    const Py_ssize_t max_token = self->max_token;
    const CharInfo *info = self->info;
    Py_UCS2 tok[MAX_TOKEN];
    Py_ssize_t n = 0, chunk_start = start;
    Batch batch;
    batch.count = batch.units = 0;
    batch_next_chunk(&batch);
    int rc = 0;
    for (Py_ssize_t i = start; i < len; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        CharInfo ci;
        if (c < BMP) {
            ci = info[c];
        } else {
            ci.n = Py_UNICODE_ISSPACE(c) ? SPACE : UNSAFE;
        }
        if (ci.n == SPACE) {
            if (n && (rc = batch_push(self, &batch, tok, n, o)) < 0)
                break;
            n = 0;
            chunk_start = i + 1;
            if ((rc = batch_end_chunk(self, &batch, o)) < 0)
                break;
            continue;
        }
        if (ci.n == UNSAFE) {
            Py_ssize_t end = i + 1;
            while (end < len && !Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, end)))
                end++;
            if ((rc = batch_drop_chunk(self, &batch, o)) < 0 || (rc = run_fallback(self, text, chunk_start, end, o)) < 0)
                break;
            n = 0;
            i = end - 1; /* the loop moves on to the whitespace after the chunk */
            continue;
        }
        for (int j = 0; j < ci.n; j++) {
            if (ci.tokmask & (1 << j)) {
                tok[n++] = ci.out[j];
                if (n == max_token) {
                    if ((rc = batch_push(self, &batch, tok, n, o)) < 0)
                        goto done;
                    n = 0;
                }
            } else if (n) {
                if ((rc = batch_push(self, &batch, tok, n, o)) < 0)
                    goto done;
                n = 0;
            }
        }
    }
    if (rc == 0 && n)
        rc = batch_push(self, &batch, tok, n, o);
    if (rc == 0)
        rc = batch_flush(self, &batch, o);
done:
    Py_DECREF(text);
    return rc;
}

static PyObject *Chain_analyze(Chain *self, PyObject *text) {
    Out o = {0};
    o.list = PyList_New(0);
    if (!o.list)
        return NULL;
    if (run(self, text, 0, -1, &o) < 0) {
        Py_DECREF(o.list);
        return NULL;
    }
    return o.list;
}

static PyObject *Chain_analyze_joined(Chain *self, PyObject *text) {
    Out o = {0};
    if (run(self, text, 0, -1, &o) < 0) {
        PyMem_RawFree(o.buf);
        return NULL;
    }
    PyObject *joined = o.len ? PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, o.buf, o.len) : PyUnicode_New(0, 0);
    PyMem_RawFree(o.buf);
    return joined;
}

/* analyze_utf8(text, start, stop, suffix): the terms of text[start:stop], joined by single spaces,
 * then a space and `suffix` (already-joined UTF-8 terms) if both are non-empty, as UTF-8 bytes: what
 * a passage stores, without slicing the body, building a str, or encoding it for SQLite. */
static PyObject *Chain_analyze_utf8(Chain *self, PyObject *args) {
    PyObject *text;
    Py_ssize_t start, stop;
    Py_buffer suffix;
    if (!PyArg_ParseTuple(args, "Unny*", &text, &start, &stop, &suffix))
        return NULL;
    PyObject *joined = NULL;
    Out o = {0};
    o.utf8 = 1;
    if (str_ready(text) < 0)
        goto done;
    if (start < 0 || start > stop || stop > PyUnicode_GET_LENGTH(text)) {
        PyErr_SetString(PyExc_ValueError, "need 0 <= start <= stop <= len(text)");
        goto done;
    }
    if (run(self, text, start, stop, &o) < 0)
        goto done;
    if (suffix.len) {
        if (out_reserve(&o, suffix.len) < 0)
            goto done;
        if (o.count)
            o.b8[o.len++] = ' ';
        memcpy(o.b8 + o.len, suffix.buf, suffix.len);
        o.len += suffix.len;
    }
    joined = PyBytes_FromStringAndSize((const char *)o.b8, o.len);
done:
    PyMem_RawFree(o.b8);
    PyBuffer_Release(&suffix);
    return joined;
}

/* A character of the raw words excerpts highlight (excerpts.tokenize_with_spans' pattern, `\w` and
 * the Arabic marks, tatweel, ZWNJ and ZWJ inside words), the underscore excepted: `\w` takes it in,
 * and tokenize_with_spans then splits the run at it. Python's `\w` is `str.isalnum()` or `_`. */
static int raw_word_char_slow(Py_UCS4 c) {
    if (c == '_')
        return 0;
    return Py_UNICODE_ISALNUM(c) || (c >= 0x0610 && c <= 0x061A) || (c >= 0x064B && c <= 0x065F) || c == 0x0670 ||
           (c >= 0x06D6 && c <= 0x06ED) || c == 0x0640 || c == 0x200C || c == 0x200D;
}

/* raw_word_char_slow of the characters below RAW_TABLE (Latin, Greek, Cyrillic, Hebrew, Arabic), filled
 * from it when the module loads: Py_UNICODE_ISALNUM is four lookups in the Unicode database, and
 * matches() asks it of every character of every shown passage. */
#define RAW_TABLE 0x0800
static uint8_t raw_table[RAW_TABLE];

static inline int raw_word_char(Py_UCS4 c) {
    return c < RAW_TABLE ? raw_table[c] : raw_word_char_slow(c);
}

/* --- matches: the question's terms found in a passage ----------------------------------------- */

/* Every term the chain gives a token is G(a contiguous run of that token's characters): the prefix
 * stage cuts leading characters, the suffix stage trailing ones, and the only characters changed
 * are folded one for one (stem_fold, then taa marbuta → heh; see compute_term). A token is a run
 * of the token characters the mapping gives a raw word's characters. So a raw word whose mapped
 * characters, folded by G, hold none of the asked terms as a substring cannot give one of them,
 * and matches() skips its analysis (a cache probe, a SipHash and list traffic per word: most of the
 * ~30 µs a shown passage cost). Words holding a character the mapping hands to the Python fallback
 * (UNSAFE, or beyond the BMP) are always analysed: the fallback's terms follow no such rule. */
#define MAX_NEEDLES 64
#define MAX_NEEDLE_UNITS 1024

static inline Py_UCS2 term_fold(Py_UCS2 c) {
    c = stem_fold(c);
    return c == TAA_MARBUTA ? HEH : c;
}

typedef struct {
    int on;                          /* 0: every word is analysed */
    Py_ssize_t count;
    Py_ssize_t at[MAX_NEEDLES], len[MAX_NEEDLES];
    /* The needles by their first character's low 6 bits: a list per bucket (head, then next; -1 ends
     * it), so that a word's character is compared with the few needles that may start there. */
    int8_t head[64], next[MAX_NEEDLES];
    /* A necessary condition checked before a bucket is walked: bit (b & 63) of pair[a & 63] is set when a
     * needle starts with the characters a, b; bit (a & 63) of single when a needle is the one character a. */
    uint64_t pair[64], single;
    Py_UCS2 units[MAX_NEEDLE_UNITS];
} Needles;

/* The asked terms as needles, when `terms` is a container that iterating cannot change or consume
 * (set, frozenset, dict, dict keys, list, tuple) and every term is a non-empty BMP str without NUL;
 * otherwise (or with too many) the prefilter is off. -1 with an exception set on error. */
static int needles_of(PyObject *terms, Needles *nd) {
    nd->on = 0;
    nd->count = 0;
    memset(nd->head, -1, sizeof nd->head);
    memset(nd->pair, 0, sizeof nd->pair);
    nd->single = 0;
    if (!(PyAnySet_CheckExact(terms) || PyDict_CheckExact(terms) || PyDictKeys_Check(terms) ||
          PyList_CheckExact(terms) || PyTuple_CheckExact(terms)))
        return 0;
    PyObject *it = PyObject_GetIter(terms);
    if (!it)
        return -1;
    Py_ssize_t used = 0;
    int usable = 1;
    PyObject *term;
    while ((term = PyIter_Next(it))) {
        if (usable) {
            Py_ssize_t n;
            /* Only exact str: a subclass may compare equal to other strings (a custom __eq__). */
            if (!PyUnicode_CheckExact(term) || str_ready(term) < 0 || (n = PyUnicode_GET_LENGTH(term)) == 0 ||
                PyUnicode_KIND(term) == PyUnicode_4BYTE_KIND || nd->count == MAX_NEEDLES ||
                used + n > MAX_NEEDLE_UNITS) {
                if (PyErr_Occurred()) {
                    Py_DECREF(term);
                    Py_DECREF(it);
                    return -1;
                }
                usable = 0;
            } else {
                int kind = PyUnicode_KIND(term);
                const void *data = PyUnicode_DATA(term);
                for (Py_ssize_t i = 0; i < n; i++) {
                    Py_UCS2 c = (Py_UCS2)PyUnicode_READ(kind, data, i);
                    if (c == 0)
                        usable = 0;
                    nd->units[used + i] = c;
                }
                nd->at[nd->count] = used;
                nd->len[nd->count] = n;
                int bucket = nd->units[used] & 63;
                if (n == 1)
                    nd->single |= 1ULL << bucket;
                else
                    nd->pair[bucket] |= 1ULL << (nd->units[used + 1] & 63);
                nd->next[nd->count] = nd->head[bucket];
                nd->head[bucket] = (int8_t)nd->count;
                nd->count++;
                used += n;
            }
        }
        Py_DECREF(term);
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return -1;
    nd->on = usable;
    return 0;
}

/* Whether the raw word text[start:end] may analyse to one of the needles (see above): 1 if it may
 * or must be analysed to tell, 0 if it cannot. */
static inline __attribute__((always_inline)) int word_may_match(const Chain *self, const Needles *nd, int kind,
                                                                  const void *data, Py_ssize_t start, Py_ssize_t end) {
    Py_UCS2 folded[MAX_TOKEN];
    Py_ssize_t n = 0;
    for (Py_ssize_t i = start; i < end; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c >= BMP)
            return 1;
        CharInfo ci = self->info[c];
        if (ci.n == UNSAFE || ci.n == SPACE)
            return 1;
        if (n + MAX_OUT > MAX_TOKEN)
            return 1; /* a long word: analysed, not searched */
        for (int j = 0; j < ci.n; j++)
            /* A character outside tokens ends a token: 0 (no needle holds it) keeps needles from spanning it. */
            folded[n++] = (ci.tokmask & (1 << j)) ? term_fold(ci.out[j]) : 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS2 c = folded[i];
        if (!((nd->single >> (c & 63)) & 1) && (i + 1 == n || !((nd->pair[c & 63] >> (folded[i + 1] & 63)) & 1)))
            continue;
        for (int k = nd->head[c & 63]; k >= 0; k = nd->next[k]) {
            Py_ssize_t len = nd->len[k];
            const Py_UCS2 *needle = nd->units + nd->at[k];
            if (needle[0] != c || i + len > n)
                continue;
            /* needles are a few characters: compared inline, not through a memcmp call */
            Py_ssize_t m = 1;
            while (m < len && folded[i + m] == needle[m])
                m++;
            if (m == len)
                return 1;
        }
    }
    return 0;
}

/* matches(text, stop, terms): [(start, end, term)] for every raw word of text[:stop] whose analysis
 * is exactly one term found in `terms` (any container): what excerpts.matched_words gives with
 * analysis.analyze_token, each word analysed by this chain where it lies in the text. */
/* matches()' loop over text[:stop]: appends (start, end, term) to found; 0, or -1 with an exception set.
 * Inlined with `kind` a constant at each call. */
static inline __attribute__((always_inline)) int matches_scan(Chain *self, const Needles *nd, PyObject *text,
                                                              PyObject *terms, const int kind, const void *data,
                                                              Py_ssize_t stop, PyObject *found, PyObject *one) {
    Py_ssize_t i = 0;
    while (i < stop) {
        if (!raw_word_char(PyUnicode_READ(kind, data, i))) {
            i++;
            continue;
        }
        Py_ssize_t start = i;
        while (i < stop && raw_word_char(PyUnicode_READ(kind, data, i)))
            i++;
        if (nd->on && !word_may_match(self, nd, kind, data, start, i))
            continue;
        Out o = {0};
        o.list = one;
        if (run(self, text, start, i, &o) < 0)
            return -1;
        if (PyList_GET_SIZE(one) == 1) {
            PyObject *term = PyList_GET_ITEM(one, 0);
            Py_INCREF(term);
            int in = PySequence_Contains(terms, term);
            PyObject *match = NULL;
            if (in > 0) {
                PyObject *a = PyLong_FromSsize_t(start), *b = a ? PyLong_FromSsize_t(i) : NULL;
                match = b ? PyTuple_Pack(3, a, b, term) : NULL;
                Py_XDECREF(a);
                Py_XDECREF(b);
            }
            Py_DECREF(term);
            if (in < 0 || (in > 0 && !match))
                return -1;
            if (match) {
                int rc = PyList_Append(found, match);
                Py_DECREF(match);
                if (rc < 0)
                    return -1;
            }
        }
        if (PyList_GET_SIZE(one) && PyList_SetSlice(one, 0, PyList_GET_SIZE(one), NULL) < 0)
            return -1;
    }
    return 0;
}

static PyObject *Chain_matches(Chain *self, PyObject *args) {
    PyObject *text, *terms;
    Py_ssize_t stop;
    if (!PyArg_ParseTuple(args, "UnO", &text, &stop, &terms))
        return NULL;
    if (str_ready(text) < 0)
        return NULL;
    if (stop < 0 || stop > PyUnicode_GET_LENGTH(text)) {
        PyErr_SetString(PyExc_ValueError, "need 0 <= stop <= len(text)");
        return NULL;
    }
    if (!self->info) {
        PyErr_SetString(PyExc_RuntimeError, "Chain not initialised");
        return NULL;
    }
    Needles *nd = PyMem_Malloc(sizeof(Needles));
    if (!nd)
        return PyErr_NoMemory();
    if (needles_of(terms, nd) < 0) {
        PyMem_Free(nd);
        return NULL;
    }
    PyObject *found = PyList_New(0), *one = PyList_New(0);
    if (!found || !one)
        goto fail;
    Py_INCREF(text); /* the fallback and the containment checks may run Python code */
    const int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    /* The scan specialised for the kind nearly every passage has (Arabic: two bytes a character),
     * so that reading a character is not a switch on the kind. */
    int rc = kind == PyUnicode_2BYTE_KIND ? matches_scan(self, nd, text, terms, PyUnicode_2BYTE_KIND, data, stop,
                                                         found, one)
                                          : matches_scan(self, nd, text, terms, kind, data, stop, found, one);
    if (rc < 0)
        goto fail_text;
    Py_DECREF(text);
    Py_DECREF(one);
    PyMem_Free(nd);
    return found;
fail_text:
    Py_DECREF(text);
fail:
    Py_XDECREF(found);
    Py_XDECREF(one);
    PyMem_Free(nd);
    return NULL;
}

static PyObject *Chain_clear(Chain *self, PyObject *Py_UNUSED(ignored)) {
    if (cache_reset(self, 1024) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* The term of one normalised token, computed as for a token the cache has not seen (for tests). */
static PyObject *Chain_term(Chain *self, PyObject *token) {
    if (!self->table || !self->stopwords || !self->clitic_exceptions) {
        PyErr_SetString(PyExc_RuntimeError, "Chain not initialised");
        return NULL;
    }
    if (!PyUnicode_Check(token)) {
        PyErr_Format(PyExc_TypeError, "expected str, not %.100s", Py_TYPE(token)->tp_name);
        return NULL;
    }
    if (str_ready(token) < 0)
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(token);
    if (n < 1 || n >= MAX_TOKEN || PyUnicode_KIND(token) == PyUnicode_4BYTE_KIND) {
        PyErr_SetString(PyExc_ValueError, "a token has 1..255 BMP characters");
        return NULL;
    }
    Py_UCS2 chars[MAX_TOKEN];
    for (Py_ssize_t i = 0; i < n; i++)
        chars[i] = (Py_UCS2)PyUnicode_READ_CHAR(token, i);
    return compute_term(self, chars, n);
}

static PyObject *Chain_cached(Chain *self, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromSize_t(self->used);
}

static int Chain_init(Chain *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"mapped", "token_chars", "stopwords", "clitic_exceptions", "fallback", "max_token",
                             "max_stem", "cache_limit", NULL};
    PyObject *mapped, *stopwords, *clitic_exceptions, *fallback;
    Py_buffer token_chars;
    Py_ssize_t max_token, max_stem, cache_limit;
    if (self->table) {
        PyErr_SetString(PyExc_RuntimeError, "Chain is already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Oy*OOOnnn", kwlist, &mapped, &token_chars, &stopwords,
                                     &clitic_exceptions, &fallback, &max_token, &max_stem, &cache_limit))
        return -1;
    int rc = -1;
    PyObject *seq = NULL;
    CharInfo *info = NULL;
    const uint8_t *is_token = token_chars.buf;
    if (token_chars.len != BMP) {
        PyErr_SetString(PyExc_ValueError, "token_chars must have one byte per BMP character");
        goto done;
    }
    if (max_token < 1 || max_token >= MAX_TOKEN || cache_limit < 1 || max_stem < 0) {
        PyErr_SetString(PyExc_ValueError, "max_token must be in 1..255, cache_limit positive, max_stem not negative");
        goto done;
    }
    if (!PyAnySet_Check(stopwords) || !PyAnySet_Check(clitic_exceptions)) {
        PyErr_Format(PyExc_TypeError, "stopwords and clitic_exceptions must be sets or frozensets, not %.100s",
                     Py_TYPE(PyAnySet_Check(stopwords) ? clitic_exceptions : stopwords)->tp_name);
        goto done;
    }
    if (max_stem >= MAX_TOKEN) {
        PyErr_SetString(PyExc_ValueError, "max_stem must be below 256");
        goto done;
    }
    if (!PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "fallback must be callable");
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
    self->stopwords = Py_NewRef(stopwords);
    self->clitic_exceptions = Py_NewRef(clitic_exceptions);
    self->max_stem = max_stem;
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
        table_free(self->table, self->capacity);
    }
    PyMem_RawFree(self->info);
    Py_XDECREF(self->stopwords);
    Py_XDECREF(self->clitic_exceptions);
    Py_XDECREF(self->fallback);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Chain_traverse(Chain *self, visitproc visit, void *arg) {
    Py_VISIT(self->stopwords);
    Py_VISIT(self->clitic_exceptions);
    Py_VISIT(self->fallback);
    return 0;
}

static int Chain_clear_refs(Chain *self) {
    Py_CLEAR(self->stopwords);
    Py_CLEAR(self->clitic_exceptions);
    Py_CLEAR(self->fallback);
    return 0;
}

static PyMethodDef Chain_methods[] = {
    {"analyze", (PyCFunction)Chain_analyze, METH_O, "The terms of a text, as a list."},
    {"analyze_joined", (PyCFunction)Chain_analyze_joined, METH_O, "The terms of a text joined by single spaces."},
    {"analyze_utf8", (PyCFunction)Chain_analyze_utf8, METH_VARARGS,
     "analyze_utf8(text, start, stop, suffix): the UTF-8 of the terms of text[start:stop] joined by spaces,"
     " with the joined terms `suffix` after them."},
    {"matches", (PyCFunction)Chain_matches, METH_VARARGS,
     "matches(text, stop, terms): [(start, end, term)] of the raw words of text[:stop] analysed as one term in terms."},
    {"clear", (PyCFunction)Chain_clear, METH_NOARGS, "Empty the token cache."},
    {"term", (PyCFunction)Chain_term, METH_O, "The term of one normalised token (str or None), as stemmer._term."},
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
    for (Py_UCS4 c = 0; c < RAW_TABLE; c++)
        raw_table[c] = (uint8_t)raw_word_char_slow(c);
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
