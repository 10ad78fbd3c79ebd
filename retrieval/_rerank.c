/* The per-passage part of `rerank.rerank_parts` in C (retrieval/rerank.py's numpy version is the
 * specification).
 *
 * `evidence(offsets, doc_ids, impacts, table, idf, order, start, end, ordinal, leaders, term_ids, weights,
 * words, lead_boost, out_best, out_boosted, out_plain, out_credit, out_article, out_missing)` looks at
 * every passage of the articles whose best passages `leaders` are (one index: the base or a segment)
 * and writes, per leader g (in the order given) and per question word i:
 *
 *   - out_best[g]: the article's passage with the highest boosted score (the first in reading order
 *     among equals), out_boosted[g] its boosted score, out_plain[g] its plain score;
 *   - out_credit[g, i]: the credit word i gets in that passage (its best match present there),
 *     out_article[g, i] the best credit anywhere in the article, out_missing[g, i] = max(article -
 *     passage, 0): what the Python side takes its dot products of (numpy's, through BLAS, so that
 *     every float is the one the numpy version makes);
 *
 * and returns how many passages those articles hold. Scores are formed as the numpy version forms
 * them, so they are bit-identical: a passage's score is `sum + (double)impact * factor` from 0.0,
 * one term after the other in the order of `term_ids`, with `factor = weight * idf[tid]` in double,
 * an absent term adding `0.0 * factor`, a term with no postings in this index or a weight of 0
 * adding nothing; the lead passage's is multiplied by 1 + lead_boost. The module is compiled with
 * -ffp-contract=off so that no sum is fused into one rounding (an FMA).
 *
 * With `out_unit` (float64, one entry per word) it also writes each word's best match's factor
 * (`weight * idf[tid]`, the first of the highest in the matches' order; 0.0 without matches): the
 * numpy version's `unit`.
 *
 * `words` holds, per question word, its (index into term_ids, credit) pairs. Nothing from the index
 * is trusted: term ids, offsets, layout entries and the impact codes read are checked before use
 * (ValueError).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_buffers.h"

typedef struct {
    const int32_t *docs;
    Py_ssize_t len;
    Py_ssize_t base;    /* offset of the term's first posting (into impacts or codes) */
    double factor;
    int scored;         /* weight != 0: the term adds to scores (else it only gives credit) */
} Term;

/* First position in docs[lo:hi] holding a passage >= p (docs sorted; hi if none). */
static inline Py_ssize_t bisect(const int32_t *docs, Py_ssize_t lo, Py_ssize_t hi, int32_t p) {
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (docs[mid] < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First position in docs[from:len] holding a passage >= p, galloping from `from` (the position
 * found for the previous, smaller passage of the same article). */
static inline Py_ssize_t seek(const int32_t *docs, Py_ssize_t len, Py_ssize_t from, int32_t p) {
    Py_ssize_t lo = from, step = 1, hi = from;
    while (hi < len && docs[hi] < p) {
        lo = hi + 1;
        hi += step;
        step <<= 1;
    }
    if (hi > len)
        hi = len;
    return bisect(docs, lo, hi, p);
}

/* First position in docs[0:len] holding a passage >= p. Passage numbers are spread about evenly
 * over a long list, so the search starts where p would sit if they were exactly even and gallops
 * from there: a few probes where a binary search from the start took ~17, each a cache miss. */
static inline Py_ssize_t guess_of(const int32_t *docs, Py_ssize_t len, int32_t p) {
    Py_ssize_t guess = (Py_ssize_t)((double)(p - docs[0]) / ((double)docs[len - 1] - docs[0] + 1.0) * (double)len);
    return guess < 1 ? 1 : guess > len - 1 ? len - 1 : guess;
}

static inline Py_ssize_t locate(const int32_t *docs, Py_ssize_t len, int32_t p) {
    if (len == 0 || docs[0] >= p)
        return 0;
    if (docs[len - 1] < p)
        return len;
    Py_ssize_t guess = guess_of(docs, len, p);
    if (docs[guess] < p)
        return seek(docs, len, guess + 1, p);
    Py_ssize_t hi = guess, lo = 0, step = 1;
    for (;;) { /* docs[hi] >= p: gallop back to a passage below p (docs[0] is one) */
        Py_ssize_t probe = hi - step;
        if (probe <= 0)
            break;
        if (docs[probe] < p) {
            lo = probe + 1;
            break;
        }
        hi = probe;
        step <<= 1;
    }
    return bisect(docs, lo, hi, p);
}

enum { B_OFFSETS, B_DOCS, B_IMPACTS, B_TABLE, B_IDF, B_ORDER, B_START, B_END, B_ORDINAL, B_BEST, B_BOOSTED,
       B_PLAIN, B_CREDIT, B_ARTICLE, B_MISSING, N_BUFFERS };

static PyObject *evidence(PyObject *self, PyObject *args) {
    PyObject *objs[N_BUFFERS], *leaders_obj, *term_ids, *weights, *words, *unit_obj = Py_None;
    double lead_boost;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOOdOOOOOO|O", &objs[B_OFFSETS], &objs[B_DOCS], &objs[B_IMPACTS],
                          &objs[B_TABLE], &objs[B_IDF], &objs[B_ORDER], &objs[B_START], &objs[B_END],
                          &objs[B_ORDINAL], &leaders_obj, &term_ids, &weights, &words, &lead_boost, &objs[B_BEST],
                          &objs[B_BOOSTED], &objs[B_PLAIN], &objs[B_CREDIT], &objs[B_ARTICLE], &objs[B_MISSING],
                          &unit_obj))
        return NULL;
    Py_buffer unit_view;
    int unit_held = 0;
    static const struct {
        const char *name;
        char kind;
        Py_ssize_t size;
        int writable;
    } spec[N_BUFFERS] = {
        {"offsets", 'i', 8, 0}, {"doc_ids", 'i', 4, 0},   {"impacts", 'f', 4, 0},    {"table", 'f', 4, 0},
        {"idf", 'f', 8, 0},     {"order", 'i', 4, 0},     {"start", 'i', 4, 0},      {"end", 'i', 4, 0},
        {"ordinal", 'i', 4, 0}, {"out_best", 'i', 8, 1},  {"out_boosted", 'f', 8, 1}, {"out_plain", 'f', 8, 1},
        {"out_credit", 'f', 8, 1}, {"out_article", 'f', 8, 1}, {"out_missing", 'f', 8, 1},
    };
    Py_buffer views[N_BUFFERS];
    int held[N_BUFFERS] = {0};
    PyObject *result = NULL, *ids = NULL, *ws = NULL, *wds = NULL, *lds = NULL;
    Term *terms = NULL;
    Py_ssize_t *pos = NULL, *match_term = NULL, *word_first = NULL;
    double *match_credit = NULL, *scores = NULL, *credit = NULL, *best_credit = NULL;
    int32_t *passages = NULL;
    for (int i = 0; i < N_BUFFERS; i++) {
        if (i == B_TABLE && objs[i] == Py_None)
            continue;
        /* with a table, `impacts` holds uint32 codes into it */
        char kind = i == B_IMPACTS && objs[B_TABLE] != Py_None ? 'u' : spec[i].kind;
        if (get_array(objs[i], &views[i], spec[i].name, kind, spec[i].size, spec[i].writable) < 0)
            goto out;
        held[i] = 1;
    }
    const int64_t *offsets = views[B_OFFSETS].buf;
    const int32_t *doc_ids = views[B_DOCS].buf;
    const float *impacts = views[B_IMPACTS].buf;
    const uint32_t *codes = held[B_TABLE] ? views[B_IMPACTS].buf : NULL;
    const float *table = held[B_TABLE] ? views[B_TABLE].buf : NULL;
    const double *idf = views[B_IDF].buf;
    const int32_t *order = views[B_ORDER].buf, *start = views[B_START].buf, *end = views[B_END].buf,
                  *ordinal = views[B_ORDINAL].buf;
    Py_ssize_t vocab = views[B_OFFSETS].shape[0] - 1, n_postings = views[B_DOCS].shape[0];
    Py_ssize_t n_passages = views[B_ORDER].shape[0], n_table = held[B_TABLE] ? views[B_TABLE].shape[0] : 0;
    if (views[B_IMPACTS].shape[0] != n_postings) {
        PyErr_Format(PyExc_ValueError, "impacts has %zd entries, doc_ids %zd", views[B_IMPACTS].shape[0], n_postings);
        goto out;
    }
    if (vocab < 0 || views[B_IDF].shape[0] < vocab) {
        PyErr_Format(PyExc_ValueError, "idf (%zd entries) must cover the %zd terms of offsets", views[B_IDF].shape[0],
                     vocab);
        goto out;
    }
    if (views[B_START].shape[0] != n_passages || views[B_END].shape[0] != n_passages ||
        views[B_ORDINAL].shape[0] != n_passages) {
        PyErr_SetString(PyExc_ValueError, "order, start, end and ordinal must have one entry per passage");
        goto out;
    }
    lds = PySequence_Fast(leaders_obj, "leaders must be a sequence of ints");
    ids = lds ? PySequence_Fast(term_ids, "term_ids must be a sequence of ints") : NULL;
    ws = ids ? PySequence_Fast(weights, "weights must be a sequence of floats") : NULL;
    wds = ws ? PySequence_Fast(words, "words must be a sequence of sequences of (term index, credit)") : NULL;
    if (!wds)
        goto out;
    Py_ssize_t n_leaders = PySequence_Fast_GET_SIZE(lds), nt = PySequence_Fast_GET_SIZE(ids);
    Py_ssize_t n_words = PySequence_Fast_GET_SIZE(wds);
    if (PySequence_Fast_GET_SIZE(ws) != nt) {
        PyErr_Format(PyExc_ValueError, "term_ids has %zd entries, weights %zd", nt, PySequence_Fast_GET_SIZE(ws));
        goto out;
    }
    if (views[B_BEST].shape[0] != n_leaders || views[B_BOOSTED].shape[0] != n_leaders ||
        views[B_PLAIN].shape[0] != n_leaders || views[B_CREDIT].shape[0] != n_leaders * n_words ||
        views[B_ARTICLE].shape[0] != n_leaders * n_words || views[B_MISSING].shape[0] != n_leaders * n_words) {
        PyErr_Format(PyExc_ValueError, "the outputs need %zd entries (leaders) and %zd (leaders x words)", n_leaders,
                     n_leaders * n_words);
        goto out;
    }
    terms = PyMem_Malloc((nt ? nt : 1) * sizeof(Term));
    word_first = PyMem_Malloc((n_words + 1) * sizeof(Py_ssize_t));
    if (!terms || !word_first) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < nt; i++) {
        Py_ssize_t tid;
        double w;
        int64_t lo, hi;
        if (read_term(ids, ws, i, &tid, &w) < 0 || term_range(tid, vocab, offsets, n_postings, &lo, &hi) < 0)
            goto out;
        /* as numpy's `np.float64(w) * idf[tid]`; `if w:` in the numpy version (NaN is truthy) */
        terms[i] = (Term){doc_ids + lo, (Py_ssize_t)(hi - lo), (Py_ssize_t)lo, w * idf[tid], w != 0.0};
    }
    /* The (term, credit) pairs of every word, flattened. */
    Py_ssize_t n_matches = 0;
    for (Py_ssize_t i = 0; i < n_words; i++) {
        PyObject *m = PySequence_Fast_GET_ITEM(wds, i);
        Py_ssize_t size = PySequence_Size(m);
        if (size < 0)
            goto out;
        n_matches += size;
    }
    match_term = PyMem_Malloc((n_matches ? n_matches : 1) * sizeof(Py_ssize_t));
    match_credit = PyMem_Malloc((n_matches ? n_matches : 1) * sizeof(double));
    if (!match_term || !match_credit) {
        PyErr_NoMemory();
        goto out;
    }
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < n_words; i++) {
        word_first[i] = at;
        PyObject *m = PySequence_Fast(PySequence_Fast_GET_ITEM(wds, i), "a word's matches must be a sequence");
        if (!m)
            goto out;
        Py_ssize_t size = PySequence_Fast_GET_SIZE(m);
        for (Py_ssize_t j = 0; j < size && at < n_matches; j++, at++) {
            Py_ssize_t k;
            double c;
            if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(m, j), "nd", &k, &c)) {
                Py_DECREF(m);
                goto out;
            }
            if (k < 0 || k >= nt) {
                PyErr_Format(PyExc_ValueError, "a match refers to term %zd of %zd", k, nt);
                Py_DECREF(m);
                goto out;
            }
            match_term[at] = k;
            match_credit[at] = c;
        }
        Py_DECREF(m);
    }
    word_first[n_words] = at;
    if (unit_obj != Py_None) {
        /* out_unit[i]: what word i adds at one occurrence, its best match's factor (weight × idf), as
         * the numpy version's `max((weights.get(tid, 0.0) * float(idf[tid]) for ...), default=0.0)`:
         * the first of the highest in the matches' order, 0.0 for a word without matches. */
        if (get_array(unit_obj, &unit_view, "out_unit", 'f', 8, 1) < 0)
            goto out;
        unit_held = 1;
        if (unit_view.shape[0] != n_words) {
            PyErr_Format(PyExc_ValueError, "out_unit has %zd entries, words %zd", unit_view.shape[0], n_words);
            goto out;
        }
        double *unit = unit_view.buf;
        for (Py_ssize_t i = 0; i < n_words; i++) {
            double most = 0.0;
            for (Py_ssize_t m = word_first[i]; m < word_first[i + 1]; m++) {
                double x = terms[match_term[m]].factor;
                if (m == word_first[i] || x > most)
                    most = x;
            }
            unit[i] = most;
        }
    }
    /* Every leader's article: its passages in reading order. */
    Py_ssize_t total = 0;
    for (Py_ssize_t g = 0; g < n_leaders; g++) {
        Py_ssize_t leader = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(lds, g));
        if (leader == -1 && PyErr_Occurred())
            goto out;
        if (leader < 0 || leader >= n_passages || start[leader] < 0 || end[leader] <= start[leader] ||
            end[leader] > n_passages) {
            PyErr_Format(PyExc_ValueError, "leader %zd is outside the layout's %zd passages", leader, n_passages);
            goto out;
        }
        total += end[leader] - start[leader];
    }
    passages = PyMem_Malloc((total ? total : 1) * sizeof(int32_t));
    pos = PyMem_Malloc((nt ? nt : 1) * sizeof(Py_ssize_t));
    scores = PyMem_Malloc((total ? total : 1) * sizeof(double));
    /* credit[j * n_words + i]: word i's credit in passage j */
    credit = PyMem_Calloc(total * n_words > 0 ? (size_t)(total * n_words) : 1, sizeof(double));
    best_credit = PyMem_Malloc((n_words ? n_words : 1) * sizeof(double));
    if (!passages || !pos || !scores || !credit || !best_credit) {
        PyErr_NoMemory();
        goto out;
    }
    int64_t *out_best = views[B_BEST].buf;
    double *out_boosted = views[B_BOOSTED].buf, *out_plain = views[B_PLAIN].buf;
    double *out_credit = views[B_CREDIT].buf, *out_article = views[B_ARTICLE].buf,
           *out_missing = views[B_MISSING].buf;
    /* Where each article's first passage sits in each term's list, asked of the memory for all at once:
     * the lists of common words are long, and one by one each article cost a few cache misses per term. */
    for (Py_ssize_t g = 0; g < n_leaders; g++) {
        Py_ssize_t leader = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(lds, g));
        if (end[leader] == start[leader])
            continue;
        int32_t p = order[start[leader]];
        for (Py_ssize_t t = 0; t < nt; t++)
            if (terms[t].len > 1) {
                Py_ssize_t q = guess_of(terms[t].docs, terms[t].len, p);
                __builtin_prefetch(terms[t].docs + q);
                __builtin_prefetch(codes ? (const void *)(codes + terms[t].base + q) : (const void *)(impacts + terms[t].base + q));
            }
    }
    Py_ssize_t j0 = 0;
    for (Py_ssize_t g = 0; g < n_leaders; g++) {
        Py_ssize_t leader = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(lds, g));
        Py_ssize_t size = end[leader] - start[leader];
        for (Py_ssize_t j = 0; j < size; j++) {
            int32_t p = order[start[leader] + j];
            if (p < 0 || p >= n_passages) {
                PyErr_Format(PyExc_ValueError, "the layout names passage %d, outside the %zd passages", (int)p,
                             n_passages);
                goto out;
            }
            passages[j0 + j] = p;
            scores[j0 + j] = 0.0;
        }
        for (Py_ssize_t j = 0; j < size; j++) {
            int32_t p = passages[j0 + j];
            double *c = credit + (j0 + j) * n_words;
            for (Py_ssize_t t = 0; t < nt; t++) {
                const Term *term = &terms[t];
                if (term->len == 0) /* a term only other segments hold: absent here, adds nothing */
                    continue;
                /* an article's passages are ascending: the next one is searched for from the last one's
                 * place (a new search if they are not, in a damaged layout) */
                Py_ssize_t q = j && passages[j0 + j - 1] <= p ? seek(term->docs, term->len, pos[t], p)
                                                              : locate(term->docs, term->len, p);
                pos[t] = q;
                int hit = q < term->len && term->docs[q] == p;
                if (term->scored) {
                    double imp = 0.0;
                    if (hit && codes) {
                        uint32_t code = codes[term->base + q];
                        if (code >= (uint64_t)n_table) {
                            PyErr_Format(PyExc_ValueError, "an impact code (%u) is outside the table (%zd entries)",
                                         code, n_table);
                            goto out;
                        }
                        imp = (double)table[code];
                    } else if (hit) {
                        imp = (double)impacts[term->base + q];
                    }
                    scores[j0 + j] += imp * term->factor;
                }
                if (hit)
                    /* credit: the best of the matches of each word this term stands for */
                    for (Py_ssize_t i = 0; i < n_words; i++)
                        for (Py_ssize_t m = word_first[i]; m < word_first[i + 1]; m++)
                            if (match_term[m] == t && match_credit[m] > c[i])
                                c[i] = match_credit[m];
            }
        }
        /* The best passage: the first among the highest boosted scores. */
        Py_ssize_t best = 0;
        double top = 0.0;
        for (Py_ssize_t j = 0; j < size; j++) {
            double s = scores[j0 + j];
            double boosted = ordinal[passages[j0 + j]] == 0 ? s * (1.0 + lead_boost) : s;
            if (j == 0 || boosted > top) {
                top = boosted;
                best = j;
            }
        }
        out_best[g] = passages[j0 + best];
        out_boosted[g] = top;
        out_plain[g] = scores[j0 + best];
        memcpy(best_credit, credit + (j0 + best) * n_words, n_words * sizeof(double));
        for (Py_ssize_t i = 0; i < n_words; i++) {
            double most = credit[j0 * n_words + i];
            for (Py_ssize_t j = 1; j < size; j++) {
                double c = credit[(j0 + j) * n_words + i];
                if (c > most)
                    most = c;
            }
            double gap = most - best_credit[i];
            out_credit[g * n_words + i] = best_credit[i];
            out_article[g * n_words + i] = most;
            out_missing[g * n_words + i] = gap > 0.0 ? gap : 0.0;
        }
        j0 += size;
    }
    result = PyLong_FromSsize_t(total);
out:
    if (unit_held)
        PyBuffer_Release(&unit_view);
    PyMem_Free(terms);
    PyMem_Free(word_first);
    PyMem_Free(match_term);
    PyMem_Free(match_credit);
    PyMem_Free(passages);
    PyMem_Free(pos);
    PyMem_Free(scores);
    PyMem_Free(credit);
    PyMem_Free(best_credit);
    Py_XDECREF(lds);
    Py_XDECREF(ids);
    Py_XDECREF(ws);
    Py_XDECREF(wds);
    for (int i = 0; i < N_BUFFERS; i++)
        if (held[i])
            PyBuffer_Release(&views[i]);
    return result;
}

static PyMethodDef module_methods[] = {
    {"evidence", (PyCFunction)evidence, METH_VARARGS,
     "evidence(offsets, doc_ids, impacts, table, idf, order, start, end, ordinal, leaders, term_ids, weights,"
     " words, lead_boost, out_best, out_boosted, out_plain, out_credit, out_article, out_missing[, out_unit])"
     " -> passages:"
     " rerank_parts' per-passage work for the articles of `leaders` in one index."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_rerank", .m_doc = "rerank.rerank_parts' per-passage work in C.", .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__rerank(void) {
    return PyModule_Create(&module);
}
