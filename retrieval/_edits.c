/* Spelling variants in C: `variants.edit1_variants` filtered through a dict, without building the
 * Python set of several hundred candidate strings first (retrieval/variants.py is the specification).
 *
 * `known(term, keys, letters)` returns the distinct strings one edit away from `term` (a deletion, a
 * swap of two adjacent characters, an insertion or substitution of one of `letters`), other than
 * `term` itself, that are keys of the dict `keys`, in the order first generated. Each candidate is
 * built in one reused buffer and probed as a string.
 *
 * `KeyFilter(keys)` is a Bloom filter over the keys of a dict (`known(..., filter)` takes it): a
 * candidate the filter does not hold is not a key, and is skipped without building its string or
 * probing the dict. A probe of a vocabulary of hundreds of thousands of terms missed the CPU caches
 * two or three times (~0.17 ms for the ~400 candidates of a 6-letter word); the filter is ~2 bytes a
 * key and answers most candidates from one cache line. It never drops a key (a candidate it holds is
 * still probed in the dict), and it follows a dict that is only ever added to (the index's global
 * vocabulary, `segment.Vocabulary`): before each use it takes in the keys added since, found from
 * where its last pass over the dict stopped. A dict that shrank is read again whole; a key removed
 * and another added between two uses, the size unchanged, would go unseen (the vocabulary never
 * removes one).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>


/* --- the key filter ------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    PyObject *keys;     /* the dict followed */
    uint64_t *bits;     /* 2^shift words */
    int shift;
    Py_ssize_t covered; /* keys taken in */
    Py_ssize_t pos;     /* PyDict_Next's position after the last key taken in */
} KeyFilter;

/* A string's hash over its code points: a polynomial (Horner's rule, mod 2^64) over the code points,
 * its length mixed in, then SplitMix64's finaliser. The same for a candidate in a UCS4 buffer and for a
 * key of any str kind; and, being a polynomial, the hash of each one-edit candidate of a word is a few
 * multiply-adds of its prefix and suffix hashes (`known`), without building the candidate. Not keyed: a
 * crafted word can only make the filter hold more candidates, each then probed in the dict as without
 * the filter. */
#define POLY_B 0x9E3779B97F4A7C15ULL

static inline uint64_t hash_final(uint64_t poly, Py_ssize_t len) {
    uint64_t h = poly ^ ((uint64_t)len * 0xD6E8FEB86659FD93ULL);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

static inline uint64_t cp_hash(const Py_UCS4 *buf, Py_ssize_t len) {
    uint64_t h = 0;
    for (Py_ssize_t i = 0; i < len; i++)
        h = h * POLY_B + buf[i];
    return hash_final(h, len);
}

static uint64_t str_hash(PyObject *s) {
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    Py_ssize_t len = PyUnicode_GET_LENGTH(s);
    uint64_t h = 0;
    for (Py_ssize_t i = 0; i < len; i++)
        h = h * POLY_B + PyUnicode_READ(kind, data, i);
    return hash_final(h, len);
}

/* Two bits in one 64-bit word: one cache line read per candidate. */
static inline uint64_t filter_mask(uint64_t h) { return (1ULL << ((h >> 52) & 63)) | (1ULL << ((h >> 58) & 63)); }

static inline int filter_has(const KeyFilter *f, uint64_t h) {
    uint64_t m = filter_mask(h);
    return (f->bits[h & ((1ULL << f->shift) - 1)] & m) == m;
}

static inline void filter_add(KeyFilter *f, uint64_t h) { f->bits[h & ((1ULL << f->shift) - 1)] |= filter_mask(h); }

/* Take in the keys added to the dict since the last call (all of them, in a table sized anew, when
 * the table is too small for them or the dict shrank). No Python code runs meanwhile (str hashes of
 * exact str keys only; another key type turns the filter off): no other thread can change the dict
 * during the pass. 1: usable, 0: not (a key that is not an exact str), -1 with an exception set. */
static int filter_update(KeyFilter *f) {
    Py_ssize_t n = PyDict_GET_SIZE(f->keys);
    if (n == f->covered && f->bits)
        return 1;
    /* 16-32 bits a key (2-4 bytes; grown when below 16): with two bits in a word, fewer than 1 candidate
     * in 70 that is not a key passes. */
    int shift = 6;
    while (((Py_ssize_t)1 << shift) < n / 4 + 1)
        shift++;
    if (!f->bits || n < f->covered || shift > f->shift) {
        uint64_t *bits = PyMem_Calloc((size_t)1 << shift, sizeof(uint64_t));
        if (!bits) {
            PyErr_NoMemory();
            return -1;
        }
        PyMem_Free(f->bits);
        f->bits = bits;
        f->shift = shift;
        f->covered = 0;
        f->pos = 0;
    }
    PyObject *key, *value;
    Py_ssize_t pos = f->pos;
    while (PyDict_Next(f->keys, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key) || PyUnicode_READY(key) < 0) {
            PyErr_Clear();
            return 0;
        }
        filter_add(f, str_hash(key));
        f->covered++;
        f->pos = pos;
    }
    if (f->covered != n) { /* positions moved (keys deleted meanwhile): read it all again next time */
        PyMem_Free(f->bits);
        f->bits = NULL;
        f->covered = 0;
        f->pos = 0;
        return 0;
    }
    return 1;
}

static int KeyFilter_init(KeyFilter *self, PyObject *args, PyObject *kwds) {
    PyObject *keys;
    static char *kwlist[] = {"keys", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!", kwlist, &PyDict_Type, &keys))
        return -1;
    Py_INCREF(keys);
    Py_XSETREF(self->keys, keys);
    PyMem_Free(self->bits);
    self->bits = NULL;
    self->covered = self->pos = 0;
    self->shift = 0;
    return filter_update(self) < 0 ? -1 : 0;
}

static void KeyFilter_dealloc(KeyFilter *self) {
    Py_XDECREF(self->keys);
    PyMem_Free(self->bits);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *KeyFilter_contains_of(KeyFilter *self, PyObject *word) {
    if (!PyUnicode_Check(word) || PyUnicode_READY(word) < 0) {
        PyErr_SetString(PyExc_TypeError, "expected str");
        return NULL;
    }
    if (!self->keys) {
        PyErr_SetString(PyExc_RuntimeError, "KeyFilter not initialised");
        return NULL;
    }
    int ok = filter_update(self);
    if (ok < 0)
        return NULL;
    return PyBool_FromLong(!ok || filter_has(self, str_hash(word)));
}

static PyObject *KeyFilter_covered(KeyFilter *self, void *closure) { return PyLong_FromSsize_t(self->covered); }

static PyMethodDef KeyFilter_methods[] = {
    {"may_hold", (PyCFunction)KeyFilter_contains_of, METH_O,
     "may_hold(word): False only if word is not a key of the dict (for tests)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef KeyFilter_getset[] = {
    {"covered", (getter)KeyFilter_covered, NULL, "keys taken in so far", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject KeyFilterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "retrieval._edits.KeyFilter",
    .tp_basicsize = sizeof(KeyFilter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "KeyFilter(keys: dict): a Bloom filter over the dict's keys, following keys added later.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)KeyFilter_init,
    .tp_dealloc = (destructor)KeyFilter_dealloc,
    .tp_methods = KeyFilter_methods,
    .tp_getset = KeyFilter_getset,
};

/* Probe buf[0:len] in `keys`; append it to `out` if present and new. -1 on error.
 *
 * `two_byte`: every character of the term and of the letters is in U+0100..U+FFFF (Arabic), so every
 * candidate is too, and is written straight into a 2-byte string, its canonical form; otherwise
 * PyUnicode_FromKindAndData scans the candidate for its narrowest form. */
static int probe(Py_UCS4 *buf, Py_ssize_t len, int two_byte, PyObject *term, PyObject *keys, PyObject *out,
                 const KeyFilter *filter) {
    if (filter && !filter_has(filter, cp_hash(buf, len)))
        return 0; /* not a key */
    PyObject *cand;
    if (two_byte && len > 0) {
        cand = PyUnicode_New(len, 0xFFFF);
        if (cand != NULL) {
            Py_UCS2 *data = PyUnicode_2BYTE_DATA(cand);
            for (Py_ssize_t i = 0; i < len; i++)
                data[i] = (Py_UCS2)buf[i];
        }
    } else {
        cand = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf, len);
    }
    if (cand == NULL)
        return -1;
    int found = PyDict_Contains(keys, cand);
    if (found > 0) {
        int same = PyUnicode_Compare(cand, term) == 0;
        if (!same) {
            /* Few are found: a linear check keeps the first-generated order without a set. */
            int dup = PySequence_Contains(out, cand);
            if (dup < 0 || (!dup && PyList_Append(out, cand) < 0))
                found = -1;
        }
    }
    Py_DECREF(cand);
    return found < 0 ? -1 : 0;
}

/* `known`'s loop with a filter: the same candidates in the same order, each one's hash made from the
 * word's prefix and suffix hashes (see cp_hash) and checked in the filter first; only a candidate the
 * filter holds is written out and probed in the dict. 0, or -1 with an exception set. */
static int known_hashed(const Py_UCS4 *word, Py_ssize_t n, const Py_UCS4 *alphabet, Py_ssize_t m, Py_UCS4 *buf,
                        int two_byte, PyObject *term, PyObject *keys, PyObject *out, const KeyFilter *filter) {
    /* pre[i]: the polynomial of word[:i]; suf[i]: of word[i:]; pw[k]: POLY_B^k */
    uint64_t *pre = PyMem_Malloc((size_t)(3 * n + 6) * sizeof(uint64_t));
    if (!pre) {
        PyErr_NoMemory();
        return -1;
    }
    uint64_t *suf = pre + n + 1, *pw = suf + n + 2;
    pre[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        pre[i + 1] = pre[i] * POLY_B + word[i];
    pw[0] = 1;
    for (Py_ssize_t k = 0; k < n + 2; k++)
        pw[k + 1] = pw[k] * POLY_B;
    suf[n] = suf[n + 1] = 0;
    for (Py_ssize_t i = n - 1; i >= 0; i--)
        suf[i] = word[i] * pw[n - 1 - i] + suf[i + 1];
    int status = 0;
    for (Py_ssize_t i = 0; i <= n && status == 0; i++) {
        Py_ssize_t right = n - i;
        if (right) {
            /* deletion: left + right[1:] */
            if (filter_has(filter, hash_final(pre[i] * pw[right - 1] + suf[i + 1], n - 1))) {
                memcpy(buf, word, (size_t)i * sizeof(Py_UCS4));
                memcpy(buf + i, word + i + 1, (size_t)(right - 1) * sizeof(Py_UCS4));
                status = probe(buf, n - 1, two_byte, term, keys, out, NULL);
            }
            /* swap: left + right[1] + right[0] + right[2:] */
            if (status == 0 && right > 1 &&
                filter_has(filter, hash_final(pre[i] * pw[right] + word[i + 1] * pw[right - 1] +
                                              word[i] * pw[right - 2] + suf[i + 2], n))) {
                memcpy(buf, word, (size_t)n * sizeof(Py_UCS4));
                buf[i] = word[i + 1];
                buf[i + 1] = word[i];
                status = probe(buf, n, two_byte, term, keys, out, NULL);
            }
        }
        for (Py_ssize_t c = 0; c < m && status == 0; c++) {
            uint64_t ch = alphabet[c];
            /* insertion: left + ch + right */
            if (filter_has(filter, hash_final(pre[i] * pw[right + 1] + ch * pw[right] + suf[i], n + 1))) {
                memcpy(buf, word, (size_t)i * sizeof(Py_UCS4));
                buf[i] = alphabet[c];
                memcpy(buf + i + 1, word + i, (size_t)right * sizeof(Py_UCS4));
                status = probe(buf, n + 1, two_byte, term, keys, out, NULL);
            }
            /* substitution: left + ch + right[1:] */
            if (status == 0 && right &&
                filter_has(filter, hash_final(pre[i] * pw[right] + ch * pw[right - 1] + suf[i + 1], n))) {
                memcpy(buf, word, (size_t)n * sizeof(Py_UCS4));
                buf[i] = alphabet[c];
                status = probe(buf, n, two_byte, term, keys, out, NULL);
            }
        }
    }
    PyMem_Free(pre);
    return status;
}

static PyObject *known(PyObject *self, PyObject *args) {
    PyObject *term, *keys, *letters, *filter_obj = Py_None;
    if (!PyArg_ParseTuple(args, "UO!U|O", &term, &PyDict_Type, &keys, &letters, &filter_obj))
        return NULL;
    KeyFilter *filter = NULL;
    if (filter_obj != Py_None) {
        if (!PyObject_TypeCheck(filter_obj, &KeyFilterType)) {
            PyErr_SetString(PyExc_TypeError, "filter must be a KeyFilter or None");
            return NULL;
        }
        filter = (KeyFilter *)filter_obj;
        if (filter->keys != keys) {
            PyErr_SetString(PyExc_ValueError, "the filter follows another dict than keys");
            return NULL;
        }
        int ok = filter_update(filter);
        if (ok < 0)
            return NULL;
        if (!ok)
            filter = NULL; /* keys it cannot follow: every candidate is probed */
    }
    Py_UCS4 *word = PyUnicode_AsUCS4Copy(term);
    Py_UCS4 *alphabet = PyUnicode_AsUCS4Copy(letters);
    Py_ssize_t n = PyUnicode_GET_LENGTH(term), m = PyUnicode_GET_LENGTH(letters);
    Py_UCS4 *buf = PyMem_Malloc((size_t)(n + 2) * sizeof(Py_UCS4));
    PyObject *out = PyList_New(0);
    if (word == NULL || alphabet == NULL || buf == NULL || out == NULL) {
        if (buf == NULL)
            PyErr_NoMemory();
        goto fail;
    }
    int two_byte = 1;
    for (Py_ssize_t i = 0; i < n; i++)
        two_byte &= word[i] >= 0x100 && word[i] <= 0xFFFF;
    for (Py_ssize_t c = 0; c < m; c++)
        two_byte &= alphabet[c] >= 0x100 && alphabet[c] <= 0xFFFF;
    if (filter) {
        if (known_hashed(word, n, alphabet, m, buf, two_byte, term, keys, out, filter) < 0)
            goto fail;
        goto done;
    }
    for (Py_ssize_t i = 0; i <= n; i++) {
        /* buf = term[:i] + ... as edit1_variants' `left`. */
        memcpy(buf, word, (size_t)i * sizeof(Py_UCS4));
        Py_ssize_t right = n - i;
        if (right) {
            /* deletion: left + right[1:] */
            memcpy(buf + i, word + i + 1, (size_t)(right - 1) * sizeof(Py_UCS4));
            if (probe(buf, n - 1, two_byte, term, keys, out, filter) < 0)
                goto fail;
            if (right > 1) {  /* swap: left + right[1] + right[0] + right[2:] */
                buf[i] = word[i + 1];
                buf[i + 1] = word[i];
                memcpy(buf + i + 2, word + i + 2, (size_t)(right - 2) * sizeof(Py_UCS4));
                if (probe(buf, n, two_byte, term, keys, out, filter) < 0)
                    goto fail;
            }
        }
        for (Py_ssize_t c = 0; c < m; c++) {
            /* insertion: left + ch + right */
            buf[i] = alphabet[c];
            memcpy(buf + i + 1, word + i, (size_t)right * sizeof(Py_UCS4));
            if (probe(buf, n + 1, two_byte, term, keys, out, filter) < 0)
                goto fail;
            if (right) {  /* substitution: left + ch + right[1:] */
                memcpy(buf + i + 1, word + i + 1, (size_t)(right - 1) * sizeof(Py_UCS4));
                if (probe(buf, n, two_byte, term, keys, out, filter) < 0)
                    goto fail;
            }
        }
    }
done:
    PyMem_Free(word);
    PyMem_Free(alphabet);
    PyMem_Free(buf);
    return out;
fail:
    PyMem_Free(word);
    PyMem_Free(alphabet);
    PyMem_Free(buf);
    Py_XDECREF(out);
    return NULL;
}

/* --- one edit apart -------------------------------------------------------------------------- */

/* rerank.one_edit_apart in C (its specification; tests/test_native_edits.py checks one against the
 * other): whether b is one insertion, deletion, substitution (of any character) or swap of adjacent
 * characters away from a, code point by code point. The question's words are matched back to their
 * spelling variants this way, a few dozen pairs a question: a Python frame each cost ~0.5 µs. */
static int edit_apart(PyObject *a, PyObject *b) {
    Py_ssize_t na = PyUnicode_GET_LENGTH(a), nb = PyUnicode_GET_LENGTH(b);
    if (na - nb > 1 || nb - na > 1)
        return 0;
    if (na > nb) {
        PyObject *t = a;
        a = b;
        b = t;
        Py_ssize_t n = na;
        na = nb;
        nb = n;
    }
    int ka = PyUnicode_KIND(a), kb = PyUnicode_KIND(b);
    const void *da = PyUnicode_DATA(a), *db = PyUnicode_DATA(b);
#define A(i) PyUnicode_READ(ka, da, (i))
#define B(i) PyUnicode_READ(kb, db, (i))
    Py_ssize_t i = 0;
    while (i < na && A(i) == B(i))
        i++;
    if (na < nb) { /* b has one character more: a[i:] == b[i + 1:] */
        for (Py_ssize_t j = i; j < na; j++)
            if (A(j) != B(j + 1))
                return 0;
        return 1;
    }
    if (i == na) /* equal strings */
        return 0;
    Py_ssize_t j = i + 1;
    while (j < na && A(j) == B(j))
        j++;
    if (j == na) /* substitution: a[i + 1:] == b[i + 1:] */
        return 1;
    /* swap: a[i] == b[i + 1], a[i + 1] == b[i], a[i + 2:] == b[i + 2:] */
    if (!(i + 1 < na && A(i) == B(i + 1) && A(i + 1) == B(i)))
        return 0;
    for (Py_ssize_t k = i + 2; k < na; k++)
        if (A(k) != B(k))
            return 0;
    return 1;
#undef A
#undef B
}

static PyObject *one_edit_apart(PyObject *self, PyObject *args) {
    PyObject *a, *b;
    if (!PyArg_ParseTuple(args, "UU:one_edit_apart", &a, &b))
        return NULL;
    if (PyUnicode_READY(a) < 0 || PyUnicode_READY(b) < 0)
        return NULL;
    return PyBool_FromLong(edit_apart(a, b));
}

/* [v for v in variants if one_edit_apart(term, v)]: the variants of one question word, in one call. */
static PyObject *one_edit_of(PyObject *self, PyObject *args) {
    PyObject *term, *variants;
    if (!PyArg_ParseTuple(args, "UO!:one_edit_of", &term, &PyList_Type, &variants))
        return NULL;
    if (PyUnicode_READY(term) < 0)
        return NULL;
    PyObject *out = PyList_New(0);
    if (!out)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(variants); i++) {
        PyObject *v = PyList_GET_ITEM(variants, i);
        if (!PyUnicode_Check(v)) {
            PyErr_Format(PyExc_TypeError, "variants must be str, not %.100s", Py_TYPE(v)->tp_name);
            Py_DECREF(out);
            return NULL;
        }
        if (PyUnicode_READY(v) < 0 || (edit_apart(term, v) && PyList_Append(out, v) < 0)) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

static PyMethodDef methods[] = {
    {"known", known, METH_VARARGS,
     "known(term, keys, letters, filter=None) -> the distinct strings one edit away from term that are keys of"
     " the dict (filter: a KeyFilter of that dict, to skip most candidates that are not)."},
    {"one_edit_apart", one_edit_apart, METH_VARARGS,
     "one_edit_apart(a, b) -> whether b is one insertion, deletion, substitution or adjacent swap away from a."},
    {"one_edit_of", one_edit_of, METH_VARARGS,
     "one_edit_of(term, variants: list) -> the variants one edit away from term, in their order."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_edits", NULL, -1, methods};

PyMODINIT_FUNC PyInit__edits(void) {
    if (PyType_Ready(&KeyFilterType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    Py_INCREF(&KeyFilterType);
    if (PyModule_AddObject(m, "KeyFilter", (PyObject *)&KeyFilterType) < 0) {
        Py_DECREF(&KeyFilterType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
