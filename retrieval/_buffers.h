/* Arguments of the C extensions (retrieval/_topk.c, retrieval/_rerank.c): one-dimensional C-contiguous
 * numpy arrays of a given kind and item size, refused with an error naming the argument; and a question's
 * terms, (id, weight) pairs whose postings are checked to lie within the index. */
#ifndef NEWSBOT_BUFFERS_H
#define NEWSBOT_BUFFERS_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

static int little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* Whether a buffer's format is one value of the wanted kind ('i' signed, 'u' unsigned, 'f' float). */
static int format_is(const char *fmt, char kind) {
    if (fmt == NULL)
        fmt = "B";
    if (*fmt == '@' || *fmt == '=' || (*fmt == '<' && little_endian()))
        fmt++;
    if (fmt[0] == '\0' || fmt[1] != '\0')
        return 0;
    if (kind == 'u')
        return strchr("BHILQ", fmt[0]) != NULL;
    return kind == 'i' ? strchr("bhilq", fmt[0]) != NULL : strchr("fd", fmt[0]) != NULL;
}

/* A one-dimensional C-contiguous array of `kind` and `itemsize`, or -1 with TypeError/ValueError
 * naming the argument. */
static int get_array(PyObject *obj, Py_buffer *view, const char *name, char kind, Py_ssize_t itemsize,
                     int writable) {
    const char *type = kind == 'u'   ? "uint32"
                       : kind == 'i' ? (itemsize == 4 ? "int32" : "int64")
                                     : (itemsize == 4 ? "float32" : "float64");
    if (PyObject_GetBuffer(obj, view, (writable ? PyBUF_WRITABLE : 0) | PyBUF_RECORDS_RO) < 0) {
        PyErr_Clear();
        if (writable && PyObject_CheckBuffer(obj))
            PyErr_Format(PyExc_ValueError, "%s must be a writable, contiguous %s array", name, type);
        else
            PyErr_Format(PyExc_TypeError, "%s must be a contiguous %s array, not %.100s", name, type,
                         Py_TYPE(obj)->tp_name);
        return -1;
    }
    const char *problem = NULL;
    if (view->ndim != 1)
        problem = "one-dimensional";
    else if (view->itemsize != itemsize || !format_is(view->format, kind))
        problem = type;
    else if (!PyBuffer_IsContiguous(view, 'C'))
        problem = "contiguous";
    if (problem) {
        PyErr_Format(PyExc_ValueError, "%s must be a %s array (got format %s, %d dimensions, item size %zd)", name,
                     problem == type ? type : problem, view->format ? view->format : "B", view->ndim,
                     view->itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* A one-dimensional contiguous array of one byte an item, bool or uint8 (`name` in the error). */
static inline int get_marks(PyObject *obj, Py_buffer *view, const char *name) {
    if (PyObject_GetBuffer(obj, view, PyBUF_RECORDS_RO) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s must be a contiguous bool array, not %.100s", name, Py_TYPE(obj)->tp_name);
        return -1;
    }
    const char *fmt = view->format ? view->format : "B";
    if (*fmt == '@' || *fmt == '=' || *fmt == '<' || *fmt == '|')
        fmt++;
    if (view->ndim != 1 || view->itemsize != 1 || !(strcmp(fmt, "?") == 0 || strcmp(fmt, "B") == 0) ||
        !PyBuffer_IsContiguous(view, 'C')) {
        PyErr_Format(PyExc_ValueError, "%s must be a one-dimensional contiguous bool array (got format %s)", name,
                     view->format ? view->format : "B");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* One array of a view's tuple: its name (in errors), kind ('i', 'f', or '?' for one byte an item) and item
 * size. */
typedef struct {
    const char *name;
    char kind;
    Py_ssize_t size;
} ArraySpec;

/* The first `n` members of the tuple `item` (a view's arrays, as retrieval/segments.py hands them over) into
 * bufs[i] as spec[i] says, held[i] set for each one read. A member whose bit is set in `optional` may be
 * None, and is then skipped. Member `impacts` holds uint32 codes instead of spec's kind when member `table`
 * is not None (a segment's impact table). 0, or -1 with the error set; the caller releases what is held. */
static inline int get_view_arrays(PyObject *item, Py_buffer *bufs, int *held, const ArraySpec *spec, int n,
                                  unsigned optional, int impacts, int table) {
    int coded = PyTuple_GET_ITEM(item, table) != Py_None;
    for (int i = 0; i < n; i++) {
        PyObject *obj = PyTuple_GET_ITEM(item, i);
        if ((optional >> i & 1u) && obj == Py_None)
            continue;
        int bad = spec[i].kind == '?' ? get_marks(obj, &bufs[i], spec[i].name)
                                      : get_array(obj, &bufs[i], spec[i].name,
                                                  i == impacts && coded ? 'u' : spec[i].kind, spec[i].size, 0);
        if (bad < 0)
            return -1;
        held[i] = 1;
    }
    return 0;
}

/* The i-th (term id, weight) of two sequences made by PySequence_Fast: 0, or -1 with the error set. */
static int read_term(PyObject *ids, PyObject *ws, Py_ssize_t i, Py_ssize_t *tid, double *w) {
    *tid = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(ids, i));
    if (*tid == -1 && PyErr_Occurred())
        return -1;
    *w = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(ws, i));
    if (*w == -1.0 && PyErr_Occurred())
        return -1;
    return 0;
}

/* The postings [lo, hi) of term `tid` in CSR `offsets` over `vocab` terms and `n_postings` postings: 0, or
 * -1 with a ValueError naming what lies outside the index (a bad term id, or damaged offsets). */
static int term_range(Py_ssize_t tid, Py_ssize_t vocab, const int64_t *offsets, Py_ssize_t n_postings, int64_t *lo,
                      int64_t *hi) {
    if (tid < 0 || tid >= vocab) {
        PyErr_Format(PyExc_ValueError, "term id %zd is outside the vocabulary (%zd terms)", tid, vocab);
        return -1;
    }
    *lo = offsets[tid];
    *hi = offsets[tid + 1];
    if (*lo < 0 || *hi < *lo || *hi > n_postings) {
        PyErr_Format(PyExc_ValueError, "offsets of term %zd (%lld..%lld) are outside the %zd postings", tid,
                     (long long)*lo, (long long)*hi, n_postings);
        return -1;
    }
    return 0;
}

#endif
