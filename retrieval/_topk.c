/* The scoring kernel of `bm25._top` in C (retrieval/bm25.py's numpy `_top_numpy` is the specification).
 *
 * `top(offsets, doc_ids, impacts, idf, max_impact, term_ids, weights, k, groups, scratch, out_docs,
 * out_scores, *, prune_min=PRUNE_MIN_POSTINGS, stats=None)` returns how many results it wrote to
 * out_docs/out_scores: the top k passages by score (ties to the lower passage number) or, with
 * `groups` (the group of each passage), the best passage of each of the top k groups, ordered the
 * same way. It gives what the numpy version gives,
 * bit for bit:
 *
 *   - a term's factor is `weight * idf[tid]` and its bound `factor * max_impact[tid]`, in double,
 *     as numpy's `np.float64(w) * idf[tid]` and `f * np.float64(max_impact[tid])`;
 *   - terms are added in the numpy version's order (by descending bound, then term id; in the
 *     caller's order when some factor is not positive or there is one term) and every passage's
 *     sum is formed the same way: `buf[d] = buf[d] + (double)impact * factor` from 0.0, one term
 *     after the other (numpy's add.at of `imp * f`). The module is compiled with
 *     -ffp-contract=off so that the compiler never fuses that into one rounding (an FMA);
 *   - with a single term the score is the product itself (numpy's `imp * f`, which keeps the
 *     sign of a zero that 0.0 + x would drop).
 *
 * Pruning (MaxScore, as in the numpy version): whole lists are added while the postings still to
 * come are few. Before a long list, once the k-th best partial score (of passages, or of groups'
 * best passages) beats everything the remaining terms can add (`left[j]`, raised by the same
 * 1e-9 slack against rounding), no passage outside the candidates can reach the top k: only the
 * candidates still able to reach the k-th best are completed, each looked up in the remaining
 * (sorted) lists by galloping search, and re-filtered after each list with a fresh k-th best. With
 * a factor that is not safely positive no bound holds (a sum can fall), so everything is added.
 *
 * The k-th best and the final top k come from a heap over the candidates under the total order
 * (score descending, passage ascending), so ties are settled as numpy's lexsort settles them; for
 * groups, the best m passages are walked in that order keeping each group's first (its best),
 * widening m until k groups are found.
 *
 * `scratch` (float64, one slot per passage, all 0.0) is the caller's per-thread buffer; it is
 * left all 0.0 on return, also on error. Nothing from the index is trusted: term ids, offsets and
 * every posting's passage number are checked before use, so a damaged index raises ValueError
 * instead of reading or writing out of bounds.
 *
 * For tests: `prune_min` lowers the pruning threshold so that small indexes prune too, and a list
 * given as `stats` gets (the term from which only candidates were completed or -1, how many
 * candidates were still in the race then) appended.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A check for pruning is only made when the postings still to come are at least this many:
 * below, adding them costs less than the check (measured at 100k and 1M passages). */
#define PRUNE_MIN_POSTINGS 4096
/* ... and only before a list when the postings still to come are at least this many times the
 * candidates so far: a check costs about one heap step per candidate, and a failed one is lost. */
#define CHECK_RATIO 4
/* Bounds are raised by this fraction so that float rounding of a sum can never beat them
 * (the numpy version's _BOUND_SLACK). */
#define BOUND_SLACK 1e-9
/* The first widening of the groups' walk: this many passages per group wanted. */
#define GROUP_WIDTH 4
/* The GIL is released while scoring when the query's postings are at least this many (~50 µs of
 * work). Releasing is safe: the buffers stay exported (numpy refuses to resize or free an array
 * while they are held), the index arrays are never written, and the scratch buffer and the output
 * arrays belong to the calling thread. It is not free, though: getting the GIL back waits for
 * the thread that took it to reach its switch interval, so small queries keep it. */
#define GIL_RELEASE_POSTINGS 32768
/* A factor below this is not "safely positive": impact × factor could underflow to 0, and a
 * zero sum would not mark its passage as a candidate (the numpy version treats it the same way,
 * through the slower path that marks candidates separately). */
#define SAFE_FACTOR 1e-250

typedef struct {
    double score;
    int32_t doc;
} Cand;

typedef struct {
    const int32_t *docs;
    const float *imps;
    Py_ssize_t len;
    Py_ssize_t tid;
    double factor;
    double bound;
} Term;

enum { OK = 0, NO_MEMORY, BAD_DOC };

/* --- buffers -------------------------------------------------------------------------------- */

static int little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* Whether a buffer's format is one value of the wanted kind ('i': signed integer, 'f': float). */
static int format_is(const char *fmt, char kind) {
    if (fmt == NULL)
        fmt = "B";
    if (*fmt == '@' || *fmt == '=' || (*fmt == '<' && little_endian()))
        fmt++;
    if (fmt[0] == '\0' || fmt[1] != '\0')
        return 0;
    return kind == 'i' ? strchr("bhilq", fmt[0]) != NULL : strchr("fd", fmt[0]) != NULL;
}

/* A one-dimensional C-contiguous array of `kind` and `itemsize` (kind 'i' int, 'f' float), or -1
 * with TypeError/ValueError naming the argument. */
static int get_array(PyObject *obj, Py_buffer *view, const char *name, char kind, Py_ssize_t itemsize,
                     int writable) {
    const char *type = kind == 'i' ? (itemsize == 4 ? "int32" : "int64") : (itemsize == 4 ? "float32" : "float64");
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

/* --- ranking -------------------------------------------------------------------------------- */

/* The total order of results: higher score first, then lower passage number. */
static inline int better(const Cand *a, const Cand *b) {
    return a->score > b->score || (a->score == b->score && a->doc < b->doc);
}

/* The same order for qsort, made total also for NaN scores (a damaged index): qsort must never be
 * given an inconsistent comparison. */
static int by_rank(const void *a, const void *b) {
    const Cand *x = a, *y = b;
    int x_nan = x->score != x->score, y_nan = y->score != y->score;
    if (x_nan || y_nan) {
        if (x_nan != y_nan)
            return x_nan ? 1 : -1;
        return (x->doc > y->doc) - (x->doc < y->doc);
    }
    return better(x, y) ? -1 : better(y, x) ? 1 : 0;
}

static int by_doc(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* A heap whose root is the worst of the kept candidates. */
static void sift_up(Cand *h, size_t i) {
    Cand x = h[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!better(&h[p], &x))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static void sift_down(Cand *h, size_t n, size_t i) {
    Cand x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && better(&h[c], &h[c + 1]))
            c++;
        if (!better(&x, &h[c]))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

/* The best m of the candidates (their scores in buf), best first; returns how many (≤ m). */
static size_t best_of(const int32_t *cand, size_t count, const double *buf, size_t m, Cand *heap) {
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        Cand c = {buf[cand[i]], cand[i]};
        if (n < m) {
            heap[n] = c;
            sift_up(heap, n++);
        } else if (better(&c, &heap[0])) {
            heap[0] = c;
            sift_down(heap, n, 0);
        }
    }
    qsort(heap, n, sizeof(Cand), by_rank);
    return n;
}

/* The top k of the candidates into res (best first): passages, or with groups the first (best)
 * passage of each of the top k groups. Returns how many (≤ k), or -1 when out of memory. */
static Py_ssize_t ranked(const int32_t *cand, size_t count, const double *buf, const int32_t *groups, size_t k,
                         Cand *res) {
    if (k == 0 || count == 0)
        return 0;
    if (groups == NULL) {
        size_t m = k < count ? k : count;
        Cand *heap = malloc(m * sizeof(Cand));
        if (!heap)
            return -1;
        size_t n = best_of(cand, count, buf, m, heap);
        memcpy(res, heap, n * sizeof(Cand));
        free(heap);
        return (Py_ssize_t)n;
    }
    size_t m = k <= count / GROUP_WIDTH ? k * GROUP_WIDTH : count;
    for (;;) {
        size_t slots = 16;
        while (slots < 2 * m)
            slots *= 2;
        Cand *heap = malloc(m * sizeof(Cand));
        uint64_t *seen = calloc(slots, sizeof(uint64_t)); /* group + 1 per used slot, 0 if empty */
        if (!heap || !seen) {
            free(heap);
            free(seen);
            return -1;
        }
        size_t n = best_of(cand, count, buf, m, heap), found = 0;
        for (size_t i = 0; i < n && found < k; i++) {
            uint64_t key = (uint64_t)(uint32_t)groups[heap[i].doc] + 1;
            size_t s = (size_t)(key * 0x9E3779B97F4A7C15ull >> 20) & (slots - 1);
            while (seen[s] && seen[s] != key)
                s = (s + 1) & (slots - 1);
            if (!seen[s]) {
                seen[s] = key;
                res[found++] = heap[i];
            }
        }
        free(heap);
        free(seen);
        /* The best m passages hold each group's best ahead of any other of its passages, so k
         * groups found among them are the top k; fewer, and only all candidates settle it. */
        if (found == k || m == count)
            return (Py_ssize_t)found;
        m = m <= count / 4 ? m * 4 : count;
    }
}

/* The k-th best (of passages or groups) among the candidates, into *kth: 1 if there are k, 0 if
 * fewer, -1 when out of memory. */
static int kth_best(const int32_t *cand, size_t count, const double *buf, const int32_t *groups, size_t k,
                    double *kth) {
    if (k == 0 || count < k)
        return 0;
    Cand *res = malloc(k * sizeof(Cand));
    if (!res)
        return -1;
    Py_ssize_t n = ranked(cand, count, buf, groups, k, res);
    int found = n == (Py_ssize_t)k;
    if (found)
        *kth = res[k - 1].score;
    free(res);
    return n < 0 ? -1 : found;
}

static inline double reach(double bound) {
    return bound * (1 + BOUND_SLACK);
}

/* The first position at or after lo whose passage is at least `doc` (len if none): galloping,
 * so a walk over ascending targets costs about a merge when they are dense, a binary search each
 * when they are sparse. */
static inline Py_ssize_t gallop(const int32_t *docs, Py_ssize_t lo, Py_ssize_t len, int32_t doc) {
    Py_ssize_t hi = lo, step = 1;
    while (hi < len && docs[hi] < doc) {
        lo = hi + 1;
        hi += step;
        step *= 2;
    }
    if (hi > len)
        hi = len;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (docs[mid] < doc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* --- scoring -------------------------------------------------------------------------------- */

typedef struct {
    Term *terms;
    Py_ssize_t n_terms;
    size_t k;
    const int32_t *groups;
    double *buf;
    Py_ssize_t n_passages;
    int prune; /* more than one term, every factor safely positive: bounds hold, sums only grow */
    Py_ssize_t prune_min; /* PRUNE_MIN_POSTINGS unless a test lowers it */
    /* out */
    Cand *res;
    Py_ssize_t found;
    Py_ssize_t pruned_at; /* the term from which only candidates were completed, -1 if none */
    Py_ssize_t completed; /* how many candidates were still in the race then */
    int32_t bad_doc;
    Py_ssize_t bad_term;
} Job;

/* Terms j.. onto the candidates still able to reach kth; the top k into job->res. The candidates
 * (touched) are left as they are: the caller clears their slots. */
static int complete(Job *job, const int32_t *touched, size_t count, Py_ssize_t j, const double *left, double kth) {
    double *buf = job->buf;
    double r = reach(left[j]);
    int32_t *alive = malloc((count ? count : 1) * sizeof(int32_t));
    if (!alive)
        return NO_MEMORY;
    size_t n_alive = 0;
    for (size_t i = 0; i < count; i++)
        if (buf[touched[i]] + r >= kth)
            alive[n_alive++] = touched[i];
    job->pruned_at = j;
    job->completed = (Py_ssize_t)n_alive;
    qsort(alive, n_alive, sizeof(int32_t), by_doc);
    for (Py_ssize_t i = j; i < job->n_terms; i++) {
        const Term *t = &job->terms[i];
        Py_ssize_t pos = 0;
        for (size_t a = 0; a < n_alive && pos < t->len; a++) {
            int32_t d = alive[a];
            pos = gallop(t->docs, pos, t->len, d);
            if (pos < t->len && t->docs[pos] == d)
                buf[d] = buf[d] + (double)t->imps[pos] * t->factor;
        }
        if (i + 1 < job->n_terms) {
            /* Scores are more complete now: a higher k-th best, fewer still in the race. */
            double now;
            int got = kth_best(alive, n_alive, buf, job->groups, job->k, &now);
            if (got < 0) {
                free(alive);
                return NO_MEMORY;
            }
            if (got && now > kth)
                kth = now;
            r = reach(left[i + 1]);
            size_t kept = 0;
            for (size_t a = 0; a < n_alive; a++)
                if (buf[alive[a]] + r >= kth)
                    alive[kept++] = alive[a];
            n_alive = kept;
        }
    }
    job->found = ranked(alive, n_alive, buf, job->groups, job->k, job->res);
    free(alive);
    return job->found < 0 ? NO_MEMORY : OK;
}

/* Adds terms into buf (collecting each passage once into touched), pruning when it can. The
 * passages touched are in touched[0:*count] for the caller to clear, whatever happens. */
static int score_terms(Job *job, int32_t *touched, size_t *count, uint8_t *marks, const double *left,
                       const Py_ssize_t *rest) {
    double *buf = job->buf;
    uint32_t n = (uint32_t)job->n_passages;
    double ceiling = Py_HUGE_VAL; /* the k-th best can be no higher: last check's + bounds added since */
    size_t c = 0;
    int status = OK;
    for (Py_ssize_t j = 0; j < job->n_terms; j++) {
        const Term *t = &job->terms[j];
        if (job->prune && j > 0 && rest[j] >= job->prune_min && (size_t)rest[j] >= CHECK_RATIO * c
            && reach(left[j]) < ceiling) {
            double kth;
            int got = kth_best(touched, c, buf, job->groups, job->k, &kth);
            if (got < 0) {
                status = NO_MEMORY;
                goto done;
            }
            if (got && reach(left[j]) < kth) {
                *count = c;
                return complete(job, touched, c, j, left, kth);
            }
            ceiling = got ? kth : Py_HUGE_VAL;
        }
        const int32_t *docs = t->docs;
        const float *imps = t->imps;
        double f = t->factor;
        for (Py_ssize_t p = 0; p < t->len; p++) {
            int32_t d = docs[p];
            if ((uint32_t)d >= n) {
                job->bad_doc = d;
                job->bad_term = t->tid;
                status = BAD_DOC;
                goto done;
            }
            if (job->n_terms == 1) {
                /* numpy's `imp * f` itself, not 0.0 + it (which would turn -0.0 into 0.0) */
                touched[c++] = d;
                buf[d] = (double)imps[p] * f;
            } else if (marks) {
                if (!marks[d]) {
                    marks[d] = 1;
                    touched[c++] = d;
                }
                buf[d] = buf[d] + (double)imps[p] * f;
            } else {
                /* Every product is positive here: a slot still at 0.0 is a new candidate. */
                double v = buf[d];
                if (v == 0.0)
                    touched[c++] = d;
                buf[d] = v + (double)imps[p] * f;
            }
        }
        ceiling += t->bound;
    }
    *count = c;
    job->found = ranked(touched, c, buf, job->groups, job->k, job->res);
    return job->found < 0 ? NO_MEMORY : OK;
done:
    *count = c;
    return status;
}

/* Runs the job; buf is all 0.0 again afterwards. Needs no GIL. */
static int run(Job *job) {
    Py_ssize_t nt = job->n_terms;
    size_t total = 0;
    for (Py_ssize_t i = 0; i < nt; i++)
        total += (size_t)job->terms[i].len;
    double *left = malloc((nt + 1) * sizeof(double));
    Py_ssize_t *rest = malloc((nt + 1) * sizeof(Py_ssize_t));
    int32_t *touched = malloc((total ? total : 1) * sizeof(int32_t));
    uint8_t *marks = NULL;
    int status = OK;
    if (!left || !rest || !touched) {
        status = NO_MEMORY;
        goto out;
    }
    if (!job->prune && nt > 1) {
        marks = calloc((size_t)job->n_passages ? (size_t)job->n_passages : 1, 1);
        if (!marks) {
            status = NO_MEMORY;
            goto out;
        }
    }
    /* left[j]: the most terms j.. can add (summed from the last, as the numpy version's cumsum) */
    left[nt] = 0.0;
    rest[nt] = 0;
    for (Py_ssize_t j = nt - 1; j >= 0; j--) {
        left[j] = left[j + 1] + job->terms[j].bound;
        rest[j] = rest[j + 1] + job->terms[j].len;
    }
    size_t count = 0;
    status = score_terms(job, touched, &count, marks, left, rest);
    if (count * 4 > (size_t)job->n_passages)
        memset(job->buf, 0, (size_t)job->n_passages * sizeof(double));
    else
        for (size_t i = 0; i < count; i++)
            job->buf[touched[i]] = 0.0;
out:
    free(left);
    free(rest);
    free(touched);
    free(marks);
    return status;
}

/* --- the entry point ------------------------------------------------------------------------ */

/* The numpy version's term order: by descending bound, then term id (a stable insertion sort:
 * queries have a handful of terms). */
static void order_terms(Term *terms, Py_ssize_t n) {
    for (Py_ssize_t i = 1; i < n; i++) {
        Term x = terms[i];
        Py_ssize_t j = i;
        while (j > 0 && (terms[j - 1].bound < x.bound || (terms[j - 1].bound == x.bound && terms[j - 1].tid > x.tid))) {
            terms[j] = terms[j - 1];
            j--;
        }
        terms[j] = x;
    }
}

enum { B_OFFSETS, B_DOCS, B_IMPACTS, B_IDF, B_MAX, B_GROUPS, B_SCRATCH, B_OUT_DOCS, B_OUT_SCORES, N_BUFFERS };

static PyObject *top(PyObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"offsets", "doc_ids", "impacts", "idf", "max_impact", "term_ids", "weights", "k",
                             "groups", "scratch", "out_docs", "out_scores", "prune_min", "stats", NULL};
    PyObject *objs[N_BUFFERS], *term_ids, *weights, *stats = Py_None;
    Py_ssize_t k, prune_min = PRUNE_MIN_POSTINGS;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOOOnOOOO|$nO", kwlist, &objs[B_OFFSETS], &objs[B_DOCS],
                                     &objs[B_IMPACTS], &objs[B_IDF], &objs[B_MAX], &term_ids, &weights, &k,
                                     &objs[B_GROUPS], &objs[B_SCRATCH], &objs[B_OUT_DOCS], &objs[B_OUT_SCORES],
                                     &prune_min, &stats))
        return NULL;
    if (stats != Py_None && !PyList_Check(stats)) {
        PyErr_Format(PyExc_TypeError, "stats must be a list or None, not %.100s", Py_TYPE(stats)->tp_name);
        return NULL;
    }
    static const struct {
        const char *name;
        char kind;
        Py_ssize_t size;
        int writable;
    } spec[N_BUFFERS] = {
        {"offsets", 'i', 8, 0}, {"doc_ids", 'i', 4, 0}, {"impacts", 'f', 4, 0},
        {"idf", 'f', 8, 0},     {"max_impact", 'f', 4, 0}, {"groups", 'i', 4, 0},
        {"scratch", 'f', 8, 1}, {"out_docs", 'i', 4, 1},   {"out_scores", 'f', 8, 1},
    };
    Py_buffer views[N_BUFFERS];
    int held[N_BUFFERS] = {0};
    PyObject *result = NULL, *ids = NULL, *ws = NULL;
    Term *terms = NULL;
    Cand *res = NULL;
    for (int i = 0; i < N_BUFFERS; i++) {
        if (i == B_GROUPS && objs[i] == Py_None)
            continue;
        if (get_array(objs[i], &views[i], spec[i].name, spec[i].kind, spec[i].size, spec[i].writable) < 0)
            goto out;
        held[i] = 1;
    }
    const int64_t *offsets = views[B_OFFSETS].buf;
    Py_ssize_t n_offsets = views[B_OFFSETS].shape[0], n_postings = views[B_DOCS].shape[0];
    Py_ssize_t n_passages = views[B_SCRATCH].shape[0], vocab = n_offsets - 1;
    if (k < 0) {
        PyErr_Format(PyExc_ValueError, "k must be >= 0, not %zd", k);
        goto out;
    }
    if (views[B_IMPACTS].shape[0] != n_postings) {
        PyErr_Format(PyExc_ValueError, "impacts has %zd entries, doc_ids %zd", views[B_IMPACTS].shape[0], n_postings);
        goto out;
    }
    if (vocab < 0 || views[B_IDF].shape[0] != vocab || views[B_MAX].shape[0] != vocab) {
        PyErr_Format(PyExc_ValueError, "offsets (%zd entries) must be one longer than idf (%zd) and max_impact (%zd)",
                     n_offsets, views[B_IDF].shape[0], views[B_MAX].shape[0]);
        goto out;
    }
    if (n_passages > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "scratch has more slots than int32 passage numbers can address");
        goto out;
    }
    if (held[B_GROUPS] && views[B_GROUPS].shape[0] != n_passages) {
        PyErr_Format(PyExc_ValueError, "groups has %zd entries, scratch (one per passage) %zd",
                     views[B_GROUPS].shape[0], n_passages);
        goto out;
    }
    Py_ssize_t want = k < n_passages ? k : n_passages;
    if (views[B_OUT_DOCS].shape[0] < want || views[B_OUT_SCORES].shape[0] < want) {
        PyErr_Format(PyExc_ValueError, "out_docs and out_scores need min(k, passages) = %zd entries (have %zd, %zd)",
                     want, views[B_OUT_DOCS].shape[0], views[B_OUT_SCORES].shape[0]);
        goto out;
    }
    ids = PySequence_Fast(term_ids, "term_ids must be a sequence of ints");
    ws = ids ? PySequence_Fast(weights, "weights must be a sequence of floats") : NULL;
    if (!ws)
        goto out;
    Py_ssize_t nt = PySequence_Fast_GET_SIZE(ids);
    if (PySequence_Fast_GET_SIZE(ws) != nt) {
        PyErr_Format(PyExc_ValueError, "term_ids has %zd entries, weights %zd", nt, PySequence_Fast_GET_SIZE(ws));
        goto out;
    }
    if (nt == 0 || want == 0) {
        result = PyLong_FromSsize_t(0);
        goto out;
    }
    terms = PyMem_Malloc(nt * sizeof(Term));
    res = PyMem_Malloc(want * sizeof(Cand));
    if (!terms || !res) {
        PyErr_NoMemory();
        goto out;
    }
    const int32_t *doc_ids = views[B_DOCS].buf;
    const float *impacts = views[B_IMPACTS].buf, *max_impact = views[B_MAX].buf;
    const double *idf = views[B_IDF].buf;
    /* numpy sorts the terms unless there is one or some factor is <= 0 (then its `score` adds them
     * in the caller's order, marking candidates) */
    int sorted = nt > 1, prune = nt > 1;
    size_t total = 0;
    for (Py_ssize_t i = 0; i < nt; i++) {
        Py_ssize_t tid = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(ids, i));
        if (tid == -1 && PyErr_Occurred())
            goto out;
        double w = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(ws, i));
        if (w == -1.0 && PyErr_Occurred())
            goto out;
        if (tid < 0 || tid >= vocab) {
            PyErr_Format(PyExc_ValueError, "term id %zd is outside the vocabulary (%zd terms)", tid, vocab);
            goto out;
        }
        int64_t lo = offsets[tid], hi = offsets[tid + 1];
        if (lo < 0 || hi < lo || hi > n_postings) {
            PyErr_Format(PyExc_ValueError, "offsets of term %zd (%lld..%lld) are outside the %zd postings", tid,
                         (long long)lo, (long long)hi, n_postings);
            goto out;
        }
        double f = w * idf[tid];
        terms[i] = (Term){doc_ids + lo, impacts + lo, (Py_ssize_t)(hi - lo), tid, f, f * (double)max_impact[tid]};
        total += (size_t)(hi - lo);
        if (f <= 0)
            sorted = 0;
        if (!(f >= SAFE_FACTOR))
            prune = 0;
    }
    if (sorted)
        order_terms(terms, nt);
    Job job = {terms, nt, (size_t)want, held[B_GROUPS] ? views[B_GROUPS].buf : NULL, views[B_SCRATCH].buf,
               n_passages, prune, prune_min, res, 0, -1, 0, 0, 0};
    int status;
    if (total >= GIL_RELEASE_POSTINGS) {
        Py_BEGIN_ALLOW_THREADS
        status = run(&job);
        Py_END_ALLOW_THREADS
    } else {
        status = run(&job);
    }
    if (status == NO_MEMORY) {
        PyErr_NoMemory();
        goto out;
    }
    if (status == BAD_DOC) {
        PyErr_Format(PyExc_ValueError, "term %zd has a posting for passage %d, outside the %zd passages",
                     job.bad_term, (int)job.bad_doc, n_passages);
        goto out;
    }
    if (stats != Py_None) {
        PyObject *entry = Py_BuildValue("(nn)", job.pruned_at, job.completed);
        if (!entry || PyList_Append(stats, entry) < 0) {
            Py_XDECREF(entry);
            goto out;
        }
        Py_DECREF(entry);
    }
    int32_t *out_docs = views[B_OUT_DOCS].buf;
    double *out_scores = views[B_OUT_SCORES].buf;
    for (Py_ssize_t i = 0; i < job.found; i++) {
        out_docs[i] = res[i].doc;
        out_scores[i] = res[i].score;
    }
    result = PyLong_FromSsize_t(job.found);
out:
    PyMem_Free(terms);
    PyMem_Free(res);
    Py_XDECREF(ids);
    Py_XDECREF(ws);
    for (int i = 0; i < N_BUFFERS; i++)
        if (held[i])
            PyBuffer_Release(&views[i]);
    return result;
}

static PyMethodDef module_methods[] = {
    {"top", (PyCFunction)(void (*)(void))top, METH_VARARGS | METH_KEYWORDS,
     "top(offsets, doc_ids, impacts, idf, max_impact, term_ids, weights, k, groups, scratch, out_docs, out_scores)"
     " -> count: bm25._top's top k (or the best passage of each of the top k groups) into out_docs/out_scores."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_topk", .m_doc = "bm25._top's scoring kernel in C.", .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__topk(void) {
    return PyModule_Create(&module);
}
