/* Where an excerpt is cut (retrieval/excerpts.py's `_place` is the specification; tests/test_excerpts.py
 * checks this against it).
 *
 * `place(text, matches, max_chars) -> (excerpt, spans)`: given the matched words of `text` as
 * (start, end, term) tuples in text order, the window of at most max_chars characters over the
 * densest run of matches (most distinct terms, then most matches, the first such run), widened
 * to centre them, moved inward to word boundaries, stripped, with an ellipsis at a cut end; and
 * the spans of the matches inside it, shifted to the excerpt's offsets. Every step is the
 * Python's: floor division, `str.isspace`, `str.strip` (Py_UNICODE_ISSPACE), `find(" ")`.
 *
 * An answer shows three excerpts; in Python the placement cost ~20 us a passage, as much as
 * finding the matched words in C (Chain.matches).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define ELLIPSIS 0x2026

typedef struct {
    Py_ssize_t start, end;
    PyObject *term; /* borrowed from the matches list */
} Match;

/* Python's floor division for a positive divisor. */
static inline Py_ssize_t floor_div(Py_ssize_t a, Py_ssize_t b) {
    Py_ssize_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* How many distinct terms matches[i..j] hold (a window holds a few dozen at most). */
static int distinct_terms(const Match *m, Py_ssize_t i, Py_ssize_t j, Py_ssize_t *out) {
    Py_ssize_t count = 0;
    for (Py_ssize_t a = i; a <= j; a++) {
        int seen = 0;
        for (Py_ssize_t b = i; b < a && !seen; b++) {
            int eq = m[b].term == m[a].term ? 1 : PyObject_RichCompareBool(m[b].term, m[a].term, Py_EQ);
            if (eq < 0)
                return -1;
            seen = eq;
        }
        count += !seen;
    }
    *out = count;
    return 0;
}

static PyObject *spans_of(const Match *m, Py_ssize_t n, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t shift) {
    Py_ssize_t count = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        count += m[i].start >= lo && m[i].end <= hi;
    PyObject *spans = PyTuple_New(count);
    if (!spans)
        return NULL;
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!(m[i].start >= lo && m[i].end <= hi))
            continue;
        PyObject *span = Py_BuildValue("(nn)", m[i].start + shift, m[i].end + shift);
        if (!span) {
            Py_DECREF(spans);
            return NULL;
        }
        PyTuple_SET_ITEM(spans, k++, span);
    }
    return spans;
}

static PyObject *place(PyObject *self, PyObject *args) {
    PyObject *text, *matches_obj;
    Py_ssize_t max_chars;
    if (!PyArg_ParseTuple(args, "UOn", &text, &matches_obj, &max_chars))
        return NULL;
    PyObject *fast = PySequence_Fast(matches_obj, "matches must be a sequence of (start, end, term) tuples");
    if (!fast)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast), len = PyUnicode_GET_LENGTH(text);
    PyObject *result = NULL, *spans = NULL, *cut = NULL, *body = NULL;
    Match *m = PyMem_Malloc((n ? (size_t)n : 1) * sizeof(Match));
    if (!m) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3) {
            PyErr_Format(PyExc_TypeError, "match %zd must be a (start, end, term) tuple", i);
            goto out;
        }
        m[i].start = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 0));
        m[i].end = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 1));
        m[i].term = PyTuple_GET_ITEM(item, 2);
        if ((m[i].start == -1 || m[i].end == -1) && PyErr_Occurred())
            goto out;
    }
    if (max_chars < 0) {
        PyErr_Format(PyExc_ValueError, "max_chars must be >= 0, not %zd", max_chars);
        goto out;
    }
    if (len <= max_chars) {
        spans = spans_of(m, n, PY_SSIZE_T_MIN, PY_SSIZE_T_MAX, 0);
        if (spans)
            result = PyTuple_Pack(2, text, spans);
        goto out;
    }
    /* The best window: most distinct terms, then most matches; the first of equals. */
    Py_ssize_t best_distinct = 0, best_count = 0, best_i = 0, best_j = 0, j = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (j < i)
            j = i;
        while (j + 1 < n && m[j + 1].end - m[i].start <= max_chars)
            j++;
        Py_ssize_t distinct, count = j - i + 1;
        if (distinct_terms(m, i, j, &distinct) < 0)
            goto out;
        if (distinct > best_distinct || (distinct == best_distinct && count > best_count)) {
            best_distinct = distinct;
            best_count = count;
            best_i = i;
            best_j = j;
        }
    }
    Py_ssize_t start = 0;
    if (n) {
        Py_ssize_t used = m[best_j].end - m[best_i].start;
        start = m[best_i].start - floor_div(max_chars - used, 2);
        if (start < 0)
            start = 0;
    }
    Py_ssize_t end = start + max_chars < len ? start + max_chars : len;
    start = end - max_chars > 0 ? end - max_chars : 0;
    /* _word_bounds: the cut points moved inward so no word is cut in half. */
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    if (start > 0 && !Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, start - 1))) {
        for (Py_ssize_t p = start; p < len; p++) {
            if (PyUnicode_READ(kind, data, p) == ' ') {
                if (p < end)
                    start = p + 1;
                break;
            }
        }
    }
    if (end < len && !Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, end))) {
        for (Py_ssize_t p = end - 1; p >= start; p--) {
            if (PyUnicode_READ(kind, data, p) == ' ') {
                if (p > start)
                    end = p;
                break;
            }
        }
    }
    /* text[start:end].strip(), and how much its left end moved */
    Py_ssize_t lo = start, hi = end;
    while (lo < hi && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, lo)))
        lo++;
    while (hi > lo && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, hi - 1)))
        hi--;
    int prefix = start > 0, suffix = end < len;
    body = PyUnicode_Substring(text, lo, hi);
    if (!body)
        goto out;
    if (prefix || suffix) {
        Py_UCS4 widest = PyUnicode_MAX_CHAR_VALUE(body) > ELLIPSIS ? PyUnicode_MAX_CHAR_VALUE(body) : ELLIPSIS;
        Py_ssize_t size = PyUnicode_GET_LENGTH(body);
        cut = PyUnicode_New(size + prefix + suffix, widest);
        if (!cut)
            goto out;
        if (prefix)
            PyUnicode_WRITE(PyUnicode_KIND(cut), PyUnicode_DATA(cut), 0, ELLIPSIS);
        if (PyUnicode_CopyCharacters(cut, prefix, body, 0, size) < 0)
            goto out;
        if (suffix)
            PyUnicode_WRITE(PyUnicode_KIND(cut), PyUnicode_DATA(cut), prefix + size, ELLIPSIS);
    } else {
        cut = body;
        Py_INCREF(cut);
    }
    /* shift = len(prefix) - start - (leading whitespace of text[start:end]) */
    spans = spans_of(m, n, start, end, prefix - start - (lo - start));
    if (spans)
        result = PyTuple_Pack(2, cut, spans);
out:
    PyMem_Free(m);
    Py_DECREF(fast);
    Py_XDECREF(spans);
    Py_XDECREF(cut);
    Py_XDECREF(body);
    return result;
}

/* --- objects of slots dataclasses ------------------------------------------------------------ */

/* fill(type, fields, values) -> an instance of `type` whose slots `fields` (their member descriptors,
 * in order) hold `values`: what the dataclass's generated __init__ does for a slots dataclass without
 * __post_init__ or defaults computed in it, without a Python frame and an attribute lookup per field
 * (a frozen one's __init__ calls object.__setattr__ once a field: ~1.5 µs for a 13-field `Hit`, and an
 * answer makes a few such objects after ranking has left the caches cold). `slotfill.maker` (retrieval/slotfill.py) checks the
 * class once, when it makes the function. */
static PyObject *fill(PyObject *self, PyObject *args) {
    PyTypeObject *type;
    PyObject *fields, *values;
    if (!PyArg_ParseTuple(args, "O!O!O!:fill", &PyType_Type, &type, &PyTuple_Type, &fields, &PyTuple_Type, &values))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(fields);
    if (PyTuple_GET_SIZE(values) != n) {
        PyErr_Format(PyExc_TypeError, "%.100s takes %zd values, not %zd", type->tp_name, n, PyTuple_GET_SIZE(values));
        return NULL;
    }
    PyObject *obj = type->tp_alloc(type, 0);
    if (!obj)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *d = PyTuple_GET_ITEM(fields, i);
        descrsetfunc set = Py_TYPE(d)->tp_descr_set;
        if (!set) {
            PyErr_Format(PyExc_TypeError, "field %zd of %.100s is not a slot", i, type->tp_name);
            Py_DECREF(obj);
            return NULL;
        }
        if (set(d, obj, PyTuple_GET_ITEM(values, i)) < 0) {
            Py_DECREF(obj);
            return NULL;
        }
    }
    return obj;
}

static PyMethodDef module_methods[] = {
    {"place", place, METH_VARARGS,
     "place(text, matches, max_chars) -> (excerpt, spans): excerpts._place in C."},
    {"fill", fill, METH_VARARGS,
     "fill(type, fields, values) -> an instance of a slots class with its slot descriptors `fields` set to `values`."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_excerpt", .m_doc = "Where an excerpt is cut, in C.", .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__excerpt(void) {
    return PyModule_Create(&module);
}
