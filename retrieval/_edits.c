/* Spelling variants in C: `variants.edit1_variants` filtered through a dict, without building the
 * Python set of several hundred candidate strings first (retrieval/variants.py is the specification).
 *
 * `known(term, keys, letters)` returns the distinct strings one edit away from `term` (a deletion, a
 * swap of two adjacent characters, an insertion or substitution of one of `letters`), other than
 * `term` itself, that are keys of the dict `keys`, in the order first generated. Each candidate is
 * built in one reused buffer and probed as a string.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Probe buf[0:len] in `keys`; append it to `out` if present and new. -1 on error.
 *
 * `two_byte`: every character of the term and of the letters is in U+0100..U+FFFF (Arabic), so every
 * candidate is too, and is written straight into a 2-byte string, its canonical form; otherwise
 * PyUnicode_FromKindAndData scans the candidate for its narrowest form. */
static int probe(Py_UCS4 *buf, Py_ssize_t len, int two_byte, PyObject *term, PyObject *keys, PyObject *out) {
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

static PyObject *known(PyObject *self, PyObject *args) {
    PyObject *term, *keys, *letters;
    if (!PyArg_ParseTuple(args, "UO!U", &term, &PyDict_Type, &keys, &letters))
        return NULL;
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
    for (Py_ssize_t i = 0; i <= n; i++) {
        /* buf = term[:i] + ... as edit1_variants' `left`. */
        memcpy(buf, word, (size_t)i * sizeof(Py_UCS4));
        Py_ssize_t right = n - i;
        if (right) {
            /* deletion: left + right[1:] */
            memcpy(buf + i, word + i + 1, (size_t)(right - 1) * sizeof(Py_UCS4));
            if (probe(buf, n - 1, two_byte, term, keys, out) < 0)
                goto fail;
            if (right > 1) {  /* swap: left + right[1] + right[0] + right[2:] */
                buf[i] = word[i + 1];
                buf[i + 1] = word[i];
                memcpy(buf + i + 2, word + i + 2, (size_t)(right - 2) * sizeof(Py_UCS4));
                if (probe(buf, n, two_byte, term, keys, out) < 0)
                    goto fail;
            }
        }
        for (Py_ssize_t c = 0; c < m; c++) {
            /* insertion: left + ch + right */
            buf[i] = alphabet[c];
            memcpy(buf + i + 1, word + i, (size_t)right * sizeof(Py_UCS4));
            if (probe(buf, n + 1, two_byte, term, keys, out) < 0)
                goto fail;
            if (right) {  /* substitution: left + ch + right[1:] */
                memcpy(buf + i + 1, word + i + 1, (size_t)(right - 1) * sizeof(Py_UCS4));
                if (probe(buf, n, two_byte, term, keys, out) < 0)
                    goto fail;
            }
        }
    }
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

static PyMethodDef methods[] = {
    {"known", known, METH_VARARGS,
     "known(term, keys, letters) -> the distinct strings one edit away from term that are keys of the dict."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_edits", NULL, -1, methods};

PyMODINIT_FUNC PyInit__edits(void) { return PyModule_Create(&module); }
