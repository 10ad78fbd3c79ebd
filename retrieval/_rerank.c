/* The per-passage part of `rerank.rerank_parts` in C (retrieval/rerank.py's numpy version is the
 * specification), and `Layouts`: the whole of it over a live index's views in one call (see
 * layouts_evidence below), dot products, ranking and the Evidence objects included.
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
#include <math.h>
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

/* One index's arrays, as the kernel reads them (checked against each other when they are taken). */
typedef struct {
    const int64_t *offsets;
    const int32_t *doc_ids;
    const float *impacts;  /* NULL with codes */
    const uint32_t *codes; /* with a table: a code per posting */
    const float *table;
    const double *idf;
    const int32_t *order, *start, *end, *ordinal;
    Py_ssize_t vocab, n_postings, n_passages, n_table;
} Arrays;

/* Checks that the arrays fit together: 0, or -1 with ValueError. */
static int arrays_check(const Arrays *a, Py_ssize_t n_impacts, Py_ssize_t n_idf, Py_ssize_t n_start, Py_ssize_t n_end,
                        Py_ssize_t n_ordinal) {
    if (n_impacts != a->n_postings) {
        PyErr_Format(PyExc_ValueError, "impacts has %zd entries, doc_ids %zd", n_impacts, a->n_postings);
        return -1;
    }
    if (a->vocab < 0 || n_idf < a->vocab) {
        PyErr_Format(PyExc_ValueError, "idf (%zd entries) must cover the %zd terms of offsets", n_idf, a->vocab);
        return -1;
    }
    if (n_start != a->n_passages || n_end != a->n_passages || n_ordinal != a->n_passages) {
        PyErr_SetString(PyExc_ValueError, "order, start, end and ordinal must have one entry per passage");
        return -1;
    }
    return 0;
}

/* The question's terms in one index (term_range-checked): 0, or -1 with ValueError. */
static int terms_in(const Arrays *a, const Py_ssize_t *tids, const double *w, Py_ssize_t nt, Term *terms) {
    for (Py_ssize_t i = 0; i < nt; i++) {
        int64_t lo, hi;
        if (term_range(tids[i], a->vocab, a->offsets, a->n_postings, &lo, &hi) < 0)
            return -1;
        /* as numpy's `np.float64(w) * idf[tid]`; `if w:` in the numpy version (NaN is truthy) */
        terms[i] = (Term){a->doc_ids + lo, (Py_ssize_t)(hi - lo), (Py_ssize_t)lo, w[i] * a->idf[tids[i]], w[i] != 0.0};
    }
    return 0;
}

/* The question words' (term index, credit) pairs, flattened: word i's are [first[i], first[i + 1]). */
typedef struct {
    Py_ssize_t n;
    Py_ssize_t *first;
    Py_ssize_t *term;
    double *credit;
} Words;

static void words_free(Words *w) {
    PyMem_Free(w->first);
    PyMem_Free(w->term);
    PyMem_Free(w->credit);
}

/* Reads `words` (per word, a sequence of (index into the nt terms, credit)): 0, or -1 with the error set. */
static int words_read(PyObject *words, Py_ssize_t nt, Words *out) {
    memset(out, 0, sizeof(*out));
    PyObject *wds = PySequence_Fast(words, "words must be a sequence of sequences of (term index, credit)");
    if (!wds)
        return -1;
    Py_ssize_t n_words = PySequence_Fast_GET_SIZE(wds), n_matches = 0;
    out->n = n_words;
    for (Py_ssize_t i = 0; i < n_words; i++) {
        Py_ssize_t size = PySequence_Size(PySequence_Fast_GET_ITEM(wds, i));
        if (size < 0)
            goto fail;
        n_matches += size;
    }
    out->first = PyMem_Malloc((n_words + 1) * sizeof(Py_ssize_t));
    out->term = PyMem_Malloc((n_matches ? n_matches : 1) * sizeof(Py_ssize_t));
    out->credit = PyMem_Malloc((n_matches ? n_matches : 1) * sizeof(double));
    if (!out->first || !out->term || !out->credit) {
        PyErr_NoMemory();
        goto fail;
    }
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < n_words; i++) {
        out->first[i] = at;
        PyObject *m = PySequence_Fast(PySequence_Fast_GET_ITEM(wds, i), "a word's matches must be a sequence");
        if (!m)
            goto fail;
        Py_ssize_t size = PySequence_Fast_GET_SIZE(m);
        for (Py_ssize_t j = 0; j < size && at < n_matches; j++, at++) {
            Py_ssize_t k;
            double c;
            if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(m, j), "nd", &k, &c)) {
                Py_DECREF(m);
                goto fail;
            }
            if (k < 0 || k >= nt) {
                PyErr_Format(PyExc_ValueError, "a match refers to term %zd of %zd", k, nt);
                Py_DECREF(m);
                goto fail;
            }
            out->term[at] = k;
            out->credit[at] = c;
        }
        Py_DECREF(m);
    }
    out->first[n_words] = at;
    Py_DECREF(wds);
    return 0;
fail:
    Py_DECREF(wds);
    words_free(out);
    return -1;
}

/* unit[i]: what word i adds at one occurrence, its best match's factor (weight × idf), as the numpy
 * version's `max((weights.get(tid, 0.0) * float(idf[tid]) for ...), default=0.0)`: the first of the
 * highest in the matches' order, 0.0 for a word without matches. */
static void word_units(const Words *w, const Term *terms, double *unit) {
    for (Py_ssize_t i = 0; i < w->n; i++) {
        double most = 0.0;
        for (Py_ssize_t m = w->first[i]; m < w->first[i + 1]; m++) {
            double x = terms[w->term[m]].factor;
            if (m == w->first[i] || x > most)
                most = x;
        }
        unit[i] = most;
    }
}

/* The leaders' articles in one index: per leader g (in the order given) out_best[g], out_boosted[g],
 * out_plain[g] and the rows out_credit/out_article/out_missing[g * n_words + i] (see the top of the file).
 * Returns how many passages those articles hold, or -1 with ValueError/MemoryError. */
static Py_ssize_t score_leaders(const Arrays *a, const Term *terms, Py_ssize_t nt, const Words *w,
                                const Py_ssize_t *leaders, Py_ssize_t n_leaders, double lead_boost, int64_t *out_best,
                                double *out_boosted, double *out_plain, double *out_credit, double *out_article,
                                double *out_missing) {
    const int32_t *order = a->order, *start = a->start, *end = a->end, *ordinal = a->ordinal;
    const uint32_t *codes = a->codes;
    const float *impacts = a->impacts, *table = a->table;
    Py_ssize_t n_passages = a->n_passages, n_table = a->n_table, n_words = w->n;
    const Py_ssize_t *word_first = w->first, *match_term = w->term;
    const double *match_credit = w->credit;
    Py_ssize_t total = 0, result = -1;
    for (Py_ssize_t g = 0; g < n_leaders; g++) {
        Py_ssize_t leader = leaders[g];
        if (leader < 0 || leader >= n_passages || start[leader] < 0 || end[leader] <= start[leader] ||
            end[leader] > n_passages) {
            PyErr_Format(PyExc_ValueError, "leader %zd is outside the layout's %zd passages", leader, n_passages);
            return -1;
        }
        total += end[leader] - start[leader];
    }
    int32_t *passages = PyMem_Malloc((total ? total : 1) * sizeof(int32_t));
    Py_ssize_t *pos = PyMem_Malloc((nt ? nt : 1) * sizeof(Py_ssize_t));
    double *scores = PyMem_Malloc((total ? total : 1) * sizeof(double));
    /* credit[j * n_words + i]: word i's credit in passage j */
    double *credit = PyMem_Calloc(total * n_words > 0 ? (size_t)(total * n_words) : 1, sizeof(double));
    double *best_credit = PyMem_Malloc((n_words ? n_words : 1) * sizeof(double));
    if (!passages || !pos || !scores || !credit || !best_credit) {
        PyErr_NoMemory();
        goto out;
    }
    /* Where each article's first passage sits in each term's list, asked of the memory for all at once:
     * the lists of common words are long, and one by one each article cost a few cache misses per term. */
    for (Py_ssize_t g = 0; g < n_leaders; g++) {
        int32_t p = order[start[leaders[g]]];
        for (Py_ssize_t t = 0; t < nt; t++)
            if (terms[t].len > 1) {
                Py_ssize_t q = guess_of(terms[t].docs, terms[t].len, p);
                __builtin_prefetch(terms[t].docs + q);
                __builtin_prefetch(codes ? (const void *)(codes + terms[t].base + q) : (const void *)(impacts + terms[t].base + q));
            }
    }
    Py_ssize_t j0 = 0;
    for (Py_ssize_t g = 0; g < n_leaders; g++) {
        Py_ssize_t leader = leaders[g];
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
    result = total;
out:
    PyMem_Free(passages);
    PyMem_Free(pos);
    PyMem_Free(scores);
    PyMem_Free(credit);
    PyMem_Free(best_credit);
    return result;
}

/* Reads a sequence of term ids and one of weights into fresh arrays (*nt of each): 0, or -1 with the error set. */
static int read_terms(PyObject *term_ids, PyObject *weights, Py_ssize_t **tids, double **w, Py_ssize_t *nt) {
    *tids = NULL;
    *w = NULL;
    PyObject *ids = PySequence_Fast(term_ids, "term_ids must be a sequence of ints");
    PyObject *ws = ids ? PySequence_Fast(weights, "weights must be a sequence of floats") : NULL;
    int status = -1;
    if (!ws)
        goto out;
    *nt = PySequence_Fast_GET_SIZE(ids);
    if (PySequence_Fast_GET_SIZE(ws) != *nt) {
        PyErr_Format(PyExc_ValueError, "term_ids has %zd entries, weights %zd", *nt, PySequence_Fast_GET_SIZE(ws));
        goto out;
    }
    *tids = PyMem_Malloc((*nt ? *nt : 1) * sizeof(Py_ssize_t));
    *w = PyMem_Malloc((*nt ? *nt : 1) * sizeof(double));
    if (!*tids || !*w) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < *nt; i++)
        if (read_term(ids, ws, i, &(*tids)[i], &(*w)[i]) < 0)
            goto out;
    status = 0;
out:
    if (status < 0) {
        PyMem_Free(*tids);
        PyMem_Free(*w);
        *tids = NULL;
        *w = NULL;
    }
    Py_XDECREF(ids);
    Py_XDECREF(ws);
    return status;
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
    PyObject *result = NULL, *lds = NULL;
    Term *terms = NULL;
    Py_ssize_t *tids = NULL, *leaders = NULL;
    double *wv = NULL;
    Words w = {0};
    for (int i = 0; i < N_BUFFERS; i++) {
        if (i == B_TABLE && objs[i] == Py_None)
            continue;
        /* with a table, `impacts` holds uint32 codes into it */
        char kind = i == B_IMPACTS && objs[B_TABLE] != Py_None ? 'u' : spec[i].kind;
        if (get_array(objs[i], &views[i], spec[i].name, kind, spec[i].size, spec[i].writable) < 0)
            goto out;
        held[i] = 1;
    }
    Arrays a = {views[B_OFFSETS].buf, views[B_DOCS].buf, held[B_TABLE] ? NULL : views[B_IMPACTS].buf,
                held[B_TABLE] ? views[B_IMPACTS].buf : NULL, held[B_TABLE] ? views[B_TABLE].buf : NULL,
                views[B_IDF].buf, views[B_ORDER].buf, views[B_START].buf, views[B_END].buf, views[B_ORDINAL].buf,
                views[B_OFFSETS].shape[0] - 1, views[B_DOCS].shape[0], views[B_ORDER].shape[0],
                held[B_TABLE] ? views[B_TABLE].shape[0] : 0};
    if (arrays_check(&a, views[B_IMPACTS].shape[0], views[B_IDF].shape[0], views[B_START].shape[0],
                     views[B_END].shape[0], views[B_ORDINAL].shape[0]) < 0)
        goto out;
    lds = PySequence_Fast(leaders_obj, "leaders must be a sequence of ints");
    if (!lds)
        goto out;
    Py_ssize_t nt = 0;
    if (read_terms(term_ids, weights, &tids, &wv, &nt) < 0 || words_read(words, nt, &w) < 0)
        goto out;
    Py_ssize_t n_leaders = PySequence_Fast_GET_SIZE(lds), n_words = w.n;
    if (views[B_BEST].shape[0] != n_leaders || views[B_BOOSTED].shape[0] != n_leaders ||
        views[B_PLAIN].shape[0] != n_leaders || views[B_CREDIT].shape[0] != n_leaders * n_words ||
        views[B_ARTICLE].shape[0] != n_leaders * n_words || views[B_MISSING].shape[0] != n_leaders * n_words) {
        PyErr_Format(PyExc_ValueError, "the outputs need %zd entries (leaders) and %zd (leaders x words)", n_leaders,
                     n_leaders * n_words);
        goto out;
    }
    terms = PyMem_Malloc((nt ? nt : 1) * sizeof(Term));
    leaders = PyMem_Malloc((n_leaders ? n_leaders : 1) * sizeof(Py_ssize_t));
    if (!terms || !leaders) {
        PyErr_NoMemory();
        goto out;
    }
    if (terms_in(&a, tids, wv, nt, terms) < 0)
        goto out;
    for (Py_ssize_t g = 0; g < n_leaders; g++) {
        leaders[g] = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(lds, g));
        if (leaders[g] == -1 && PyErr_Occurred())
            goto out;
    }
    if (unit_obj != Py_None) {
        if (get_array(unit_obj, &unit_view, "out_unit", 'f', 8, 1) < 0)
            goto out;
        unit_held = 1;
        if (unit_view.shape[0] != n_words) {
            PyErr_Format(PyExc_ValueError, "out_unit has %zd entries, words %zd", unit_view.shape[0], n_words);
            goto out;
        }
        word_units(&w, terms, unit_view.buf);
    }
    Py_ssize_t total = score_leaders(&a, terms, nt, &w, leaders, n_leaders, lead_boost, views[B_BEST].buf,
                                     views[B_BOOSTED].buf, views[B_PLAIN].buf, views[B_CREDIT].buf,
                                     views[B_ARTICLE].buf, views[B_MISSING].buf);
    if (total >= 0)
        result = PyLong_FromSsize_t(total);
out:
    if (unit_held)
        PyBuffer_Release(&unit_view);
    PyMem_Free(terms);
    PyMem_Free(tids);
    PyMem_Free(wv);
    PyMem_Free(leaders);
    words_free(&w);
    Py_XDECREF(lds);
    for (int i = 0; i < N_BUFFERS; i++)
        if (held[i])
            PyBuffer_Release(&views[i]);
    return result;
}

/* --- the whole re-ranking over a live index's views, dot products included ------------------ */

/* The dot products numpy makes (through OpenBLAS's ddot) for vectors of up to MAX_DOT_WORDS entries,
 * in the order it sums them: a contiguous pair `dot += y[i] * x[i]` fused (an FMA each), a strided
 * one four products at a time into two sums (`t1 += m1 + m3; t2 += m2 + m4`, unfused), the rest fused
 * into t1, then t1 + t2; numpy adds the result to 0.0. OpenBLAS picks its kernel at run time by CPU, so
 * rerank.py checks these against numpy's own dots when it loads (`dot`) and uses them only if every
 * length agrees; longer vectors go through another kernel loop and are left to numpy. */
#define MAX_DOT_WORDS 15

static double dot_contiguous(const double *x, const double *y, Py_ssize_t n) {
    double d = 0.0;
    for (Py_ssize_t i = 0; i < n; i++)
        d = fma(y[i], x[i], d);
    return 0.0 + d;
}

static double dot_strided(const double *x, const double *y, Py_ssize_t n) {
    double t1 = 0.0, t2 = 0.0;
    Py_ssize_t i = 0, n1 = n & -4;
    for (; i < n1; i += 4) {
        double m1 = y[i] * x[i], m2 = y[i + 1] * x[i + 1], m3 = y[i + 2] * x[i + 2], m4 = y[i + 3] * x[i + 3];
        t1 += m1 + m3;
        t2 += m2 + m4;
    }
    for (; i < n; i++)
        t1 = fma(y[i], x[i], t1);
    return 0.0 + (t1 + t2);
}

static PyObject *dot(PyObject *self, PyObject *args) {
    PyObject *xo, *yo;
    int strided;
    if (!PyArg_ParseTuple(args, "OOp", &xo, &yo, &strided))
        return NULL;
    Py_buffer x, y;
    if (get_array(xo, &x, "x", 'f', 8, 0) < 0)
        return NULL;
    if (get_array(yo, &y, "y", 'f', 8, 0) < 0) {
        PyBuffer_Release(&x);
        return NULL;
    }
    PyObject *result = NULL;
    if (x.shape[0] != y.shape[0] || x.shape[0] > MAX_DOT_WORDS)
        PyErr_Format(PyExc_ValueError, "x and y need the same length, at most %d (got %zd and %zd)", MAX_DOT_WORDS,
                     x.shape[0], y.shape[0]);
    else
        result = PyFloat_FromDouble((strided ? dot_strided : dot_contiguous)(x.buf, y.buf, x.shape[0]));
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    return result;
}

enum { L_OFFSETS, L_DOCS, L_IMPACTS, L_TABLE, L_IDF, L_ORDER, L_START, L_END, L_ORDINAL, L_BUFFERS };

typedef struct {
    PyObject_HEAD
    Py_ssize_t n_views;
    Py_buffer (*bufs)[L_BUFFERS];
    int (*held)[L_BUFFERS];
    Arrays *arrays;
    int64_t *starts; /* each view's first global passage number */
    /* The Evidence class and its five fields' descriptors (passage, score, passage_score,
     * passage_coverage, article_coverage): evidence() makes its objects through them. */
    PyTypeObject *evidence_type;
    PyObject *fields[5];
} LayoutsObject;

static void layouts_release(LayoutsObject *self) {
    for (Py_ssize_t v = 0; v < self->n_views; v++)
        for (int i = 0; i < L_BUFFERS; i++)
            if (self->held && self->held[v][i])
                PyBuffer_Release(&self->bufs[v][i]);
    PyMem_Free(self->bufs);
    PyMem_Free(self->held);
    PyMem_Free(self->arrays);
    PyMem_Free(self->starts);
    self->bufs = NULL;
    self->held = NULL;
    self->arrays = NULL;
    self->starts = NULL;
    self->n_views = 0;
    Py_CLEAR(self->evidence_type);
    for (int i = 0; i < 5; i++)
        Py_CLEAR(self->fields[i]);
}

static void layouts_dealloc(LayoutsObject *self) {
    layouts_release(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Layouts([(offsets, doc_ids, impacts or codes, table or None, idf, order, start, end, ordinal, first), ...],
 * Evidence): each view's arrays taken and checked once a snapshot. */
static int layouts_init(LayoutsObject *self, PyObject *args, PyObject *kwds) {
    PyObject *seq, *type;
    if (!PyArg_ParseTuple(args, "OO!", &seq, &PyType_Type, &type))
        return -1;
    layouts_release(self);
    /* Evidence is a slots dataclass without __post_init__: its __init__ only sets the five slots, which
     * their descriptors do here without a Python frame per object (~30 a question). */
    static const char *names[5] = {"passage", "score", "passage_score", "passage_coverage", "article_coverage"};
    for (int i = 0; i < 5; i++) {
        PyObject *d = PyObject_GetAttrString(type, names[i]);
        if (!d)
            return -1;
        self->fields[i] = d;
        if (!Py_TYPE(d)->tp_descr_set) {
            PyErr_Format(PyExc_TypeError, "%.100s.%s is not a slot", ((PyTypeObject *)type)->tp_name, names[i]);
            layouts_release(self);
            return -1;
        }
    }
    self->evidence_type = (PyTypeObject *)Py_NewRef(type);
    PyObject *fast = PySequence_Fast(seq, "views must be a sequence of tuples");
    if (!fast)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    size_t m = n ? (size_t)n : 1;
    self->bufs = PyMem_Calloc(m, sizeof(*self->bufs));
    self->held = PyMem_Calloc(m, sizeof(*self->held));
    self->arrays = PyMem_Calloc(m, sizeof(Arrays));
    self->starts = PyMem_Calloc(m, sizeof(int64_t));
    if (!self->bufs || !self->held || !self->arrays || !self->starts) {
        Py_DECREF(fast);
        layouts_release(self);
        PyErr_NoMemory();
        return -1;
    }
    self->n_views = n;
    static const ArraySpec spec[L_BUFFERS] = {
        {"offsets", 'i', 8}, {"doc_ids", 'i', 4}, {"impacts", 'f', 4}, {"table", 'f', 4}, {"idf", 'f', 8},
        {"order", 'i', 4},   {"start", 'i', 4},   {"end", 'i', 4},     {"ordinal", 'i', 4},
    };
    for (Py_ssize_t v = 0; v < n; v++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, v);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != L_BUFFERS + 1) {
            PyErr_Format(PyExc_TypeError, "view %zd must be a tuple of %d arrays and its first passage number", v,
                         L_BUFFERS);
            goto fail;
        }
        Py_buffer *b = self->bufs[v];
        int coded = PyTuple_GET_ITEM(item, L_TABLE) != Py_None;
        if (get_view_arrays(item, b, self->held[v], spec, L_BUFFERS, 1u << L_TABLE, L_IMPACTS, L_TABLE) < 0)
            goto fail;
        self->starts[v] = PyLong_AsLongLong(PyTuple_GET_ITEM(item, L_BUFFERS));
        if (self->starts[v] == -1 && PyErr_Occurred())
            goto fail;
        self->arrays[v] = (Arrays){b[L_OFFSETS].buf, b[L_DOCS].buf, coded ? NULL : b[L_IMPACTS].buf,
                                   coded ? b[L_IMPACTS].buf : NULL, coded ? b[L_TABLE].buf : NULL, b[L_IDF].buf,
                                   b[L_ORDER].buf, b[L_START].buf, b[L_END].buf, b[L_ORDINAL].buf,
                                   b[L_OFFSETS].shape[0] - 1, b[L_DOCS].shape[0], b[L_ORDER].shape[0],
                                   coded ? b[L_TABLE].shape[0] : 0};
        if (arrays_check(&self->arrays[v], b[L_IMPACTS].shape[0], b[L_IDF].shape[0], b[L_START].shape[0],
                         b[L_END].shape[0], b[L_ORDINAL].shape[0]) < 0)
            goto fail;
    }
    Py_DECREF(fast);
    return 0;
fail:
    Py_DECREF(fast);
    layouts_release(self);
    return -1;
}

/* The question as rerank_parts reads it, from `query` (QueryTerm tuples: idf, ((term id, credit), ...)) and
 * `weights` (term id → weight): the terms in the numpy version's order, the order of the set
 * `{tid for term in query for tid, _ in term.matches} | weights.keys()` (built here by the same
 * operations, so it iterates alike), each with `weights.get(tid, 0.0)`; per word its (term index,
 * credit) pairs, and its idf into idfs (n_words entries, allocated by the caller once it knows
 * n_words = len(query): *idfs is set to a fresh array). 0, or -1 with the error set. */
static int query_read(PyObject *query, PyObject *weights, Py_ssize_t **tids, double **wv, Py_ssize_t *nt, Words *w,
                      double **idfs) {
    *tids = NULL;
    *wv = NULL;
    *idfs = NULL;
    memset(w, 0, sizeof(*w));
    PyObject *q = PySequence_Fast(query, "query must be a sequence of QueryTerm");
    PyObject *set = NULL, *keys = NULL, *all = NULL, *it = NULL;
    int status = -1;
    if (!q)
        return -1;
    if (!PyDict_Check(weights)) {
        PyErr_Format(PyExc_TypeError, "weights must be a dict, not %.100s", Py_TYPE(weights)->tp_name);
        goto out;
    }
    Py_ssize_t n_words = PySequence_Fast_GET_SIZE(q), n_matches = 0;
    for (Py_ssize_t i = 0; i < n_words; i++) {
        PyObject *term = PySequence_Fast_GET_ITEM(q, i);
        if (!PyTuple_Check(term) || PyTuple_GET_SIZE(term) != 2 || !PyTuple_Check(PyTuple_GET_ITEM(term, 1))) {
            PyErr_SetString(PyExc_TypeError, "query must hold QueryTerm (idf, matches) tuples");
            goto out;
        }
        n_matches += PyTuple_GET_SIZE(PyTuple_GET_ITEM(term, 1));
    }
    set = PySet_New(NULL);
    if (!set)
        goto out;
    for (Py_ssize_t i = 0; i < n_words; i++) {
        PyObject *matches = PyTuple_GET_ITEM(PySequence_Fast_GET_ITEM(q, i), 1);
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(matches); j++) {
            PyObject *m = PyTuple_GET_ITEM(matches, j);
            if (!PyTuple_Check(m) || PyTuple_GET_SIZE(m) != 2) {
                PyErr_SetString(PyExc_TypeError, "a word's matches must be (term id, credit) pairs");
                goto out;
            }
            if (PySet_Add(set, PyTuple_GET_ITEM(m, 0)) < 0)
                goto out;
        }
    }
    keys = PyObject_CallMethod(weights, "keys", NULL);
    all = keys ? PyNumber_Or(set, keys) : NULL;
    if (!all)
        goto out;
    Py_ssize_t count = PySet_Size(all);
    if (count < 0)
        goto out;
    *tids = PyMem_Malloc((count ? count : 1) * sizeof(Py_ssize_t));
    *wv = PyMem_Malloc((count ? count : 1) * sizeof(double));
    *idfs = PyMem_Malloc((n_words ? n_words : 1) * sizeof(double));
    w->first = PyMem_Malloc((n_words + 1) * sizeof(Py_ssize_t));
    w->term = PyMem_Malloc((n_matches ? n_matches : 1) * sizeof(Py_ssize_t));
    w->credit = PyMem_Malloc((n_matches ? n_matches : 1) * sizeof(double));
    if (!*tids || !*wv || !*idfs || !w->first || !w->term || !w->credit) {
        PyErr_NoMemory();
        goto out;
    }
    it = PyObject_GetIter(all);
    if (!it)
        goto out;
    Py_ssize_t k = 0;
    PyObject *tid;
    while (k < count && (tid = PyIter_Next(it))) {
        (*tids)[k] = PyLong_AsSsize_t(tid);
        PyObject *weight = PyDict_GetItemWithError(weights, tid); /* borrowed */
        Py_DECREF(tid);
        if ((*tids)[k] == -1 && PyErr_Occurred())
            goto out;
        if (!weight && PyErr_Occurred())
            goto out;
        (*wv)[k] = weight ? PyFloat_AsDouble(weight) : 0.0;
        if ((*wv)[k] == -1.0 && PyErr_Occurred())
            goto out;
        k++;
    }
    if (PyErr_Occurred())
        goto out;
    *nt = k;
    w->n = n_words;
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < n_words; i++) {
        PyObject *term = PySequence_Fast_GET_ITEM(q, i), *matches = PyTuple_GET_ITEM(term, 1);
        (*idfs)[i] = PyFloat_AsDouble(PyTuple_GET_ITEM(term, 0));
        if ((*idfs)[i] == -1.0 && PyErr_Occurred())
            goto out;
        w->first[i] = at;
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(matches); j++, at++) {
            PyObject *m = PyTuple_GET_ITEM(matches, j);
            Py_ssize_t id = PyLong_AsSsize_t(PyTuple_GET_ITEM(m, 0));
            double c = PyFloat_AsDouble(PyTuple_GET_ITEM(m, 1));
            if ((id == -1 || c == -1.0) && PyErr_Occurred())
                goto out;
            Py_ssize_t slot = 0;
            while (slot < k && (*tids)[slot] != id)
                slot++;
            if (slot == k) { /* every match's term is in the set: only a term id too large for C lands here */
                PyErr_Format(PyExc_ValueError, "a match's term %zd is not among the question's terms", id);
                goto out;
            }
            w->term[at] = slot;
            w->credit[at] = c;
        }
    }
    w->first[n_words] = at;
    status = 0;
out:
    if (status < 0) {
        PyMem_Free(*tids);
        PyMem_Free(*wv);
        PyMem_Free(*idfs);
        *tids = NULL;
        *wv = NULL;
        *idfs = NULL;
        words_free(w);
        memset(w, 0, sizeof(*w));
    }
    Py_XDECREF(it);
    Py_XDECREF(all);
    Py_XDECREF(keys);
    Py_XDECREF(set);
    Py_DECREF(q);
    return status;
}

/* evidence(leaders, query, weights, lead_boost, spread_weight, total_idf) ->
 * (evidence, ranked): an Evidence per leader ((view, passage number) pairs), passages numbered
 * globally, best first with equal scores in the leaders' order (ranked true; false, and in the
 * leaders' order, when some score is NaN): rerank_parts' evidence with its dot products and final
 * arithmetic, in one call. None when the question has more than MAX_DOT_WORDS words (numpy's dots are
 * then summed by a kernel loop these do not follow). */
static PyObject *layouts_evidence(LayoutsObject *self, PyObject *args) {
    PyObject *leaders_obj, *query, *weights;
    double lead_boost, spread_weight, total_idf;
    if (!PyArg_ParseTuple(args, "OOOddd", &leaders_obj, &query, &weights, &lead_boost, &spread_weight, &total_idf))
        return NULL;
    PyObject *result = NULL, *lds = NULL;
    Py_ssize_t *tids = NULL, *view_of = NULL, *leaders = NULL, *slot = NULL;
    double *wv = NULL, *floats = NULL, *idfs = NULL;
    int64_t *best = NULL, *glob = NULL;
    Term *terms = NULL;
    Words w = {0};
    Py_ssize_t nt = 0;
    if (query_read(query, weights, &tids, &wv, &nt, &w, &idfs) < 0)
        goto out;
    Py_ssize_t n_words = w.n;
    if (n_words > MAX_DOT_WORDS) {
        result = Py_NewRef(Py_None);
        goto out;
    }
    lds = PySequence_Fast(leaders_obj, "leaders must be a sequence of (view, passage) pairs");
    if (!lds)
        goto out;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(lds), per = 6 + 3 * n_words;
    view_of = PyMem_Malloc((n ? n : 1) * sizeof(Py_ssize_t));
    leaders = PyMem_Malloc((n ? n : 1) * sizeof(Py_ssize_t));
    slot = PyMem_Malloc((n ? n : 1) * sizeof(Py_ssize_t));
    best = PyMem_Malloc((n ? n : 1) * sizeof(int64_t));
    glob = PyMem_Malloc((n ? n : 1) * sizeof(int64_t));
    /* per leader: boosted, plain, then 4 results, then credit, article, missing rows; then the units */
    floats = PyMem_Malloc(((size_t)(n * per) + (size_t)n_words + 1) * sizeof(double));
    terms = PyMem_Malloc((nt ? nt : 1) * sizeof(Term));
    if (!view_of || !leaders || !slot || !best || !glob || !floats || !terms) {
        PyErr_NoMemory();
        goto out;
    }
    double *unit = floats + n * per;
    for (Py_ssize_t g = 0; g < n; g++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(lds, g);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "leaders must be (view, passage number) pairs");
            goto out;
        }
        view_of[g] = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 0));
        leaders[g] = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 1));
        if ((view_of[g] == -1 || leaders[g] == -1) && PyErr_Occurred())
            goto out;
        if (view_of[g] < 0 || view_of[g] >= self->n_views) {
            PyErr_Format(PyExc_ValueError, "view %zd is outside the %zd views", view_of[g], self->n_views);
            goto out;
        }
    }
    /* View by view (each view's leaders in their order), as rerank_parts scores them; the word units
     * from the first view that has leaders, as its first call gives them. */
    Py_ssize_t done = 0, passages = 0;
    int have_unit = 0;
    for (Py_ssize_t v = 0; v < self->n_views && done < n; v++) {
        Py_ssize_t m = 0;
        for (Py_ssize_t g = 0; g < n; g++)
            if (view_of[g] == v)
                slot[m++] = g;
        if (!m)
            continue;
        const Arrays *a = &self->arrays[v];
        if (terms_in(a, tids, wv, nt, terms) < 0)
            goto out;
        if (!have_unit) {
            word_units(&w, terms, unit);
            have_unit = 1;
        }
        /* this view's leaders gathered after the results' block, scattered back below */
        double *tmp = PyMem_Malloc(((size_t)m * (2 + 3 * (size_t)n_words) + 1) * sizeof(double));
        Py_ssize_t *ls = PyMem_Malloc((size_t)m * sizeof(Py_ssize_t));
        int64_t *bs = PyMem_Malloc((size_t)m * sizeof(int64_t));
        if (!tmp || !ls || !bs) {
            PyMem_Free(tmp);
            PyMem_Free(ls);
            PyMem_Free(bs);
            PyErr_NoMemory();
            goto out;
        }
        for (Py_ssize_t i = 0; i < m; i++)
            ls[i] = leaders[slot[i]];
        double *boosted = tmp, *plain = tmp + m, *cr = tmp + 2 * m, *ar = cr + m * n_words, *mr = ar + m * n_words;
        Py_ssize_t got = score_leaders(a, terms, nt, &w, ls, m, lead_boost, bs, boosted, plain, cr, ar, mr);
        if (got >= 0) {
            passages += got;
            for (Py_ssize_t i = 0; i < m; i++) {
                Py_ssize_t g = slot[i];
                double *row = floats + g * per;
                best[g] = bs[i];
                glob[g] = bs[i] + self->starts[v];
                row[0] = boosted[i];
                row[1] = plain[i];
                memcpy(row + 6, cr + i * n_words, n_words * sizeof(double));
                memcpy(row + 6 + n_words, ar + i * n_words, n_words * sizeof(double));
                memcpy(row + 6 + 2 * n_words, mr + i * n_words, n_words * sizeof(double));
            }
        }
        PyMem_Free(tmp);
        PyMem_Free(ls);
        PyMem_Free(bs);
        if (got < 0)
            goto out;
        done += m;
    }
    /* numpy's passage-coverage dot reads a column of a (words × passages) matrix: strided unless the
     * articles hold one passage in all. */
    int strided = passages > 1;
    double *score = PyMem_Malloc((n ? n : 1) * 4 * sizeof(double));
    Py_ssize_t *rank = PyMem_Malloc((n ? n : 1) * sizeof(Py_ssize_t));
    if (!score || !rank) {
        PyMem_Free(score);
        PyMem_Free(rank);
        PyErr_NoMemory();
        goto out;
    }
    int nan = 0;
    for (Py_ssize_t g = 0; g < n; g++) {
        const double *row = floats + g * per;
        double spread = dot_contiguous(unit, row + 6 + 2 * n_words, n_words);
        double pcov = (strided ? dot_strided : dot_contiguous)(idfs, row + 6, n_words);
        double acov = dot_contiguous(idfs, row + 6 + n_words, n_words);
        score[g] = row[0] + spread_weight * spread;
        score[n + g] = row[1];
        score[2 * n + g] = pcov / total_idf;
        score[3 * n + g] = acov / total_idf;
        nan |= score[g] != score[g];
        /* Best first, equal scores in the leaders' order (a stable insertion sort: a few dozen);
         * with a NaN score (a damaged index) the leaders' order, for Python's sort to rank. */
        Py_ssize_t at = g;
        while (at > 0 && score[g] > score[rank[at - 1]]) {
            rank[at] = rank[at - 1];
            at--;
        }
        rank[at] = g;
    }
    PyObject *list = PyList_New(n);
    for (Py_ssize_t r = 0; list && r < n; r++) {
        Py_ssize_t g = nan ? r : rank[r];
        PyObject *e = self->evidence_type->tp_alloc(self->evidence_type, 0);
        PyObject *values[5] = {PyLong_FromLongLong(glob[g]), PyFloat_FromDouble(score[g]),
                               PyFloat_FromDouble(score[n + g]), PyFloat_FromDouble(score[2 * n + g]),
                               PyFloat_FromDouble(score[3 * n + g])};
        int bad = !e;
        for (int i = 0; i < 5; i++) {
            if (!values[i])
                bad = 1;
            else if (!bad && Py_TYPE(self->fields[i])->tp_descr_set(self->fields[i], e, values[i]) < 0)
                bad = 1;
            Py_XDECREF(values[i]);
        }
        if (bad) {
            Py_XDECREF(e);
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, r, e);
    }
    PyMem_Free(score);
    PyMem_Free(rank);
    if (list) {
        result = Py_BuildValue("(Ni)", list, !nan);
    }
out:
    PyMem_Free(tids);
    PyMem_Free(wv);
    PyMem_Free(view_of);
    PyMem_Free(leaders);
    PyMem_Free(slot);
    PyMem_Free(best);
    PyMem_Free(glob);
    PyMem_Free(floats);
    PyMem_Free(idfs);
    PyMem_Free(terms);
    words_free(&w);
    Py_XDECREF(lds);
    return result;
}

/* holds(view, term_id, passage) -> bool: whether the passage (numbered in the view) holds the term
 * (bm25.contains without numpy's call costs). */
static PyObject *layouts_holds(LayoutsObject *self, PyObject *args) {
    Py_ssize_t v, tid, passage;
    if (!PyArg_ParseTuple(args, "nnn", &v, &tid, &passage))
        return NULL;
    if (v < 0 || v >= self->n_views) {
        PyErr_Format(PyExc_ValueError, "view %zd is outside the %zd views", v, self->n_views);
        return NULL;
    }
    const Arrays *a = &self->arrays[v];
    int64_t lo, hi;
    if (term_range(tid, a->vocab, a->offsets, a->n_postings, &lo, &hi) < 0)
        return NULL;
    if (passage < 0 || passage > INT32_MAX)
        Py_RETURN_FALSE;
    const int32_t *docs = a->doc_ids + lo;
    Py_ssize_t len = (Py_ssize_t)(hi - lo), q = locate(docs, len, (int32_t)passage);
    return PyBool_FromLong(q < len && docs[q] == (int32_t)passage);
}

static PyMethodDef layouts_methods[] = {
    {"evidence", (PyCFunction)layouts_evidence, METH_VARARGS,
     "evidence(leaders, query, weights, lead_boost, spread_weight, total_idf) -> (evidence, ranked)"
     " best first, or None beyond the words it sums as numpy."},
    {"holds", (PyCFunction)layouts_holds, METH_VARARGS,
     "holds(view, term_id, passage) -> bool: whether the view's passage holds the term."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LayoutsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "retrieval._rerank.Layouts",
    .tp_basicsize = sizeof(LayoutsObject),
    .tp_dealloc = (destructor)layouts_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The views of one live index with their article layouts, held for evidence().",
    .tp_methods = layouts_methods,
    .tp_init = (initproc)layouts_init,
    .tp_new = PyType_GenericNew,
};

static PyMethodDef module_methods[] = {
    {"evidence", (PyCFunction)evidence, METH_VARARGS,
     "evidence(offsets, doc_ids, impacts, table, idf, order, start, end, ordinal, leaders, term_ids, weights,"
     " words, lead_boost, out_best, out_boosted, out_plain, out_credit, out_article, out_missing[, out_unit])"
     " -> passages:"
     " rerank_parts' per-passage work for the articles of `leaders` in one index."},
    {"dot", (PyCFunction)dot, METH_VARARGS,
     "dot(x, y, strided) -> float: the dot product Layouts.evidence makes, for checking it against numpy's."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_rerank", .m_doc = "rerank.rerank_parts' per-passage work in C.", .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__rerank(void) {
    if (PyType_Ready(&LayoutsType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    if (PyModule_AddIntConstant(m, "MAX_DOT_WORDS", MAX_DOT_WORDS) < 0 ||
        PyModule_AddObjectRef(m, "Layouts", (PyObject *)&LayoutsType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
