/* Story signatures in C: `stories.shingles` + `stories.signature` for a whole ingest batch at once.
 * The Python versions are the specification; tests/test_story_batch.py compares the two.
 *
 * `signatures(titles, bodies, lead_chars, lead_words, shingle_words, a, b, out)` writes each
 * article's MinHash signature (uint32 x P, P = len(a)) into `out` (a writable buffer of n x P
 * uint32) and returns a list of each article's shingle count, or -1 for an article it leaves to
 * the Python version (see below). Per article it does what the Python does:
 *
 *   words  = \w+ runs of the title, then the first `lead_words` \w+ runs of body[:lead_chars],
 *            each after the diacritics and tatweel of newsdates.clean are removed (a mark inside a
 *            word joins its two halves, as removing it from the text first does);
 *   fold   = newsdates.fold: alef and hamza seats to alef, alef maqsura to yeh, taa marbuta to
 *            heh, Arabic-Indic and Persian digits to ASCII, then lower case;
 *   shingles = each run of `shingle_words` consecutive words joined by a space, as UTF-8 (one
 *            shingle of all the words when there are fewer; none for no words);
 *   signature[p] = min over shingles of the high 32 bits of a[p] * crc32(shingle) + b[p] (mod 2^64),
 *            0xFFFFFFFF with no shingles.
 *
 * `\w` is what `re` takes it to be for str patterns: Py_UNICODE_ISALNUM or '_'. Lower-casing is
 * only done here where it is trivial: for ASCII, and for the Arabic blocks, which have no case.
 * An article whose words hold any other character (Latin with accents, Greek, Cyrillic ...:
 * str.lower has context rules such as final sigma, and one-to-many mappings) returns -1 and is
 * signed by the Python version.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

static uint32_t crc_table[256];
/* \w for the first 0x900 code points (ASCII to the Arabic blocks), from Py_UNICODE_ISALNUM once:
 * asking it for every character took most of the time. */
#define WORD_TABLE 0x900
static unsigned char word_table[WORD_TABLE];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

/* zlib.crc32's running form: start from 0xFFFFFFFF, finish by inverting. */
static inline uint32_t crc_update(uint32_t c, const unsigned char *p, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c;
}

static inline int is_diacritic(Py_UCS4 c) { /* newsdates._DIACRITICS */
    return (c >= 0x0610 && c <= 0x061A) || (c >= 0x064B && c <= 0x065F) || c == 0x0670 ||
           (c >= 0x06D6 && c <= 0x06ED) || c == 0x0640;
}

static inline int is_caseless(Py_UCS4 c) { /* Arabic blocks: no case mappings */
    return (c >= 0x0600 && c <= 0x06FF) || (c >= 0x0750 && c <= 0x077F) || (c >= 0x08A0 && c <= 0x08FF) ||
           (c >= 0xFB50 && c <= 0xFDFF) || (c >= 0xFE70 && c <= 0xFEFF);
}

static inline Py_UCS4 fold(Py_UCS4 c) { /* newsdates._FOLD, then lower() for ASCII */
    if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
    switch (c) {
    case 0x0623: case 0x0625: case 0x0622: case 0x0671: return 0x0627;
    case 0x0649: return 0x064A;
    case 0x0629: return 0x0647;
    default: break;
    }
    if (c >= 0x0660 && c <= 0x0669) return '0' + (c - 0x0660);
    if (c >= 0x06F0 && c <= 0x06F9) return '0' + (c - 0x06F0);
    return c;
}

typedef struct {
    unsigned char *bytes; /* every word's UTF-8, back to back */
    Py_ssize_t used, cap;
    Py_ssize_t *start;    /* word i is bytes[start[i]:start[i + 1]] */
    Py_ssize_t words, wcap;
} Words;

static int grow_bytes(Words *w, Py_ssize_t more) {
    if (w->used + more <= w->cap) return 0;
    Py_ssize_t cap = (w->used + more) * 2;
    unsigned char *b = PyMem_Realloc(w->bytes, cap);
    if (!b) return -1;
    w->bytes = b;
    w->cap = cap;
    return 0;
}

static int close_word(Words *w) { /* records where the next word starts */
    if (w->words + 2 > w->wcap) {
        Py_ssize_t cap = (w->words + 2) * 2;
        Py_ssize_t *s = PyMem_Realloc(w->start, cap * sizeof(Py_ssize_t));
        if (!s) return -1;
        w->start = s;
        w->wcap = cap;
    }
    w->start[++w->words] = w->used;
    return 0;
}

static inline Py_ssize_t utf8(Py_UCS4 c, unsigned char *out) {
    if (c < 0x80) { out[0] = (unsigned char)c; return 1; }
    if (c < 0x800) { out[0] = 0xC0 | (c >> 6); out[1] = 0x80 | (c & 0x3F); return 2; }
    if (c < 0x10000) {
        out[0] = 0xE0 | (c >> 12); out[1] = 0x80 | ((c >> 6) & 0x3F); out[2] = 0x80 | (c & 0x3F);
        return 3;
    }
    out[0] = 0xF0 | (c >> 18); out[1] = 0x80 | ((c >> 12) & 0x3F);
    out[2] = 0x80 | ((c >> 6) & 0x3F); out[3] = 0x80 | (c & 0x3F);
    return 4;
}

/* Appends the words of text[:limit_chars] (at most max_words of them; -1: all) to `w`.
 * Returns 0, 1 when a word holds a character this file does not fold (the caller falls back),
 * or -1 on a memory error. */
static int add_words(Words *w, PyObject *text, Py_ssize_t limit_chars, Py_ssize_t max_words) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (limit_chars >= 0 && limit_chars < n) n = limit_chars;
    Py_ssize_t taken = 0;
    int in_word = 0;
    if (max_words == 0) return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c >= 0x0610 && is_diacritic(c)) continue;
        if (c < WORD_TABLE ? word_table[c] : Py_UNICODE_ISALNUM(c)) {
            if (c >= 0x80 && !is_caseless(c)) return 1;
            if (grow_bytes(w, 4) < 0) return -1;
            w->used += utf8(fold(c), w->bytes + w->used);
            in_word = 1;
        } else if (in_word) {
            in_word = 0;
            if (close_word(w) < 0) return -1;
            if (++taken == max_words) return 0;
        }
    }
    if (in_word && close_word(w) < 0) return -1;
    return 0;
}

/* The high half of a * h + b (mod 2^64) from 32-bit halves, h < 2^32: h * a_lo + b_lo fits in 64
 * bits, and its carry into the high half is all the low halves contribute. Written this way the
 * compiler vectorises the loop (32 x 32 -> 64 multiplies), ~4x faster than the 64-bit product. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* AVX2 where the CPU has it (4 products a lane instead of 2), chosen when the module loads. */
__attribute__((target_clones("avx2", "default")))
#endif
static void sign(uint32_t *restrict sig, uint32_t h, const uint32_t *restrict k, Py_ssize_t perms) {
    const uint32_t *a_lo = k, *a_hi = k + perms, *b_lo = k + 2 * perms, *b_hi = k + 3 * perms;
    for (Py_ssize_t p = 0; p < perms; p++) {
        uint64_t low = (uint64_t)h * a_lo[p] + b_lo[p];
        uint32_t v = h * a_hi[p] + b_hi[p] + (uint32_t)(low >> 32);
        sig[p] = v < sig[p] ? v : sig[p];
    }
}

static PyObject *signatures(PyObject *module, PyObject *args) {
    PyObject *titles, *bodies;
    Py_ssize_t lead_chars, lead_words, shingle_words;
    Py_buffer a = {0}, b = {0}, out = {0};
    if (!PyArg_ParseTuple(args, "OOnnny*y*w*", &titles, &bodies, &lead_chars, &lead_words, &shingle_words,
                          &a, &b, &out))
        return NULL;
    PyObject *result = NULL, *tseq = NULL, *bseq = NULL;
    Words w = {0};
    uint32_t *halves = NULL;
    Py_ssize_t perms = a.len / (Py_ssize_t)sizeof(uint64_t);
    if (b.len != a.len || a.len % (Py_ssize_t)sizeof(uint64_t) || shingle_words < 1) {
        PyErr_SetString(PyExc_ValueError, "a and b must be uint64 arrays of one length; shingle_words >= 1");
        goto done;
    }
    tseq = PySequence_Fast(titles, "titles must be a sequence");
    bseq = PySequence_Fast(bodies, "bodies must be a sequence");
    if (!tseq || !bseq) goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(tseq);
    if (PySequence_Fast_GET_SIZE(bseq) != n) {
        PyErr_SetString(PyExc_ValueError, "titles and bodies differ in length");
        goto done;
    }
    if (out.len != n * perms * (Py_ssize_t)sizeof(uint32_t)) {
        PyErr_SetString(PyExc_ValueError, "out must hold len(titles) x len(a) uint32");
        goto done;
    }
    const uint64_t *av = a.buf, *bv = b.buf;
    uint32_t *sigs = out.buf;
    if (!(halves = PyMem_Malloc(4 * perms * sizeof(uint32_t) + 1))) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t p = 0; p < perms; p++) {
        halves[p] = (uint32_t)av[p];
        halves[perms + p] = (uint32_t)(av[p] >> 32);
        halves[2 * perms + p] = (uint32_t)bv[p];
        halves[3 * perms + p] = (uint32_t)(bv[p] >> 32);
    }
    if (!(result = PyList_New(n))) goto done;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *title = PySequence_Fast_GET_ITEM(tseq, k), *body = PySequence_Fast_GET_ITEM(bseq, k);
        if (!PyUnicode_Check(title) || !PyUnicode_Check(body)) {
            PyErr_Format(PyExc_TypeError, "article %zd: title and body must be str", k);
            Py_CLEAR(result);
            goto done;
        }
        uint32_t *sig = sigs + k * perms;
        memset(sig, 0xFF, perms * sizeof(uint32_t));
        w.used = 0;
        w.words = 0;
        if (!w.start && close_word(&w) < 0) { PyErr_NoMemory(); Py_CLEAR(result); goto done; }
        w.start[0] = 0;
        w.words = 0;
        int r = add_words(&w, title, -1, -1);
        if (r == 0) r = add_words(&w, body, lead_chars, lead_words);
        if (r < 0) { PyErr_NoMemory(); Py_CLEAR(result); goto done; }
        Py_ssize_t count;
        if (r == 1) {
            count = -1;
        } else if (w.words == 0) {
            count = 0;
        } else {
            Py_ssize_t span = w.words < shingle_words ? w.words : shingle_words;
            count = w.words - span + 1;
            static const unsigned char space = ' ';
            for (Py_ssize_t i = 0; i < count; i++) {
                uint32_t c = 0xFFFFFFFFu;
                for (Py_ssize_t j = i; j < i + span; j++) {
                    if (j > i) c = crc_update(c, &space, 1);
                    c = crc_update(c, w.bytes + w.start[j], w.start[j + 1] - w.start[j]);
                }
                sign(sig, c ^ 0xFFFFFFFFu, halves, perms);
            }
        }
        PyObject *v = PyLong_FromSsize_t(count);
        if (!v) { Py_CLEAR(result); goto done; }
        PyList_SET_ITEM(result, k, v);
    }
done:
    PyMem_Free(halves);
    PyMem_Free(w.bytes);
    PyMem_Free(w.start);
    Py_XDECREF(tseq);
    Py_XDECREF(bseq);
    if (a.obj) PyBuffer_Release(&a);
    if (b.obj) PyBuffer_Release(&b);
    if (out.obj) PyBuffer_Release(&out);
    return result;
}

/* `sorted_matches(table, keys, sample=None, stride=0) -> (found, at)`: every entry of `table` equal
 * to a key of `keys` (both uint64, ascending), as two int64 arrays in bytes: found[m] the key's
 * index, at[m] the entry's, by key then entry; StoryIndex._lookup's numpy version is the
 * specification. The keys being sorted, each search starts where the last one ended and gallops
 * forward: a batch's ~1,500 keys against a table of 1.5M cost two numpy binary searches of the
 * whole table per key before, with a dozen array passes around them. With `sample` (the table's
 * every stride-th entry) each key is bracketed in it first (see below). Band keys are far from
 * evenly spread (a signature's values are minima, so small, and each band has its own salt):
 * guessing a place by interpolation landed thousands of entries off. */
typedef struct {
    int64_t *v;
    Py_ssize_t n, cap;
} Int64s;

static int push(Int64s *a, int64_t x) {
    if (a->n == a->cap) {
        Py_ssize_t cap = a->cap ? 2 * a->cap : 256;
        int64_t *v = PyMem_Realloc(a->v, (size_t)cap * sizeof(int64_t));
        if (!v) return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

/* The lower bound of `key` in t[lo:hi] (t ascending). */
static inline Py_ssize_t lower_bound(const uint64_t *t, Py_ssize_t lo, Py_ssize_t hi, uint64_t key) {
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (t[mid] < key) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static PyObject *sorted_matches(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer table = {0}, keys = {0}, sample = {0};
    Py_ssize_t stride = 0;
    if (!PyArg_ParseTuple(args, "y*y*|y*n", &table, &keys, &sample, &stride)) return NULL;
    PyObject *result = NULL;
    Int64s found = {0}, at = {0};
    Py_ssize_t *brackets = NULL;
    if (table.len % 8 || keys.len % 8 || (sample.obj && sample.len % 8)) {
        PyErr_SetString(PyExc_ValueError, "sorted_matches: table, keys and sample must be uint64 arrays");
        goto done;
    }
    const uint64_t *t = table.buf, *k = keys.buf, *smp = sample.obj ? sample.buf : NULL;
    Py_ssize_t n = table.len / 8, m = keys.len / 8, lo = 0, ms = sample.obj ? sample.len / 8 : 0;
    if (smp && (stride < 1 || ms != (n + stride - 1) / stride || (ms && (smp[0] != t[0] || smp[ms - 1] != t[(ms - 1) * stride])))) {
        PyErr_SetString(PyExc_ValueError, "sorted_matches: sample must be table[::stride]");
        goto done;
    }
    if (smp && ms && m) {
        /* With a sample of the table (every stride-th entry, small enough to stay in cache), each
         * key's bound is first bracketed there, then found among `stride` entries of the table:
         * the brackets of the keys AHEAD are asked for while this one is searched, so a large
         * table's cold cache lines (a million band keys, tens of MB, between adds) are read with
         * their misses overlapping instead of one after the other as a gallop or binary search
         * through the whole table reads them. */
        enum { AHEAD = 16 };
        brackets = PyMem_Malloc((size_t)m * 2 * sizeof(Py_ssize_t));
        if (!brackets) {
            PyErr_NoMemory();
            goto done;
        }
        Py_ssize_t j = 0;
        for (Py_ssize_t i = 0; i < m; i++) {
            j = lower_bound(smp, j, ms, k[i]); /* sample entries below the key */
            brackets[2 * i] = j ? (j - 1) * stride + 1 : 0;
            brackets[2 * i + 1] = j < ms ? j * stride : n;
        }
        for (Py_ssize_t i = 0; i < AHEAD && i < m; i++)
            for (Py_ssize_t e = brackets[2 * i]; e < brackets[2 * i + 1]; e += 8)
                __builtin_prefetch(&t[e]);
        for (Py_ssize_t i = 0; i < m && lo < n; i++) {
            if (i + AHEAD < m)
                for (Py_ssize_t e = brackets[2 * (i + AHEAD)]; e < brackets[2 * (i + AHEAD) + 1]; e += 8)
                    __builtin_prefetch(&t[e]);
            uint64_t key = k[i];
            Py_ssize_t from = brackets[2 * i] > lo ? brackets[2 * i] : lo, to = brackets[2 * i + 1];
            lo = lower_bound(t, from, to > from ? to : from, key);
            for (Py_ssize_t e = lo; e < n && t[e] == key; e++)
                if (push(&found, i) || push(&at, e)) {
                    PyErr_NoMemory();
                    goto done;
                }
        }
    } else {
        for (Py_ssize_t i = 0; i < m && lo < n; i++) {
            uint64_t key = k[i];
            /* lower bound of key in t[lo:n]: gallop to a bracket, then halve it */
            Py_ssize_t step = 1, hi = lo;
            while (hi < n && t[hi] < key) {
                lo = hi + 1;
                hi += step;
                step *= 2;
            }
            lo = lower_bound(t, lo, hi > n ? n : hi, key);
            for (Py_ssize_t e = lo; e < n && t[e] == key; e++)
                if (push(&found, i) || push(&at, e)) {
                    PyErr_NoMemory();
                    goto done;
                }
        }
    }
    PyObject *f = PyBytes_FromStringAndSize((const char *)found.v, found.n * (Py_ssize_t)sizeof(int64_t));
    PyObject *a = f ? PyBytes_FromStringAndSize((const char *)at.v, at.n * (Py_ssize_t)sizeof(int64_t)) : NULL;
    if (f && a) result = PyTuple_Pack(2, f, a);
    Py_XDECREF(f);
    Py_XDECREF(a);
done:
    PyMem_Free(brackets);
    PyMem_Free(found.v);
    PyMem_Free(at.v);
    PyBuffer_Release(&table);
    PyBuffer_Release(&keys);
    if (sample.obj) PyBuffer_Release(&sample);
    return result;
}

/* `agreements(a, rows, b, others, width) -> counts`: for each pair p, how many of the `width`
 * uint32 values of row rows[p] of `a` equal those of row others[p] of `b` (rows of `width` values,
 * C order), as int64 bytes; StoryIndex._verify's numpy expression is the specification. numpy
 * gathered both rows of every pair into two new arrays first (512 bytes each a pair, tens of
 * thousands of candidate pairs a batch at a million passages, where a story has many copies). */
static PyObject *agreements(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer a = {0}, rows = {0}, b = {0}, others = {0};
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "y*y*y*y*n", &a, &rows, &b, &others, &width)) return NULL;
    PyObject *result = NULL;
    if (width < 1 || a.len % (width * 4) || b.len % (width * 4) || rows.len % 8 || others.len != rows.len) {
        PyErr_SetString(PyExc_ValueError, "agreements: a and b must be uint32 rows of width values, rows and others int64 of one length");
        goto done;
    }
    Py_ssize_t na = a.len / (width * 4), nb = b.len / (width * 4), m = rows.len / 8;
    const uint32_t *av = a.buf, *bv = b.buf;
    const int64_t *rv = rows.buf, *ov = others.buf;
    for (Py_ssize_t p = 0; p < m; p++)
        if (rv[p] < 0 || rv[p] >= na || ov[p] < 0 || ov[p] >= nb) {
            PyErr_Format(PyExc_IndexError, "agreements: pair %zd names a row out of range", p);
            goto done;
        }
    result = PyBytes_FromStringAndSize(NULL, m * (Py_ssize_t)sizeof(int64_t));
    if (!result) goto done;
    int64_t *out = (int64_t *)PyBytes_AS_STRING(result);
    for (Py_ssize_t p = 0; p < m; p++) {
        const uint32_t *x = av + rv[p] * width, *y = bv + ov[p] * width;
        int64_t same = 0;
        for (Py_ssize_t j = 0; j < width; j++)
            same += x[j] == y[j];
        out[p] = same;
    }
done:
    PyBuffer_Release(&a);
    PyBuffer_Release(&rows);
    PyBuffer_Release(&b);
    PyBuffer_Release(&others);
    return result;
}

/* `best_matches(tables, sample, stride, filter, filter_bits, sorted_keys, key_rows, sigs, stamps,
 * thresholds, table_sigs, table_stamps, table_days, alive, old_slots, old_positions, max_apart,
 * short_threshold, bands) -> (stored_best, stored_same, batch_best, batch_same)`: StoryIndex.assign's search for each
 * batch row's best stored match and best earlier batch row, as int64 bytes (-1: none; *_same the
 * agreeing signature values). The numpy path of StoryIndex.assign (lookup, dedupe, _verify,
 * _keep_best) is the specification; tests/test_story_batch.py compares the two.
 *
 * `tables`: (keys uint64 ascending, slots int32) pairs, the first one sampled by `sample`: None, or
 * (its every stride-th key, `radix`: for each value of a key's top bits the first sample position
 * whose key has that top or a larger one, and the sample's size last; int64, 2^bits + 1 of them); `filter`: the index's bit filter over the tables' keys (a key
 * whose bit is clear is held by none). `sorted_keys` (uint64 ascending) are the batch's `bands`
 * band keys a row, `key_rows` (int64) the row of each. `old_slots` (int64 ascending) are slots the
 * batch replaces, dead for rows at or after `old_positions`.
 *
 * Each row's candidates are verified band by band, the band held by the fewest stored entries
 * first, and the search stops when no candidate not yet seen could change the answer: a candidate
 * sharing none of the j bands looked at differs from the row in at least one value of each, so it
 * agrees on at most P - j values. Once the best found agrees on more (ties go to the lower slot, so
 * more, not as many), or P - j is below the row's threshold, the rest cannot win. At a million
 * passages each added article has ~9 stored copies: one band settles it, instead of the ~600-1,500
 * stored entries its 64 bands hold (most of them keys of common phrases, published on other days).
 * A batch row's earlier batch rows are searched the same way, and need not be once the stored
 * best could only tie or beat them (the stored article wins ties).
 *
 * `table_days` (int16, a slot's day number, storyindex.day_numbers) lets a stored candidate published
 * too far from the row be passed over before anything else of it is read: an article of a new story
 * searches all its bands, and at a million passages most of their ~600-1,500 entries are keys of
 * common phrases from other days, each a cache miss on its timestamp before. */
typedef struct {
    Py_buffer keys, slots;
    Py_ssize_t n;
} Table;

typedef struct {
    Py_ssize_t table, lo, hi;
} Range;

static int push_range(Range **v, Py_ssize_t *used, Py_ssize_t *cap, Range r) {
    if (*used == *cap) {
        Py_ssize_t c = *cap ? 2 * *cap : 1024;
        Range *nv = PyMem_Realloc(*v, (size_t)c * sizeof(Range));
        if (!nv) return -1;
        *v = nv;
        *cap = c;
    }
    (*v)[(*used)++] = r;
    return 0;
}

/* The first index past the run of `key` that starts at `lo` in t[:n]. */
static inline Py_ssize_t run_end(const uint64_t *t, Py_ssize_t lo, Py_ssize_t n, uint64_t key) {
    Py_ssize_t step = 1, at = lo;
    while (at + step < n && t[at + step] == key) {
        at += step;
        step *= 2;
    }
    /* t[at] == key; the end lies in (at, min(at + step, n)] */
    Py_ssize_t a = at + 1, b = at + step < n ? at + step : n;
    while (a < b) {
        Py_ssize_t mid = a + (b - a) / 2;
        if (t[mid] == key) a = mid + 1; else b = mid;
    }
    return a;
}

/* lower_bound without branches on the comparisons (a conditional move each step): the bracket a
 * sample gives is searched for every key, and a mispredicted branch at each of its steps cost more
 * than the steps. */
static inline Py_ssize_t lower_bound_cmov(const uint64_t *t, Py_ssize_t lo, Py_ssize_t hi, uint64_t key) {
    Py_ssize_t len = hi - lo;
    if (len <= 0) return lo;
    const uint64_t *base = t + lo;
    while (len > 1) {
        Py_ssize_t half = len / 2;
        base = base[half] < key ? base + half : base;
        len -= half;
    }
    return (base - t) + (*base < key);
}

/* The lower bound of `key` in t[lo:n], galloping forward from lo (the keys come in ascending order,
 * each a few sample entries past the last). */
static inline Py_ssize_t gallop_lower(const uint64_t *t, Py_ssize_t lo, Py_ssize_t n, uint64_t key) {
    Py_ssize_t step = 1, hi = lo;
    while (hi < n && t[hi] < key) {
        lo = hi + 1;
        hi += step;
        step *= 2;
    }
    return lower_bound_cmov(t, lo, hi > n ? n : hi, key);
}

static inline Py_ssize_t agree(const uint32_t *x, const uint32_t *y, Py_ssize_t width) {
    Py_ssize_t same = 0;
    for (Py_ssize_t j = 0; j < width; j++) same += x[j] == y[j];
    return same;
}

static int cmp_ssize(const void *a, const void *b) {
    Py_ssize_t x = *(const Py_ssize_t *)a, y = *(const Py_ssize_t *)b;
    return (x > y) - (x < y);
}

typedef struct {
    Table *tables;
    Py_ssize_t ntables;
    const uint64_t *sample; /* tables[0]'s keys[::stride], or NULL */
    Py_ssize_t ms, stride;
    const int64_t *radix; /* per value of a key's top bits, the first sample entry with that top or more */
    unsigned radix_shift;
    const unsigned char *filter;
    unsigned top_shift;
    const uint64_t *keys; /* the batch's sorted keys */
    Range **ranges;
    Py_ssize_t *used, *cap, *rstart, *rend, *count; /* per key index: its ranges, and their entries */
} Lookup;

/* Each key keys[qs[x]] (qs ascending) found in every table: its ranges appended, rstart/rend/count of
 * its index set. Keys whose filter bit is clear are held by no table: only the others are searched.
 * Sorted keys: each search starts where the last ended; the sampled table is bracketed in its sample
 * first, the brackets prefetched AHEAD keys before they are searched. 0, or -1 with an exception set. */
static int lookup_keys(Lookup *c, const Py_ssize_t *qs, Py_ssize_t nq) {
    enum { AHEAD = 16 };
    const uint64_t *k = c->keys, *t0 = c->ntables ? c->tables[0].keys.buf : NULL;
    Py_ssize_t *brackets = NULL, *tlo = PyMem_Calloc((size_t)(c->ntables ? c->ntables : 1), sizeof(Py_ssize_t));
    Py_ssize_t *held = PyMem_Malloc((size_t)(nq ? nq : 1) * sizeof(Py_ssize_t)), nh = 0;
    if (!tlo || !held) { PyMem_Free(tlo); PyMem_Free(held); PyErr_NoMemory(); return -1; }
    for (Py_ssize_t x = 0; x < nq; x++) {
        Py_ssize_t q = qs[x];
        uint64_t top = k[q] >> c->top_shift;
        c->rstart[q] = c->rend[q] = 0; /* no ranges, unless found below */
        c->count[q] = 0;
        if ((c->filter[top >> 3] >> (top & 7)) & 1) held[nh++] = q;
    }
    if (c->sample && nh) {
        if (!(brackets = PyMem_Malloc((size_t)nh * 2 * sizeof(Py_ssize_t)))) {
            PyMem_Free(tlo);
            PyMem_Free(held);
            PyErr_NoMemory();
            return -1;
        }
        /* A key's sample entry is searched among those of its top bits (`radix`: ~32-64 entries, a few
         * lines, prefetched AHEAD keys before), not galloped to through the sample: at a million
         * passages the sample is 2 MB, and each gallop step was a cache miss. */
        Py_ssize_t tn = c->tables[0].n;
        const int64_t *rx = c->radix;
        for (Py_ssize_t x = 0; x < nh + AHEAD; x++) { /* prefetch key x's entries, search key x - AHEAD's */
            if (x >= AHEAD) {
                Py_ssize_t y = x - AHEAD;
                uint64_t key = k[held[y]], b = key >> c->radix_shift;
                Py_ssize_t j = lower_bound_cmov(c->sample, rx[b], rx[b + 1], key);
                brackets[2 * y] = j ? (j - 1) * c->stride + 1 : 0;
                brackets[2 * y + 1] = j < c->ms ? j * c->stride : tn;
            }
            if (x < nh) {
                uint64_t b = k[held[x]] >> c->radix_shift;
                for (Py_ssize_t e = rx[b]; e < rx[b + 1]; e += 8) __builtin_prefetch(&c->sample[e]);
            }
        }
        for (Py_ssize_t x = 0; x < AHEAD && x < nh; x++)
            for (Py_ssize_t e = brackets[2 * x]; e < brackets[2 * x + 1]; e += 8) __builtin_prefetch(&t0[e]);
    }
    for (Py_ssize_t x = 0; x < nh; x++) {
        Py_ssize_t q = held[x];
        uint64_t key = k[q];
        c->rstart[q] = *c->used;
        if (brackets && x + AHEAD < nh)
            for (Py_ssize_t e = brackets[2 * (x + AHEAD)]; e < brackets[2 * (x + AHEAD) + 1]; e += 8)
                __builtin_prefetch(&t0[e]);
        for (Py_ssize_t t = 0; t < c->ntables; t++) {
            const uint64_t *tk = c->tables[t].keys.buf;
            Py_ssize_t tn = c->tables[t].n, lo = tlo[t];
            if (lo >= tn) continue;
            if (t == 0 && brackets) {
                Py_ssize_t from = brackets[2 * x] > lo ? brackets[2 * x] : lo, to = brackets[2 * x + 1];
                lo = lower_bound_cmov(tk, from, to > from ? to : from, key);
            } else {
                lo = gallop_lower(tk, lo, tn, key);
            }
            tlo[t] = lo;
            if (lo < tn && tk[lo] == key) {
                Range r = {t, lo, run_end(tk, lo, tn, key)};
                c->count[q] += r.hi - r.lo;
                if (push_range(c->ranges, c->used, c->cap, r) < 0) {
                    PyMem_Free(tlo);
                    PyMem_Free(held);
                    PyMem_Free(brackets);
                    PyErr_NoMemory();
                    return -1;
                }
            }
        }
        c->rend[q] = *c->used;
    }
    PyMem_Free(tlo);
    PyMem_Free(held);
    PyMem_Free(brackets);
    return 0;
}

/* A publication time's day number as storyindex.day_numbers makes it: floor(days since 1970) within
 * int16, else NO_DAY (no date, or out of range). */
#define NO_DAY (-32768)
static inline int day_number(double stamp) {
    double d = floor(stamp / 86400.0);
    return isfinite(d) && d > NO_DAY && d <= 32767 ? (int)d : NO_DAY;
}

typedef struct {
    Table *tables;
    Range **ranges;
    const Py_ssize_t *rstart, *rend;
    const uint32_t *sigs, *table_sigs;
    const double *stamps, *thresholds, *table_stamps;
    const int16_t *table_days; /* each slot's day number (NO_DAY: none) */
    Py_ssize_t day_gap;        /* a candidate more days apart than this fails the date check */
    const unsigned char *alive;
    const int64_t *old_slots, *old_positions;
    Py_ssize_t nold, nb, perms;
    double max_apart, short_threshold;
    unsigned char *seen; /* a bit per slot, clear between rows */
    Py_ssize_t *seen_list, seen_used, seen_cap;
} Rows;

/* Row i's best stored match over the keys order[0:nbands] (indices into the sorted keys, looked up),
 * in that order, stopping once no candidate not yet seen could win (see best_matches). 0, or -1
 * with an exception set. */
static int row_best(Rows *c, Py_ssize_t i, const Py_ssize_t *order, Py_ssize_t nbands, int64_t *best_out,
                    int64_t *same_out) {
    Py_ssize_t perms = c->perms;
    const uint32_t *mine = c->sigs + i * perms;
    double stamp = c->stamps[i], thr = c->thresholds[i];
    int my_day = day_number(stamp), by_day = my_day != NO_DAY && c->day_gap >= 0;
    double thr_undated = thr > c->short_threshold ? thr : c->short_threshold;
    int64_t best = -1, best_same = -1;
    int status = 0;
    for (Py_ssize_t j = 0; j < nbands && status == 0; j++) {
        Py_ssize_t q = order[j];
        for (Py_ssize_t ri = c->rstart[q]; ri < c->rend[q] && status == 0; ri++) {
            Range r = (*c->ranges)[ri];
            const int32_t *slots = c->tables[r.table].slots.buf;
            for (Py_ssize_t e = r.lo; e < r.hi; e++) {
                /* a long run's day numbers are scattered: each fetched a few entries ahead (a prefetch
                 * never faults; the slot is checked below before anything is read through it) */
                if (e + 8 < r.hi) __builtin_prefetch(&c->table_days[slots[e + 8]]);
                Py_ssize_t slot = slots[e];
                if (slot < 0 || slot >= c->nb) {
                    PyErr_Format(PyExc_IndexError, "best_matches: slot %zd out of range", slot);
                    status = -1;
                    break;
                }
                if (by_day) { /* published too far apart: fails the date check below, found without its stamp */
                    int d = c->table_days[slot];
                    if (d != NO_DAY && (d > my_day ? d - my_day : my_day - d) > c->day_gap) continue;
                }
                if ((c->seen[slot >> 3] >> (slot & 7)) & 1) continue;
                c->seen[slot >> 3] |= (unsigned char)(1 << (slot & 7));
                if (c->seen_used == c->seen_cap) {
                    Py_ssize_t cap = c->seen_cap ? 2 * c->seen_cap : 1024;
                    Py_ssize_t *nl = PyMem_Realloc(c->seen_list, (size_t)cap * sizeof(Py_ssize_t));
                    if (!nl) {
                        PyErr_NoMemory();
                        status = -1;
                        break;
                    }
                    c->seen_list = nl;
                    c->seen_cap = cap;
                }
                c->seen_list[c->seen_used++] = slot;
                if (!c->alive[slot]) continue;
                if (c->nold) { /* replaced by a batch row at or before this one: dead for it */
                    Py_ssize_t at = 0, hi = c->nold;
                    while (at < hi) {
                        Py_ssize_t mid = at + (hi - at) / 2;
                        if (c->old_slots[mid] < slot) at = mid + 1; else hi = mid;
                    }
                    if (at < c->nold && c->old_slots[at] == slot && c->old_positions[at] <= i) continue;
                }
                double other = c->table_stamps[slot];
                int undated = isnan(other) || isnan(stamp);
                if (!undated && !(fabs(other - stamp) <= c->max_apart)) continue;
                int64_t same = agree(mine, c->table_sigs + slot * perms, perms);
                double sim = (double)same / (double)perms;
                if (!(undated ? sim >= thr_undated : sim >= thr)) continue;
                if (same > best_same || (same == best_same && slot < best)) { best = slot; best_same = same; }
            }
        }
        int64_t bound = perms - (j + 1);
        if (bound < best_same || (double)bound / (double)perms < thr) break;
    }
    for (Py_ssize_t x = 0; x < c->seen_used; x++) c->seen[c->seen_list[x] >> 3] = 0;
    c->seen_used = 0;
    *best_out = best;
    *same_out = best_same;
    return status;
}

static PyObject *best_matches(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *tables_obj, *sample_obj;
    Py_ssize_t stride, filter_bits, bands;
    double max_apart, short_threshold;
    Py_buffer filter = {0}, skeys = {0}, krows = {0}, sigs = {0}, stamps = {0}, thresholds = {0}, tsigs = {0},
              tstamps = {0}, tdays = {0}, alive = {0}, old_slots = {0}, old_pos = {0}, sample = {0}, radix = {0};
    unsigned radix_bits = 1;
    if (!PyArg_ParseTuple(args, "OOny*ny*y*y*y*y*y*y*y*y*y*y*ddn", &tables_obj, &sample_obj, &stride, &filter,
                          &filter_bits, &skeys, &krows, &sigs, &stamps, &thresholds, &tsigs, &tstamps, &tdays,
                          &alive, &old_slots, &old_pos, &max_apart, &short_threshold, &bands))
        return NULL;
    PyObject *result = NULL, *tseq = NULL;
    Table *tables = NULL;
    Py_ssize_t ntables = 0;
    Range *ranges = NULL;
    Py_ssize_t used = 0, cap = 0;
    Py_ssize_t *rstart = NULL, *rend = NULL, *count = NULL, *qs = NULL, *row_keys = NULL, *fill = NULL,
               *run_lo = NULL, *run_hi = NULL;
    Rows rw;
    memset(&rw, 0, sizeof rw);
    int64_t *out = NULL;
    int32_t *mark = NULL;
    unsigned char *seen = NULL;

    Py_ssize_t n = stamps.len / 8, m = skeys.len / 8, nb = tstamps.len / 8;
    Py_ssize_t perms = n ? sigs.len / 4 / n : 0;
    if (bands < 1 || m != n * bands || krows.len != skeys.len || thresholds.len != stamps.len ||
        (n && sigs.len != n * perms * 4) || perms < bands || perms % bands || tsigs.len != nb * perms * 4 || alive.len != nb || tdays.len != nb * 2 ||
        old_slots.len != old_pos.len || old_slots.len % 8 || filter_bits < 3 || filter_bits > 40 ||
        filter.len != ((Py_ssize_t)1 << (filter_bits - 3))) {
        PyErr_SetString(PyExc_ValueError, "best_matches: arrays of inconsistent sizes");
        goto done;
    }
    if (!(tseq = PySequence_Fast(tables_obj, "best_matches: tables must be a sequence"))) goto done;
    ntables = PySequence_Fast_GET_SIZE(tseq);
    if (!(tables = PyMem_Calloc(ntables ? ntables : 1, sizeof(Table)))) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t t = 0; t < ntables; t++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(tseq, t);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            PyObject_GetBuffer(PyTuple_GET_ITEM(pair, 0), &tables[t].keys, PyBUF_SIMPLE) < 0) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "best_matches: a table is a (keys, slots) pair");
            ntables = t;
            goto done;
        }
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(pair, 1), &tables[t].slots, PyBUF_SIMPLE) < 0) {
            PyBuffer_Release(&tables[t].keys);
            ntables = t;
            goto done;
        }
        tables[t].n = tables[t].keys.len / 8;
        if (tables[t].keys.len % 8 || tables[t].slots.len != tables[t].n * 4) {
            ntables = t + 1;
            PyErr_SetString(PyExc_ValueError, "best_matches: a table's keys are uint64 and its slots int32, as many");
            goto done;
        }
    }
    if (sample_obj != Py_None) {
        if (!PyTuple_Check(sample_obj) || PyTuple_GET_SIZE(sample_obj) != 2) {
            PyErr_SetString(PyExc_TypeError, "best_matches: sample is None or a (sample, radix) pair");
            goto done;
        }
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(sample_obj, 0), &sample, PyBUF_SIMPLE) < 0 ||
            PyObject_GetBuffer(PyTuple_GET_ITEM(sample_obj, 1), &radix, PyBUF_SIMPLE) < 0)
            goto done;
        Py_ssize_t ms = sample.len / 8, tn = ntables ? tables[0].n : 0;
        const uint64_t *t0 = ntables ? tables[0].keys.buf : NULL, *smp = sample.buf;
        if (!ntables || stride < 1 || sample.len % 8 || ms != (tn + stride - 1) / stride ||
            (ms && (smp[0] != t0[0] || smp[ms - 1] != t0[(ms - 1) * stride]))) {
            PyErr_SetString(PyExc_ValueError, "best_matches: sample must be tables[0]'s keys[::stride]");
            goto done;
        }
        /* radix: 2^bits + 1 ascending int64 entries from 0 to the sample's size (what keeps every search
         * inside the sample; a wrong one could only give wrong brackets) */
        Py_ssize_t nr = radix.len / 8 - 1;
        const int64_t *rx = radix.buf;
        while (radix_bits < 40 && ((Py_ssize_t)1 << radix_bits) < nr) radix_bits++;
        int ok = radix.len % 8 == 0 && nr >= 2 && ((Py_ssize_t)1 << radix_bits) == nr && rx[0] == 0 && rx[nr] == ms;
        for (Py_ssize_t b = 0; ok && b < nr; b++) ok = rx[b] <= rx[b + 1];
        if (!ok) {
            PyErr_SetString(PyExc_ValueError, "best_matches: radix must hold 2^bits + 1 ascending sample positions");
            goto done;
        }
    }
    const uint64_t *k = skeys.buf;
    const int64_t *kr = krows.buf;
    for (Py_ssize_t q = 0; q < m; q++)
        if (kr[q] < 0 || kr[q] >= n || (q && k[q] < k[q - 1])) {
            PyErr_SetString(PyExc_ValueError, "best_matches: sorted_keys must ascend, key_rows name rows of the batch");
            goto done;
        }

    if (!(rstart = PyMem_Malloc((size_t)(m ? m : 1) * sizeof(Py_ssize_t))) ||
        !(rend = PyMem_Calloc((size_t)(m ? m : 1), sizeof(Py_ssize_t))) ||
        !(count = PyMem_Calloc((size_t)(m ? m : 1), sizeof(Py_ssize_t))) ||
        !(qs = PyMem_Malloc((size_t)(m ? m : 1) * sizeof(Py_ssize_t))) ||
        !(row_keys = PyMem_Malloc((size_t)(m ? m : 1) * sizeof(Py_ssize_t))) ||
        !(fill = PyMem_Calloc((size_t)(n ? n : 1), sizeof(Py_ssize_t))) ||
        !(run_lo = PyMem_Malloc((size_t)(m ? m : 1) * sizeof(Py_ssize_t))) ||
        !(run_hi = PyMem_Malloc((size_t)(m ? m : 1) * sizeof(Py_ssize_t))) ||
        !(mark = PyMem_Calloc((size_t)(n ? n : 1), sizeof(int32_t))) ||
        !(seen = PyMem_Calloc((size_t)(nb / 8 + 1), 1)) ||
        !(out = PyMem_Malloc((size_t)(4 * n + 1) * sizeof(int64_t)))) { PyErr_NoMemory(); goto done; }
    /* Each row's keys (indices into sorted_keys, ascending), and the batch's runs of equal keys. */
    for (Py_ssize_t q = 0; q < m; q++) {
        Py_ssize_t r = kr[q];
        if (fill[r] == bands) {
            PyErr_SetString(PyExc_ValueError, "best_matches: a row has more keys than bands");
            goto done;
        }
        row_keys[r * bands + fill[r]++] = q;
    }
    for (Py_ssize_t q = 0; q < m;) {
        Py_ssize_t e = q + 1;
        while (e < m && k[e] == k[q]) e++;
        for (Py_ssize_t x = q; x < e; x++) { run_lo[x] = q; run_hi[x] = e; }
        q = e;
    }
    Lookup lk = {tables, ntables, sample.obj ? sample.buf : NULL, sample.obj ? sample.len / 8 : 0, stride,
                 radix.obj ? radix.buf : NULL, 64 - radix_bits, filter.buf, (unsigned)(64 - filter_bits), k,
                 &ranges, &used, &cap, rstart, rend, count};
    /* Days apart beyond which the exact check must fail: stamps at most max_apart apart lie in days at
     * most ceil(max_apart / 86400) apart; one more for rounding. -1 (no skipping) when unbounded. */
    double gap = ceil(max_apart / 86400.0) + 1.0;
    rw = (Rows){tables, &ranges, rstart, rend, sigs.buf, tsigs.buf, stamps.buf, thresholds.buf, tstamps.buf,
                tdays.buf, gap >= 0 && gap < 65536.0 ? (Py_ssize_t)gap : -1, alive.buf, old_slots.buf, old_pos.buf, old_slots.len / 8, nb, perms, max_apart, short_threshold,
                seen, NULL, 0, 0};
    int64_t *s_best = out, *s_same = out + n, *b_best = out + 2 * n, *b_same = out + 3 * n;

    /* First each row's smallest key alone: a row with a stored exact copy (all P values equal) has it
     * among that key's entries, with every other exact copy (they share every band), and nothing
     * else can beat it (a candidate not seen differs in that band). At a million passages, where
     * each added article of the benchmarks has ~9 stored copies, this settles nearly every row
     * with one lookup instead of 64; other rows are searched in full below, that key again
     * included (its candidates verified twice: a few). */
    for (Py_ssize_t i = 0; i < n; i++) qs[i] = row_keys[i * bands];
    qsort(qs, (size_t)n, sizeof(Py_ssize_t), cmp_ssize);
    if (lookup_keys(&lk, qs, n) < 0) goto done;
    Py_ssize_t left = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (row_best(&rw, i, row_keys + i * bands, 1, &s_best[i], &s_same[i]) < 0) goto done;
        if (s_same[i] != perms) {
            s_best[i] = -1; /* searched again in full */
            fill[i] = 0;
            left++;
        } else {
            fill[i] = 1; /* settled */
        }
    }
    if (left) {
        Py_ssize_t nq = 0;
        for (Py_ssize_t q = 0; q < m; q++) /* ascending: the keys of unsettled rows not yet looked up */
            if (!fill[kr[q]] && q != row_keys[kr[q] * bands]) qs[nq++] = q;
        if (lookup_keys(&lk, qs, nq) < 0) goto done;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (fill[i]) continue;
            Py_ssize_t *order = row_keys + i * bands;
            for (Py_ssize_t a = 1; a < bands; a++) { /* fewest stored entries first */
                Py_ssize_t q = order[a], b = a;
                while (b > 0 && count[order[b - 1]] > count[q]) { order[b] = order[b - 1]; b--; }
                order[b] = q;
            }
            if (row_best(&rw, i, order, bands, &s_best[i], &s_same[i]) < 0) goto done;
        }
    }
    const uint32_t *sv = sigs.buf;
    const double *st = stamps.buf, *th = thresholds.buf;
    for (Py_ssize_t i = 0; i < n; i++) { /* earlier rows of the batch */
        const Py_ssize_t *order = row_keys + i * bands;
        const uint32_t *mine = sv + i * perms;
        double stamp = st[i], thr = th[i], thr_undated = thr > short_threshold ? thr : short_threshold;
        int64_t bbest = -1, bsame = -1, best_same = s_same[i];
        for (Py_ssize_t j = 0; j < bands; j++) {
            int64_t bound = perms - j;  /* what a row not yet seen can agree on */
            if (bound <= best_same || bound < bsame || (double)bound / (double)perms < thr) break;
            Py_ssize_t q = order[j];
            for (Py_ssize_t e = run_lo[q]; e < run_hi[q]; e++) {
                Py_ssize_t r = kr[e];
                if (r >= i || mark[r] == (int32_t)(i + 1)) continue;
                mark[r] = (int32_t)(i + 1);
                double other = st[r];
                int undated = isnan(other) || isnan(stamp);
                if (!undated && !(fabs(other - stamp) <= max_apart)) continue;
                int64_t same = agree(mine, sv + r * perms, perms);
                double sim = (double)same / (double)perms;
                if (!(undated ? sim >= thr_undated : sim >= thr)) continue;
                if (same > bsame || (same == bsame && r < bbest)) { bbest = r; bsame = same; }
            }
        }
        b_best[i] = bbest;
        b_same[i] = bsame;
    }
    result = PyBytes_FromStringAndSize((const char *)out, 4 * n * (Py_ssize_t)sizeof(int64_t));
done:
    for (Py_ssize_t t = 0; t < ntables; t++) {
        if (tables[t].keys.obj) PyBuffer_Release(&tables[t].keys);
        if (tables[t].slots.obj) PyBuffer_Release(&tables[t].slots);
    }
    PyMem_Free(tables);
    Py_XDECREF(tseq);
    PyMem_Free(ranges);
    PyMem_Free(rstart);
    PyMem_Free(rend);
    PyMem_Free(qs);
    PyMem_Free(count);
    PyMem_Free(row_keys);
    PyMem_Free(fill);
    PyMem_Free(run_lo);
    PyMem_Free(run_hi);
    PyMem_Free(rw.seen_list);
    PyMem_Free(out);
    PyMem_Free(mark);
    PyMem_Free(seen);
    Py_buffer *bufs[] = {&filter, &skeys, &krows, &sigs, &stamps, &thresholds, &tsigs, &tstamps, &tdays, &alive,
                         &old_slots, &old_pos, &sample, &radix};
    for (size_t b = 0; b < sizeof bufs / sizeof *bufs; b++)
        if (bufs[b]->obj) PyBuffer_Release(bufs[b]);
    return result;
}

/* `merge_runs(a_keys, a_slots, b_keys, b_slots, out_keys, out_slots)`: the two sorted runs of keys
 * (uint64, ascending) with their slots (int32) merged into the out buffers, a key of `a` before an
 * equal key of `b`: what np.insert(a, np.searchsorted(a, b, side="right"), b) gives, in one pass
 * (numpy searched, then copied through a general insert: ~0.2 ms an add in StoryIndex._append). */
static PyObject *merge_runs(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer ak = {0}, as = {0}, bk = {0}, bs = {0}, ok = {0}, os = {0};
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*w*", &ak, &as, &bk, &bs, &ok, &os)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t na = ak.len / 8, nb = bk.len / 8;
    if (ak.len % 8 || bk.len % 8 || as.len != na * 4 || bs.len != nb * 4 || ok.len != (na + nb) * 8 ||
        os.len != (na + nb) * 4) {
        PyErr_SetString(PyExc_ValueError, "merge_runs: uint64 keys with as many int32 slots, out holding both runs");
        goto done;
    }
    const uint64_t *a = ak.buf, *b = bk.buf;
    const int32_t *sa = as.buf, *sb = bs.buf;
    uint64_t *out = ok.buf;
    int32_t *so = os.buf;
    Py_ssize_t i = 0, j = 0, o = 0;
    while (i < na && j < nb) {
        if (b[j] < a[i]) { out[o] = b[j]; so[o++] = sb[j++]; }
        else { out[o] = a[i]; so[o++] = sa[i++]; }
    }
    memcpy(out + o, a + i, (size_t)(na - i) * 8);
    memcpy(so + o, sa + i, (size_t)(na - i) * 4);
    o += na - i;
    memcpy(out + o, b + j, (size_t)(nb - j) * 8);
    memcpy(so + o, sb + j, (size_t)(nb - j) * 4);
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&ak);
    PyBuffer_Release(&as);
    PyBuffer_Release(&bk);
    PyBuffer_Release(&bs);
    PyBuffer_Release(&ok);
    PyBuffer_Release(&os);
    return result;
}

/* `mark_filter(filter, keys, bits)`: sets the bit of each key (uint64) in `filter` (2^bits bits, a
 * key's bit its top `bits` bits); StoryIndex._mark's numpy is the specification. */
static PyObject *mark_filter(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer filter = {0}, keys = {0};
    Py_ssize_t bits;
    if (!PyArg_ParseTuple(args, "w*y*n", &filter, &keys, &bits)) return NULL;
    PyObject *result = NULL;
    if (bits < 3 || bits > 40 || filter.len != ((Py_ssize_t)1 << (bits - 3)) || keys.len % 8) {
        PyErr_SetString(PyExc_ValueError, "mark_filter: filter must hold 2^bits bits, keys be uint64");
        goto done;
    }
    unsigned char *f = filter.buf;
    const uint64_t *k = keys.buf;
    unsigned shift = (unsigned)(64 - bits);
    for (Py_ssize_t i = 0; i < keys.len / 8; i++) {
        uint64_t top = k[i] >> shift;
        f[top >> 3] |= (unsigned char)(1u << (top & 7));
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&filter);
    PyBuffer_Release(&keys);
    return result;
}

static PyMethodDef module_methods[] = {
    {"signatures", signatures, METH_VARARGS,
     "signatures(titles, bodies, lead_chars, lead_words, shingle_words, a, b, out) -> shingle counts (-1: not done)"},
    {"sorted_matches", sorted_matches, METH_VARARGS,
     "sorted_matches(table, keys, sample=None, stride=0) -> (found, at): int64 bytes of the equal (key, entry) pairs"
     " of two sorted uint64 arrays; sample, if given, is table[::stride]"},
    {"agreements", agreements, METH_VARARGS,
     "agreements(a, rows, b, others, width) -> int64 bytes: equal values of rows[p] of a and others[p] of b"},
    {"mark_filter", mark_filter, METH_VARARGS, "mark_filter(filter, keys, bits): sets each key's bit in the filter"},
    {"merge_runs", merge_runs, METH_VARARGS,
     "merge_runs(a_keys, a_slots, b_keys, b_slots, out_keys, out_slots): two sorted runs merged, a's keys first on ties"},
    {"best_matches", best_matches, METH_VARARGS,
     "best_matches(tables, sample, stride, filter, filter_bits, sorted_keys, key_rows, sigs, stamps, thresholds,"
     " table_sigs, table_stamps, table_days, alive, old_slots, old_positions, max_apart, short_threshold, bands)"
     " -> int64 bytes: each row's best stored slot, its agreements, best earlier row, its agreements (-1: none)"},
    {NULL, NULL, 0, NULL},
};

static int exec_module(PyObject *module) {
    crc_init();
    for (Py_UCS4 c = 0; c < WORD_TABLE; c++) word_table[c] = c == '_' || Py_UNICODE_ISALNUM(c);
    return 0;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_minhash", "Story signatures for a batch of articles (retrieval/stories.py).", 0,
    module_methods, module_slots,
};

PyMODINIT_FUNC PyInit__minhash(void) { return PyModuleDef_Init(&module); }
