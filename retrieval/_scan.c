/* Ingest's scans over an article's text in C: where its passages split (retrieval/passages.py) and
 * whether a JSON line is plain (retrieval/readers.py). The Python versions are the specification.
 *
 * `passage_spans(body, target_chars, max_chars)` returns what `passages.reference_passage_spans`
 * returns: the (start, end) spans of an article's passages. It was ~4 µs of the ~48 µs a passage
 * cost to ingest, most of it regex calls and a Python loop per paragraph and per cut.
 *
 * The Python version's three patterns are matched by hand here, each the way `re.finditer`
 * matches it: leftmost first, greedy, non-overlapping, within the slice it was given.
 *   _PARAGRAPH_SPAN  \S(?:[^\n]*\S)?                from a line's first to its last non-space
 *   _SENTENCE_END    [.!?؟؛…]+["'»”)\]]*\s+
 *   _CLAUSE_END      [،,:;]\s+
 *   (last resort)    \s+
 * The three character classes of _SENTENCE_END are disjoint, so the greedy scan below finds a
 * match at a position exactly when the regex, backtracking, would. `\s` and str.isspace are the
 * same test (Py_UNICODE_ISSPACE). tests/test_native_scan.py compares the two on generated text.
 *
 * `plain_json_line(line)` is `readers.reference_plain_json_line`: no DEL byte, no `\u` or `\b`,
 * no C1 control in UTF-8, found with memchr (~3 KB a line, three regex scans took ~1 µs a passage).
 *
 * `term_ids(texts, ids, cache=None)` is `segment.reference_term_ids`: every whitespace-separated
 * token of the passages' stored terms (a str, or its UTF-8 as bytes, decoded here; str.split's tokens,
 * Py_UNICODE_ISSPACE) as its id in the
 * dict `ids`, a new token numbered len(ids) on first sight; returned as (int64 ids, int32 tokens
 * per text) in two bytearrays. A near-real-time add indexes the stored terms of its passages; in
 * Python, split and a dict lookup per token were ~2/3 of a segment's build (~240 ns a token here,
 * ~70 in C). `cache`, a `TermCache` kept with the vocabulary, is read before the dict (see there):
 * ~100 passages (~8,000 tokens) numbered in ~0.55 ms against ~1.0 ms with the dict alone.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* For get_array; the question-term helpers it also holds are the kernels', not used here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "_buffers.h"
#pragma GCC diagnostic pop

typedef struct {
    int kind;
    const void *data;
} Text;

static inline Py_UCS4 at(const Text *t, Py_ssize_t i) { return PyUnicode_READ(t->kind, t->data, i); }

static inline int is_space(const Text *t, Py_ssize_t i) { return Py_UNICODE_ISSPACE(at(t, i)); }

static inline int is_sentence_mark(Py_UCS4 c) {
    return c == '.' || c == '!' || c == '?' || c == 0x061F || c == 0x061B || c == 0x2026; /* ؟ ؛ … */
}

static inline int is_closer(Py_UCS4 c) {
    return c == '"' || c == '\'' || c == 0x00BB || c == 0x201D || c == ')' || c == ']'; /* » ” */
}

static inline int is_clause_mark(Py_UCS4 c) { return c == 0x060C || c == ',' || c == ':' || c == ';'; /* ، */ }

/* The index of the first '\n' at or after i, or n. Most of the scan's time is this walk over every
 * character: Arabic text is 2-byte str, read here four characters per 64-bit word. */
static Py_ssize_t find_newline(const Text *t, Py_ssize_t i, Py_ssize_t n) {
    if (t->kind == PyUnicode_1BYTE_KIND) {
        const Py_UCS1 *p = t->data;
        const Py_UCS1 *hit = memchr(p + i, '\n', (size_t)(n - i));
        return hit ? hit - p : n;
    }
    if (t->kind == PyUnicode_2BYTE_KIND) {
        const Py_UCS2 *p = t->data;
        const uint64_t ones = 0x0001000100010001ULL, highs = 0x8000800080008000ULL, newlines = 0x000A000A000A000AULL;
        for (; i + 4 <= n; i += 4) {
            uint64_t word;
            memcpy(&word, p + i, sizeof word);
            word ^= newlines; /* a lane is 0 where the character is '\n' */
            if ((word - ones) & ~word & highs)
                break;
        }
        while (i < n && p[i] != '\n')
            i++;
        return i;
    }
    while (i < n && at(t, i) != '\n')
        i++;
    return i;
}

enum Cut { SENTENCE, CLAUSE, SPACE };

/* The end of the whitespace run starting at i (i itself if there is none), within [i, end). */
static inline Py_ssize_t after_spaces(const Text *t, Py_ssize_t i, Py_ssize_t end) {
    while (i < end && is_space(t, i))
        i++;
    return i;
}

/* The end of `cut`'s match at i in [i, end), or -1 when none starts at i. On a miss, *resume is where
 * the next match may start: a run of sentence marks that is not followed by (closers and) a space
 * fails from every one of its positions alike, so it is skipped whole. Trying each of them, as
 * re.finditer did, made a hostile paragraph of n dots cost n²/2 steps (80,000 dots: 9 s in C, two
 * minutes in Python). */
static Py_ssize_t match_at(const Text *t, Py_ssize_t i, Py_ssize_t end, enum Cut cut, Py_ssize_t *resume) {
    Py_ssize_t j = i;
    *resume = i + 1;
    if (cut == SENTENCE) {
        while (j < end && is_sentence_mark(at(t, j)))
            j++;
        if (j == i)
            return -1;
        *resume = j;
        while (j < end && is_closer(at(t, j)))
            j++;
    } else if (cut == CLAUSE) {
        if (!is_clause_mark(at(t, j)))
            return -1;
        j++;
    }
    Py_ssize_t k = after_spaces(t, j, end);
    return k > j ? k : -1;
}

/* The end of the next match of `cut` found from `from` in [from, end), or -1 (re.finditer's next). */
static Py_ssize_t next_cut(const Text *t, Py_ssize_t from, Py_ssize_t end, enum Cut cut) {
    for (Py_ssize_t i = from, resume; i < end; i = resume) {
        Py_ssize_t m = match_at(t, i, end, cut, &resume);
        if (m >= 0)
            return m;
    }
    return -1;
}

typedef struct {
    Py_ssize_t start, end;
} Span;

typedef struct {
    Span *items;
    Py_ssize_t len, cap;
} Spans;

static int spans_push(Spans *s, Py_ssize_t start, Py_ssize_t end) {
    if (s->len == s->cap) {
        Py_ssize_t cap = s->cap ? s->cap * 2 : 16;
        Span *grown = PyMem_Realloc(s->items, (size_t)cap * sizeof(Span));
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        s->items = grown;
        s->cap = cap;
    }
    s->items[s->len].start = start;
    s->items[s->len].end = end;
    s->len++;
    return 0;
}

/* _split_at: [start, end) cut at `cut`'s match ends into pieces of at most max_chars where it can be. */
static int split_at(const Text *t, Py_ssize_t start, Py_ssize_t end, enum Cut cut, Py_ssize_t max_chars,
                    Spans *out) {
    Py_ssize_t piece_start = start, last_cut = -1;
    for (Py_ssize_t c = next_cut(t, start, end, cut); c >= 0; c = next_cut(t, c, end, cut)) {
        if (c - piece_start > max_chars && last_cut >= 0 && last_cut > piece_start) {
            if (spans_push(out, piece_start, last_cut) < 0)
                return -1;
            piece_start = last_cut;
        }
        last_cut = c;
    }
    return spans_push(out, piece_start, end);
}

/* _rstrip */
static inline Py_ssize_t rstrip(const Text *t, Py_ssize_t start, Py_ssize_t end) {
    while (end > start && is_space(t, end - 1))
        end--;
    return end;
}

/* _split_long: sentence ends first, then clause marks, then spaces; pieces right-stripped, empty ones dropped. */
static int split_long(const Text *t, Py_ssize_t start, Py_ssize_t end, Py_ssize_t max_chars, Spans *out) {
    Spans sentences = {0}, clauses = {0}, pieces = {0};
    int rc = -1;
    if (split_at(t, start, end, SENTENCE, max_chars, &sentences) < 0)
        goto done;
    for (Py_ssize_t i = 0; i < sentences.len; i++) {
        Span s = sentences.items[i];
        if (s.end - s.start <= max_chars) {
            if (spans_push(&pieces, s.start, s.end) < 0)
                goto done;
            continue;
        }
        clauses.len = 0;
        if (split_at(t, s.start, s.end, CLAUSE, max_chars, &clauses) < 0)
            goto done;
        for (Py_ssize_t j = 0; j < clauses.len; j++) {
            Span c = clauses.items[j];
            if (c.end - c.start > max_chars ? split_at(t, c.start, c.end, SPACE, max_chars, &pieces) < 0
                                            : spans_push(&pieces, c.start, c.end) < 0)
                goto done;
        }
    }
    for (Py_ssize_t i = 0; i < pieces.len; i++) {
        Py_ssize_t stripped = rstrip(t, pieces.items[i].start, pieces.items[i].end);
        if (stripped > pieces.items[i].start && spans_push(out, pieces.items[i].start, stripped) < 0)
            goto done;
    }
    rc = 0;
done:
    PyMem_Free(sentences.items);
    PyMem_Free(clauses.items);
    PyMem_Free(pieces.items);
    return rc;
}

/* passage_spans's merge: a piece joins the passage before it while that stays within target_chars,
 * or, when that passage is under a quarter of the target, within max_chars. */
static int merge(Spans *merged, Py_ssize_t start, Py_ssize_t end, Py_ssize_t target_chars, Py_ssize_t quarter,
                 Py_ssize_t max_chars) {
    if (merged->len) {
        Span *last = &merged->items[merged->len - 1];
        if (end - last->start <= target_chars || (last->end - last->start < quarter && end - last->start <= max_chars)) {
            last->end = end;
            return 0;
        }
    }
    return spans_push(merged, start, end);
}

static PyObject *passage_spans(PyObject *module, PyObject *args) {
    PyObject *body;
    Py_ssize_t target_chars, max_chars;
    if (!PyArg_ParseTuple(args, "Unn", &body, &target_chars, &max_chars))
        return NULL;
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(body) < 0) /* a legacy wchar_t str reads as empty until made ready */
        return NULL;
#endif
    Text t = {PyUnicode_KIND(body), PyUnicode_DATA(body)};
    const Py_ssize_t n = PyUnicode_GET_LENGTH(body);
    /* target_chars // 4 as Python floors it, whatever the sign */
    const Py_ssize_t quarter = target_chars / 4 - (target_chars % 4 != 0 && target_chars < 0);
    Spans merged = {0}, pieces = {0};
    PyObject *result = NULL;
    Py_ssize_t i = 0;
    for (;;) {
        i = after_spaces(&t, i, n); /* the paragraph's first non-space ('\n' is a space) */
        if (i == n)
            break;
        Py_ssize_t line_end = find_newline(&t, i, n);
        Py_ssize_t start = i, end = rstrip(&t, i, line_end);
        i = line_end;
        if (end - start <= max_chars) {
            if (merge(&merged, start, end, target_chars, quarter, max_chars) < 0)
                goto done;
            continue;
        }
        pieces.len = 0;
        if (split_long(&t, start, end, max_chars, &pieces) < 0)
            goto done;
        for (Py_ssize_t j = 0; j < pieces.len; j++)
            if (merge(&merged, pieces.items[j].start, pieces.items[j].end, target_chars, quarter, max_chars) < 0)
                goto done;
    }
    result = PyList_New(merged.len);
    if (!result)
        goto done;
    for (Py_ssize_t j = 0; j < merged.len; j++) {
        PyObject *span = Py_BuildValue("(nn)", merged.items[j].start, merged.items[j].end);
        if (!span) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, j, span);
    }
done:
    PyMem_Free(merged.items);
    PyMem_Free(pieces.items);
    return result;
}

/* Whether `byte` occurs in p[0:n] followed by a byte `follows` accepts. */
static int pair_in(const unsigned char *p, size_t n, unsigned char byte, int (*follows)(unsigned char)) {
    const unsigned char *end = p + n, *hit;
    while (p < end && (hit = memchr(p, byte, (size_t)(end - p))) != NULL) {
        if (hit + 1 < end && follows(hit[1]))
            return 1;
        p = hit + 1;
    }
    return 0;
}

static int is_u_or_b(unsigned char c) { return c == 'u' || c == 'b'; }

static int is_c1_tail(unsigned char c) { return c >= 0x80 && c <= 0x9f; } /* \xc2\x80-\xc2\x9f: U+0080-U+009F */

static PyObject *plain_json_line(PyObject *module, PyObject *args) {
    Py_buffer line;
    if (!PyArg_ParseTuple(args, "y*", &line))
        return NULL;
    const unsigned char *p = line.buf;
    size_t n = (size_t)line.len;
    int plain = !memchr(p, 0x7f, n) && !pair_in(p, n, '\\', is_u_or_b) && !pair_in(p, n, 0xc2, is_c1_tail);
    PyBuffer_Release(&line);
    return PyBool_FromLong(plain);
}

/* Py_UNICODE_ISSPACE without its function call for the letters of most scripts: from U+0080 to
 * U+167F only U+0085 and U+00A0 are whitespace to Python (str.split, str.isspace). */
static inline int split_space(Py_UCS4 c) {
    if (c < 128)
        return Py_UNICODE_ISSPACE(c);
    if (c < 0x1680)
        return c == 0x85 || c == 0xA0;
    return Py_UNICODE_ISSPACE(c);
}

/* The ids of tokens seen in this call, by their characters (kind and bytes, pointing into the texts,
 * which the call holds): a token met again (a title's terms repeat in every passage of its article,
 * common words in every passage) costs a hash of its bytes instead of a new str and a lookup in a
 * large dict. At most half full; past that, tokens are only looked up in the dict. */
typedef struct {
    const void *data; /* NULL: empty */
    Py_ssize_t len;
    int kind;
    int64_t id;
    uint64_t hash;
} Seen;

static uint64_t token_hash(const void *data, size_t nbytes) {
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < nbytes; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}


/* TermCache: a table kept between calls of `term_ids` that maps a token's characters to its id in
 * one dict (the vocabulary, only ever appended to, so an id once read stays true). A near-real-time
 * add numbers a few thousand distinct tokens against ~80-90k terms; in the dict each one cost a new
 * str, and its hash slot, entry, key str and int object read cold (~250 ns); here a token of up to
 * CACHED_CHARS characters below U+10000 (99.99% of the stored terms) is one 32-byte slot, read
 * with one cache miss. Longer tokens, and any the table does not hold yet, are looked up in the
 * dict as before and then remembered. The table is bound to one dict: handed another, it
 * forgets everything first. */
#define CACHED_CHARS 11
#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

/* split_space for a UCS-2 character, with the usual case (a letter or digit of most scripts) in
 * two comparisons. */
static inline int ucs2_space(Py_UCS2 c) {
    if (c > 0x20 && c < 0x1680 && c != 0x85 && c != 0xA0)
        return 0;
    return split_space(c);
}
#define CACHE_MAX_SLOTS ((size_t)1 << 20) /* 32 MiB: ~500k terms; past that the dict alone */

typedef struct {
    uint32_t tag; /* the hash's high half */
    int32_t id;
    uint16_t len; /* 0: empty */
    uint16_t ch[CACHED_CHARS];
} Slot;

typedef struct {
    PyObject_HEAD
    Slot *slots;
    size_t cap, used;
    PyObject *dict; /* the vocabulary the slots were read from (a strong reference), or NULL */
} TermCache;

static void cache_clear(TermCache *c) {
    PyMem_Free(c->slots);
    c->slots = NULL;
    c->cap = c->used = 0;
    Py_CLEAR(c->dict);
}

static void TermCache_dealloc(TermCache *c) {
    PyObject_GC_UnTrack(c);
    cache_clear(c);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static int TermCache_traverse(TermCache *c, visitproc visit, void *arg) {
    Py_VISIT(c->dict);
    return 0;
}

static int TermCache_tp_clear(TermCache *c) {
    cache_clear(c);
    return 0;
}


/* Forward declarations: fill needs the helpers below. */
static int cache_put(TermCache *c, const uint16_t *key, Py_ssize_t len, uint64_t hash, long long id);
static inline int cache_key(const Text *t, Py_ssize_t start, Py_ssize_t end, uint16_t *key, uint64_t *hash);

/* fill(ids): bind to `ids` and remember every str -> int entry it holds (the first add after a
 * start then finds the whole vocabulary here). */
static PyObject *TermCache_fill(TermCache *c, PyObject *ids) {
    if (!PyDict_Check(ids)) {
        PyErr_Format(PyExc_TypeError, "ids must be a dict, not %.100s", Py_TYPE(ids)->tp_name);
        return NULL;
    }
    if (c->dict != ids) {
        cache_clear(c);
        Py_INCREF(ids);
        c->dict = ids;
    }
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(ids, &pos, &key, &value)) {
        if (!PyUnicode_Check(key) || !PyLong_Check(value))
            continue;
        long long id = PyLong_AsLongLong(value);
        if (id == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            continue;
        }
        Text t = {PyUnicode_KIND(key), PyUnicode_DATA(key)};
        uint16_t chars[CACHED_CHARS];
        uint64_t hash;
        if (cache_key(&t, 0, PyUnicode_GET_LENGTH(key), chars, &hash) && PyUnicode_GET_LENGTH(key) > 0
            && !cache_put(c, chars, PyUnicode_GET_LENGTH(key), hash, id))
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef TermCache_methods[] = {
    {"fill", (PyCFunction)TermCache_fill, METH_O, "fill(ids): bind to the dict ids and remember all its str keys."},
    {NULL, NULL, 0, NULL},
};

static Py_ssize_t TermCache_length(TermCache *c) { return (Py_ssize_t)c->used; }

static PySequenceMethods TermCache_as_sequence = {.sq_length = (lenfunc)TermCache_length};

static PyTypeObject TermCacheType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "retrieval._scan.TermCache",
    .tp_doc = "TermCache(): token characters -> ids of one vocabulary dict, kept between term_ids calls.",
    .tp_basicsize = sizeof(TermCache),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)TermCache_dealloc,
    .tp_traverse = (traverseproc)TermCache_traverse,
    .tp_clear = (inquiry)TermCache_tp_clear,
    .tp_as_sequence = &TermCache_as_sequence,
    .tp_methods = TermCache_methods,
};

/* The token t[start:end) as UCS-2 code units in `key` with its hash, or 0 if it is not cacheable. */
static inline int cache_key(const Text *t, Py_ssize_t start, Py_ssize_t end, uint16_t *key, uint64_t *hash) {
    Py_ssize_t len = end - start;
    if (len > CACHED_CHARS)
        return 0;
    uint64_t h = FNV_OFFSET; /* FNV-1a over the code units */
    for (Py_ssize_t j = 0; j < len; j++) {
        Py_UCS4 ch = at(t, start + j);
        if (ch > 0xFFFF)
            return 0;
        key[j] = (uint16_t)ch;
        h = (h ^ ch) * FNV_PRIME;
    }
    *hash = h ^ (h >> 29);
    return 1;
}

/* The slot holding the key, or the empty one where it would go. */
static inline Slot *cache_probe(const TermCache *c, const uint16_t *key, Py_ssize_t len, uint64_t hash) {
    uint32_t tag = (uint32_t)(hash >> 32);
    size_t i = (size_t)hash & (c->cap - 1);
    for (;;) {
        Slot *s = &c->slots[i];
        if (s->len == 0 || (s->tag == tag && s->len == len && !memcmp(s->ch, key, (size_t)len * 2)))
            return s;
        i = (i + 1) & (c->cap - 1);
    }
}

static uint64_t slot_hash(const Slot *s) {
    uint64_t h = FNV_OFFSET;
    for (int j = 0; j < s->len; j++)
        h = (h ^ s->ch[j]) * FNV_PRIME;
    return h ^ (h >> 29);
}

/* Room for one more entry (at most half full); 0 with an exception set on failure, -1 if the
 * table is at its size limit (the entry is then simply not remembered). */
static int cache_reserve(TermCache *c) {
    if (2 * (c->used + 1) <= c->cap)
        return 1;
    size_t cap = c->cap ? 2 * c->cap : ((size_t)1 << 16);
    if (cap > CACHE_MAX_SLOTS)
        return -1;
    Slot *slots = PyMem_Calloc(cap, sizeof(Slot));
    if (!slots) {
        PyErr_NoMemory();
        return 0;
    }
    for (size_t i = 0; i < c->cap; i++) {
        Slot *old = &c->slots[i];
        if (old->len == 0)
            continue;
        size_t j = (size_t)slot_hash(old) & (cap - 1);
        while (slots[j].len)
            j = (j + 1) & (cap - 1);
        slots[j] = *old;
    }
    PyMem_Free(c->slots);
    c->slots = slots;
    c->cap = cap;
    return 1;
}

static int cache_put(TermCache *c, const uint16_t *key, Py_ssize_t len, uint64_t hash, long long id) {
    if (id < 0 || id > INT32_MAX)
        return 1;
    int room = cache_reserve(c);
    if (room <= 0)
        return room == 0 ? 0 : 1;
    Slot *s = cache_probe(c, key, len, hash);
    if (s->len == 0) {
        s->tag = (uint32_t)(hash >> 32);
        s->id = (int32_t)id;
        s->len = (uint16_t)len;
        memcpy(s->ch, key, (size_t)len * 2);
        c->used++;
    }
    return 1;
}

/* Strict UTF-8 (as bytes.decode("utf-8") accepts it) of characters below U+10000 into UCS-2 code
 * units: their count, or -1 if the bytes are not valid UTF-8 or hold a character past U+FFFF (the
 * caller then decodes them with CPython, which raises or makes a 4-byte str). */
static Py_ssize_t utf8_to_ucs2(const unsigned char *p, Py_ssize_t n, Py_UCS2 *out) {
    Py_ssize_t i = 0, k = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80) {
            out[k++] = c;
            i++;
        } else if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= n || (p[i + 1] & 0xC0) != 0x80)
                return -1;
            out[k++] = (Py_UCS2)(((c & 0x1F) << 6) | (p[i + 1] & 0x3F));
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (i + 2 >= n || (p[i + 1] & 0xC0) != 0x80 || (p[i + 2] & 0xC0) != 0x80)
                return -1;
            if ((c == 0xE0 && p[i + 1] < 0xA0) || (c == 0xED && p[i + 1] > 0x9F)) /* overlong; a surrogate */
                return -1;
            out[k++] = (Py_UCS2)(((c & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F));
            i += 3;
        } else {
            return -1; /* past U+FFFF, or not UTF-8 */
        }
    }
    return k;
}

static PyObject *term_ids(PyObject *module, PyObject *args) {
    PyObject *texts, *ids, *cache_arg = Py_None;
    if (!PyArg_ParseTuple(args, "OO!|O", &texts, &PyDict_Type, &ids, &cache_arg))
        return NULL;
    TermCache *cache = NULL;
    if (cache_arg != Py_None) {
        if (!PyObject_TypeCheck(cache_arg, &TermCacheType)) {
            PyErr_Format(PyExc_TypeError, "cache must be a TermCache or None, not %.100s", Py_TYPE(cache_arg)->tp_name);
            return NULL;
        }
        cache = (TermCache *)cache_arg;
        if (cache->dict != ids) { /* another vocabulary: nothing held is true of it */
            cache_clear(cache);
            Py_INCREF(ids);
            cache->dict = ids;
        }
    }
    PyObject *seq = PySequence_Fast(texts, "texts must be a sequence of str");
    if (!seq)
        return NULL;
    Py_ssize_t n_texts = PySequence_Fast_GET_SIZE(seq), total = 0, utf8_bytes = 0, utf8_texts = 0, decoded_at = 0;
    PyObject *out_ids = NULL, *out_lens = NULL, *result = NULL, *kept = NULL;
    Seen *seen = NULL;
    Py_UCS2 *decoded = NULL;
    Py_ssize_t *text_len = NULL; /* per text given as bytes and decoded here: its characters, else -1 */
    size_t cap = 0, used = 0;
    for (Py_ssize_t j = 0; j < n_texts; j++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, j);
        Py_ssize_t chars;
        if (PyUnicode_Check(text)) {
            chars = PyUnicode_GET_LENGTH(text);
        } else if (PyBytes_Check(text)) { /* UTF-8: at most one character a byte */
            chars = PyBytes_GET_SIZE(text);
            utf8_bytes += chars;
            utf8_texts++;
        } else {
            PyErr_Format(PyExc_TypeError, "texts[%zd] must be str or UTF-8 bytes, not %.100s", j,
                         Py_TYPE(text)->tp_name);
            goto done;
        }
        /* At most one token per two characters (a token and the space after it): the output is
         * sized by that and trimmed at the end, instead of a pass over every text to count. */
        total += (chars + 1) / 2;
    }
    /* UTF-8 texts (the terms an add hands over as its chain wrote them) are decoded first, all of
     * them, into one buffer of UCS-2 that lives through the call (`seen` points into it) instead of
     * a str each: invalid UTF-8 raises before any new term is numbered in `ids`. */
    if (utf8_texts) {
        decoded = PyMem_Malloc((size_t)utf8_bytes * sizeof(Py_UCS2) + 1); /* + 1: never a 0-byte request */
        text_len = PyMem_Malloc((size_t)n_texts * sizeof(Py_ssize_t));
        kept = PyList_New(n_texts);
        if (!decoded || !text_len || !kept) {
            if (kept)
                PyErr_NoMemory();
            goto done;
        }
        Py_ssize_t at = 0;
        for (Py_ssize_t j = 0; j < n_texts; j++) {
            PyObject *text = PySequence_Fast_GET_ITEM(seq, j);
            text_len[j] = -1;
            if (!PyBytes_Check(text))
                continue;
            Py_ssize_t m = utf8_to_ucs2((const unsigned char *)PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text),
                                        decoded + at);
            if (m >= 0) {
                text_len[j] = m;
                at += m;
            } else { /* CPython's decoder: its error, or a str with characters past U+FFFF */
                PyObject *str = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text), NULL);
                if (!str)
                    goto done;
                PyList_SET_ITEM(kept, j, str);
            }
        }
    }
    out_ids = PyByteArray_FromStringAndSize(NULL, total * (Py_ssize_t)sizeof(int64_t));
    out_lens = PyByteArray_FromStringAndSize(NULL, n_texts * (Py_ssize_t)sizeof(int32_t));
    if (!out_ids || !out_lens)
        goto done;
    /* With a TermCache the repeats are found there, and this table only holds the tokens it cannot
     * (longer ones, and the new terms of this call until they are remembered): kept small, since
     * `total` is only a bound on the tokens and zeroing a table sized by it cost more than the lookups. */
    size_t want = cache ? (size_t)4096 : 2 * (size_t)total;
    for (cap = 1024; cap < want && cap < ((size_t)1 << 17); cap <<= 1)
        ;
    seen = PyMem_Calloc(cap, sizeof(Seen));
    if (!seen) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t *idv = (int64_t *)PyByteArray_AS_STRING(out_ids);
    int32_t *lenv = (int32_t *)PyByteArray_AS_STRING(out_lens);
    Py_ssize_t k = 0, utf8_chars = 0;
    for (Py_ssize_t j = 0; j < n_texts; j++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, j);
        if (PyBytes_Check(text)) {
            if (text_len[j] < 0) {
                text = PyList_GET_ITEM(kept, j); /* decoded by CPython */
            } else {
                text = NULL; /* its characters: decoded[decoded_at .. + text_len[j]) */
                utf8_chars = text_len[j];
            }
        }
        Text t;
        Py_ssize_t n;
        if (text) {
            t = (Text){PyUnicode_KIND(text), PyUnicode_DATA(text)};
            n = PyUnicode_GET_LENGTH(text);
        } else {
            t = (Text){PyUnicode_2BYTE_KIND, decoded + decoded_at};
            n = utf8_chars;
            decoded_at += utf8_chars;
        }
        Py_ssize_t i = 0, before = k;
        const Py_UCS2 *wide = t.kind == PyUnicode_2BYTE_KIND ? (const Py_UCS2 *)t.data : NULL;
        while (i < n) {
            Py_ssize_t start;
            uint16_t key[CACHED_CHARS];
            const uint16_t *keyp = key;
            uint64_t key_hash = 0;
            int cacheable;
            if (wide && cache) {
                /* Stored terms are Arabic (2-byte str) joined by spaces: one pass per token that
                 * finds its end and hashes it as the table does, its characters the key in place. */
                while (i < n && ucs2_space(wide[i]))
                    i++;
                if (i >= n)
                    break;
                start = i;
                uint64_t h = FNV_OFFSET;
                while (i < n && !ucs2_space(wide[i]))
                    h = (h ^ wide[i++]) * FNV_PRIME;
                key_hash = h ^ (h >> 29);
                keyp = wide + start;
                cacheable = i - start <= CACHED_CHARS;
            } else {
                while (i < n && split_space(at(&t, i)))
                    i++;
                if (i >= n)
                    break;
                start = i;
                while (i < n && !split_space(at(&t, i)))
                    i++;
                cacheable = cache && cache_key(&t, start, i, key, &key_hash);
            }
            if (k >= total) { /* a str cannot change (immutable): a guard all the same */
                PyErr_SetString(PyExc_RuntimeError, "texts changed while being read");
                goto done;
            }
            if (cacheable && cache->cap) {
                Slot *hit = cache_probe(cache, keyp, i - start, key_hash);
                if (hit->len) {
                    idv[k++] = hit->id;
                    continue;
                }
            }
            const char *bytes = (const char *)t.data + (size_t)start * (size_t)t.kind;
            size_t nbytes = (size_t)(i - start) * (size_t)t.kind;
            uint64_t h = token_hash(bytes, nbytes);
            size_t slot = (size_t)h & (cap - 1);
            while (seen[slot].data && !(seen[slot].hash == h && seen[slot].kind == t.kind &&
                                        seen[slot].len == i - start && !memcmp(seen[slot].data, bytes, nbytes)))
                slot = (slot + 1) & (cap - 1);
            if (seen[slot].data) {
                idv[k++] = seen[slot].id;
                continue;
            }
            PyObject *token = text ? PyUnicode_Substring(text, start, i)
                                   : PyUnicode_FromKindAndData(PyUnicode_2BYTE_KIND, wide + start, i - start);
            if (!token)
                goto done;
            PyObject *id = PyDict_GetItemWithError(ids, token); /* borrowed */
            long long value;
            if (id) {
                value = PyLong_AsLongLong(id);
                if (value == -1 && PyErr_Occurred()) {
                    Py_DECREF(token);
                    goto done;
                }
            } else if (PyErr_Occurred()) {
                Py_DECREF(token);
                goto done;
            } else {
                value = (long long)PyDict_GET_SIZE(ids);
                PyObject *fresh = PyLong_FromLongLong(value);
                int failed = !fresh || PyDict_SetItem(ids, token, fresh) < 0;
                Py_XDECREF(fresh);
                if (failed) {
                    Py_DECREF(token);
                    goto done;
                }
            }
            Py_DECREF(token);
            if (cacheable && !cache_put(cache, keyp, i - start, key_hash, value))
                goto done;
            if (2 * (used + 1) <= cap) {
                seen[slot] = (Seen){bytes, i - start, t.kind, (int64_t)value, h};
                used++;
            }
            idv[k++] = (int64_t)value;
        }
        if (k - before > INT32_MAX) {
            PyErr_Format(PyExc_ValueError, "texts[%zd] has more than 2**31 - 1 tokens", j);
            goto done;
        }
        lenv[j] = (int32_t)(k - before);
    }
    if (PyByteArray_Resize(out_ids, k * (Py_ssize_t)sizeof(int64_t)) < 0)
        goto done;
    result = PyTuple_Pack(2, out_ids, out_lens);
done:
    PyMem_Free(seen);
    PyMem_Free(decoded);
    PyMem_Free(text_len);
    Py_XDECREF(kept);
    Py_XDECREF(out_ids);
    Py_XDECREF(out_lens);
    Py_DECREF(seq);
    return result;
}

/* `segment_postings(tokens, doc_len)` is what `segment.reference_segment_postings` computes with two
 * np.unique sorts: the postings of passages given as their tokens' term ids (int64, `doc_len[i]`
 * of them for passage i, one passage after the other), sorted by (term, passage), each with the
 * code of its (term frequency, passage length) pair, the pairs numbered from 1 in ascending
 * order of tf << 32 | dl. Returned as bytearrays: (int32 passage per posting, uint32 code per
 * posting, int64 pair keys ascending, int64 terms with postings ascending, int64 postings per
 * such term). The tokens come passage after passage, so a stable radix sort by term alone leaves
 * each term's passages ascending; the pairs are found in a hash table and only the distinct ones
 * sorted. ~100 passages (~6,600 tokens, ~4,700 postings): ~0.12 ms against ~0.24 ms for the numpy steps
 * (numpy sorts the 6,600 keys alone in ~0.04 ms with its SIMD sort; the radix passes here scatter). */
static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The slot of `key` in a table of `cap` (a power of two) slots holding key + 1: its own or the empty one it would take. */
static size_t pair_slot(const uint64_t *table, size_t cap, uint64_t key) {
    size_t slot = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 20) & (cap - 1);
    while (table[slot] && table[slot] != key + 1)
        slot = (slot + 1) & (cap - 1);
    return slot;
}

static PyObject *segment_postings(PyObject *module, PyObject *args) {
    PyObject *tokens_obj, *lens_obj;
    if (!PyArg_ParseTuple(args, "OO", &tokens_obj, &lens_obj))
        return NULL;
    Py_buffer tv, lv;
    if (get_array(tokens_obj, &tv, "tokens", 'i', 8, 0) < 0)
        return NULL;
    if (get_array(lens_obj, &lv, "doc_len", 'i', 4, 0) < 0) {
        PyBuffer_Release(&tv);
        return NULL;
    }
    const int64_t *tok = (const int64_t *)tv.buf;
    const int32_t *dl = (const int32_t *)lv.buf;
    Py_ssize_t n_tok = tv.len / 8, n_docs = lv.len / 4;
    PyObject *out_docs = NULL, *out_codes = NULL, *out_pairs = NULL, *out_held = NULL, *out_counts = NULL,
             *result = NULL;
    uint64_t *a = NULL, *b = NULL, *keys = NULL, *table = NULL;
    uint32_t *pair_of = NULL, *rank = NULL, *order = NULL;
    int32_t *docs = NULL;
    int64_t max_term = 0, sum = 0;
    for (Py_ssize_t i = 0; i < n_docs; i++) {
        if (dl[i] < 0) {
            PyErr_Format(PyExc_ValueError, "doc_len[%zd] is negative (%d)", i, dl[i]);
            goto done;
        }
        sum += dl[i];
    }
    if (sum != n_tok) {
        PyErr_Format(PyExc_ValueError, "doc_len sums to %lld, but there are %zd tokens", (long long)sum, n_tok);
        goto done;
    }
    if (n_docs > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "more than 2**31 - 1 passages in one segment");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n_tok; i++) {
        if (tok[i] < 0 || tok[i] > INT32_MAX) {
            PyErr_Format(PyExc_ValueError, "tokens[%zd] = %lld is not a term id (0 .. 2**31 - 1)", i, (long long)tok[i]);
            goto done;
        }
        if (tok[i] > max_term)
            max_term = tok[i];
    }
    size_t n = (size_t)n_tok;
    a = PyMem_Malloc((n ? n : 1) * sizeof(uint64_t));
    b = PyMem_Malloc((n ? n : 1) * sizeof(uint64_t));
    if (!a || !b) {
        PyErr_NoMemory();
        goto done;
    }
    /* term << 32 | passage, in token order (passages ascending). */
    for (Py_ssize_t d = 0, k = 0; d < n_docs; d++)
        for (int32_t j = 0; j < dl[d]; j++, k++)
            a[k] = (uint64_t)tok[k] << 32 | (uint32_t)d;
    /* Stable LSD radix sort by the term, 11 bits a pass, as many passes as the largest id needs. */
    for (int shift = 32; shift < 64 && (max_term >> (shift - 32)) > 0; shift += 11) {
        size_t count[2048 + 1] = {0};
        for (size_t i = 0; i < n; i++)
            count[((a[i] >> shift) & 2047) + 1]++;
        for (int r = 0; r < 2048; r++)
            count[r + 1] += count[r];
        for (size_t i = 0; i < n; i++)
            b[count[(a[i] >> shift) & 2047]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    /* Postings: runs of equal (term, passage); their tf kept in b for now. Terms: runs of equal term. */
    size_t n_post = 0, n_held = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || a[i] != a[i - 1]) {
            if (i == 0 || (a[i] >> 32) != (a[i - 1] >> 32))
                n_held++;
            a[n_post] = a[i];
            b[n_post++] = 1;
        } else {
            b[n_post - 1]++;
        }
    }
    out_docs = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(n_post * sizeof(int32_t)));
    out_codes = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(n_post * sizeof(uint32_t)));
    out_held = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(n_held * sizeof(int64_t)));
    out_counts = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(n_held * sizeof(int64_t)));
    if (!out_docs || !out_codes || !out_held || !out_counts)
        goto done;
    docs = (int32_t *)PyByteArray_AS_STRING(out_docs);
    uint32_t *codes = (uint32_t *)PyByteArray_AS_STRING(out_codes);
    int64_t *held = (int64_t *)PyByteArray_AS_STRING(out_held), *counts = (int64_t *)PyByteArray_AS_STRING(out_counts);
    /* The distinct pairs in an open-addressing table kept under half full, grown as they come: a
     * table sized by the postings (~16k slots) cost more to allocate and clear than the lookups. */
    size_t cap = 1024, n_pairs = 0, h = 0;
    table = PyMem_Calloc(cap, sizeof(uint64_t)); /* key + 1: 0 marks an empty slot */
    rank = PyMem_Malloc(cap * sizeof(uint32_t)); /* per slot: its pair's number in insertion order */
    pair_of = PyMem_Malloc((n_post ? n_post : 1) * sizeof(uint32_t)); /* per posting */
    keys = PyMem_Malloc((n_post ? n_post : 1) * sizeof(uint64_t)); /* in insertion order */
    if (!table || !rank || !pair_of || !keys) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t p = 0; p < n_post; p++) {
        uint32_t d = (uint32_t)a[p];
        int64_t term = (int64_t)(a[p] >> 32);
        if (p == 0 || term != held[h - 1]) {
            held[h] = term;
            counts[h++] = 0;
        }
        counts[h - 1]++;
        docs[p] = (int32_t)d;
        uint64_t key = b[p] << 32 | (uint32_t)dl[d];
        size_t slot = pair_slot(table, cap, key);
        if (!table[slot]) {
            if (2 * (n_pairs + 1) > cap) { /* grow: the pairs so far placed again */
                size_t grown = 2 * cap;
                uint64_t *t2 = PyMem_Calloc(grown, sizeof(uint64_t));
                uint32_t *r2 = PyMem_Malloc(grown * sizeof(uint32_t));
                if (!t2 || !r2) {
                    PyMem_Free(t2);
                    PyMem_Free(r2);
                    PyErr_NoMemory();
                    goto done;
                }
                PyMem_Free(table);
                PyMem_Free(rank);
                table = t2;
                rank = r2;
                cap = grown;
                for (size_t q = 0; q < n_pairs; q++) {
                    size_t at = pair_slot(table, cap, keys[q]);
                    table[at] = keys[q] + 1;
                    rank[at] = (uint32_t)q;
                }
                slot = pair_slot(table, cap, key);
            }
            table[slot] = key + 1;
            rank[slot] = (uint32_t)n_pairs;
            keys[n_pairs++] = key;
        }
        pair_of[p] = rank[slot];
    }
    /* Insertion order -> code (1 + the rank among the keys sorted): through the table again. */
    order = PyMem_Malloc((n_pairs ? n_pairs : 1) * sizeof(uint32_t));
    if (!order) {
        PyErr_NoMemory();
        goto done;
    }
    qsort(keys, n_pairs, sizeof(uint64_t), compare_u64);
    for (size_t r = 0; r < n_pairs; r++)
        order[rank[pair_slot(table, cap, keys[r])]] = (uint32_t)(r + 1);
    for (size_t p = 0; p < n_post; p++)
        codes[p] = order[pair_of[p]];
    out_pairs = PyByteArray_FromStringAndSize((const char *)keys, (Py_ssize_t)(n_pairs * sizeof(uint64_t)));
    if (!out_pairs)
        goto done;
    result = PyTuple_Pack(5, out_docs, out_codes, out_pairs, out_held, out_counts);
done:
    PyMem_Free(a);
    PyMem_Free(b);
    PyMem_Free(keys);
    PyMem_Free(table);
    PyMem_Free(pair_of);
    PyMem_Free(rank);
    PyMem_Free(order);
    Py_XDECREF(out_docs);
    Py_XDECREF(out_codes);
    Py_XDECREF(out_pairs);
    Py_XDECREF(out_held);
    Py_XDECREF(out_counts);
    PyBuffer_Release(&tv);
    PyBuffer_Release(&lv);
    return result;
}

/* `impact_table(pair_tf, pair_dl, avgdl, k1, b, delta, variant, out)`: out[i] = float32 of
 * `bm25._impacts(pair_tf[i], pair_dl[i], avgdl, params)` for every pair, the same IEEE operations
 * in the same order as numpy applies them to whole arrays (this file is compiled with
 * -ffp-contract=off: no fused multiply-add), so the values bit for bit. A segment's table of
 * impacts is made again at every refresh (avgdl moves), for every segment; numpy's temporaries
 * over the base's pairs cost ~0.1 ms an add. variant: 0 okapi, 1 l, 2 plus. */
static PyObject *impact_table(PyObject *module, PyObject *args) {
    PyObject *tf_obj, *dl_obj, *out_obj;
    double avgdl, k1, b, delta;
    int variant;
    if (!PyArg_ParseTuple(args, "OOddddiO", &tf_obj, &dl_obj, &avgdl, &k1, &b, &delta, &variant, &out_obj))
        return NULL;
    if (variant < 0 || variant > 2) {
        PyErr_Format(PyExc_ValueError, "variant must be 0 (okapi), 1 (l) or 2 (plus), not %d", variant);
        return NULL;
    }
    Py_buffer tv, dv, ov;
    if (get_array(tf_obj, &tv, "pair_tf", 'f', 8, 0) < 0)
        return NULL;
    if (get_array(dl_obj, &dv, "pair_dl", 'f', 8, 0) < 0) {
        PyBuffer_Release(&tv);
        return NULL;
    }
    if (get_array(out_obj, &ov, "out", 'f', 4, 1) < 0) {
        PyBuffer_Release(&tv);
        PyBuffer_Release(&dv);
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t n = tv.len / 8;
    if (dv.len / 8 != n || ov.len / 4 != n) {
        PyErr_SetString(PyExc_ValueError, "pair_tf, pair_dl and out must have one entry per pair");
        goto done;
    }
    const double *tf = tv.buf, *dl = dv.buf;
    float *out = ov.buf;
    const double one_minus_b = 1 - b, k1_plus_1 = k1 + 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        double norm = one_minus_b + (b * dl[i]) / avgdl; /* 1 - b + b * dl / avgdl */
        double v;
        if (variant == 0) {
            v = (tf[i] * k1_plus_1) / (tf[i] + k1 * norm); /* tf * (k1 + 1) / (tf + k1 * norm) */
        } else if (variant == 1) {
            double ctd = tf[i] / norm; /* tf * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta) */
            v = ((tf[i] * k1_plus_1) * (ctd + delta)) / ((k1 + ctd) + delta);
        } else {
            v = (tf[i] * k1_plus_1) / (k1 * norm + tf[i]); /* tf * (k1 + 1) / (k1 * norm + tf) */
        }
        out[i] = (float)v;
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&tv);
    PyBuffer_Release(&dv);
    PyBuffer_Release(&ov);
    return result;
}

static PyMethodDef module_methods[] = {
    {"passage_spans", passage_spans, METH_VARARGS,
     "passage_spans(body, target_chars, max_chars): the (start, end) spans of body's passages."},
    {"plain_json_line", plain_json_line, METH_VARARGS,
     "plain_json_line(line): no DEL, no \\u or \\b escape, no C1 control (see readers.reference_plain_json_line)."},
    {"term_ids", term_ids, METH_VARARGS,
     "term_ids(texts, ids, cache=None): (int64 ids, int32 lengths) bytearrays of the texts' tokens (see"
     " segment.reference_term_ids); `cache`, a TermCache kept with `ids`, remembers tokens between calls."},
    {"impact_table", impact_table, METH_VARARGS,
     "impact_table(pair_tf, pair_dl, avgdl, k1, b, delta, variant, out): out[i] = float32 of bm25._impacts of pair i"
     " (variant 0 okapi, 1 l, 2 plus), bit for bit."},
    {"segment_postings", segment_postings, METH_VARARGS,
     "segment_postings(tokens, doc_len): (int32 passages, uint32 codes, int64 pair keys, int64 held terms,"
     " int64 counts) bytearrays of a segment's postings (see segment.reference_segment_postings)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_scan", .m_doc = "Ingest's scans over text in C.", .m_size = 0,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__scan(void) {
    if (PyType_Ready(&TermCacheType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    Py_INCREF(&TermCacheType);
    if (PyModule_AddObject(m, "TermCache", (PyObject *)&TermCacheType) < 0) {
        Py_DECREF(&TermCacheType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
