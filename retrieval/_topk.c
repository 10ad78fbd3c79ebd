/* The scoring kernel of `topk.top` in C (retrieval/topk.py's numpy `_top_numpy` is the specification).
 *
 * `top(offsets, doc_ids, impacts, idf, max_impact, term_ids, weights, k, groups, scratch, out_docs,
 * out_scores, *, prune_min=PRUNE_MIN_POSTINGS, stats=None)` returns how many results it wrote to
 * out_docs/out_scores: the top k passages by score (ties to the lower passage number) or, with
 * `groups` (the group of each passage), the best passage of each of the top k groups, ordered the
 * same way. It gives what the numpy version gives, bit for bit:
 *
 *   - a term's factor is `weight * idf[tid]` and its bound `factor * max_impact[tid]`, in double,
 *     as numpy's `np.float64(w) * idf[tid]` and `f * np.float64(max_impact[tid])`;
 *   - terms are added in the numpy version's order (by descending bound, then term id; in the
 *     caller's order when some factor is <= 0 or there is one term) and every passage's sum is
 *     formed the same way: `sum + (double)impact * factor` from 0.0, one term after the other
 *     (numpy's add.at of `imp * f`). The module is compiled with -ffp-contract=off so that the
 *     compiler never fuses that into one rounding (an FMA);
 *   - with a single term the score is the product itself (numpy's `imp * f`, which keeps the
 *     sign of a zero that 0.0 + x would drop);
 *   - results are ranked by the total order (score descending, passage ascending), as numpy's
 *     lexsort ranks them; a group ranks by its best passage in that order.
 *
 * Pruning (MaxScore, as in the numpy version, but term-at-a-time only up to the switch): lists are
 * added whole, rarest words first, each passage offered to a top-k heap whenever its sum grows,
 * so the k-th best partial score (of passages, or of groups' best passages) is known at every
 * moment. Before a list, once it beats everything the remaining terms can add (`left[j]`, raised
 * by the same 1e-9 slack against rounding), no passage outside the candidates can reach the top
 * k: the candidates still able to reach the k-th best are then completed one by one, looked up in
 * the remaining (sorted) lists by galloping search and dropped as soon as they fall out of the
 * race. With a factor that is not safely positive no bound holds (a sum can fall), so everything
 * is added and ranked at the end.
 *
 * `scratch` (float64, one slot per passage, all 0.0) is the caller's per-thread buffer; it is
 * left all 0.0 on return, also on error. Nothing from the index is trusted: term ids, offsets and
 * every posting's passage number are checked before use, so a damaged index raises ValueError
 * instead of reading or writing out of bounds.
 *
 * The switch is made only when completing the candidates is cheaper than adding the remaining lists
 * whole (`worth_completing`: each candidate still in the race costs a search, about COMPLETE_COST
 * postings while the score buffer fits the L2 cache): at 100k passages thousands of candidates are
 * often left against a few thousand remaining postings, and searching for each cost more than
 * reading the lists. A larger buffer switches whenever the bounds allow, as before. While the buffer
 * fits the L2 cache, a list added whole once the bounds hold (too short to switch for, or completing
 * declined) adds its term only to the candidates still in the race: the passages it would bring in
 * and those out of the race are read, not written.
 *
 * For tests: `prune_min` lowers the pruning threshold so that small indexes prune too,
 * `complete_cost=0` switches whenever the bounds allow (however many candidates; the default, -1,
 * is COMPLETE_COST while the score buffer fits the L2 cache, else 0), and a list
 * given as `stats` gets (the term from which only candidates were completed or -1, how many
 * candidates were still in the race then) appended.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The switch to completing candidates is only made when the postings still to come are at least
 * this many: below, adding them whole costs about as much as the switch (copying the candidates
 * out). Measured at 1M passages: 0, 4096 and 32768 within 5% of each other (docs/performance.md). */
#define PRUNE_MIN_POSTINGS 4096
/* Bounds are raised by this fraction so that float rounding of a sum can never beat them
 * (the numpy version's _BOUND_SLACK). */
#define BOUND_SLACK 1e-9
/* PRUNE_MIN_POSTINGS for a view searched with a floor (`Views.leading`: a segment after the base),
 * whose k-th best is known before its first list: switching to completing candidates pays off on
 * shorter lists there. Measured at 100k passages with segments: 64-1024 within noise of each other,
 * 4096 ~5% slower on the whole call. */
#define FLOOR_PRUNE_MIN_POSTINGS 1024
/* A candidate completed by search costs about this many postings added whole (worth_completing),
 * while the score buffer fits the core's L2 cache. Measured (`benchmarks.lab.views_ab`, per-call
 * medians against always switching): at 100k passages (a 0.8 MB buffer) 4, 8, 16, 32 ×1.05, ×1.15,
 * ×1.20, ×1.19; at 1M (8 MB) every posting added whole misses the cache and switching whenever the
 * bounds allow is best (1: ×0.99, 2: ×0.97, 4: ×0.87, 8: ×0.78), so a larger buffer always switches. */
#define COMPLETE_COST 16
/* The GIL is released while scoring when the query's postings are at least this many (~0.1 ms of
 * work). Releasing is safe: the buffers stay exported (numpy refuses to resize or free an array
 * while they are held), the index arrays are never written, and the scratch buffer and the output
 * arrays belong to the calling thread. It is not free, though: getting the GIL back waits for
 * the thread that took it to reach its switch interval, so small queries keep it. */
#define GIL_RELEASE_POSTINGS 32768
/* A factor below this is not "safely positive": impact × factor could underflow to 0, and a zero
 * sum would not mark its passage as a candidate (the fast path takes a slot still at 0.0 for a new
 * one). Such factors take the path that marks candidates in a byte array instead, with no pruning. */
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
    /* With an impact table (`table=`), `impacts` holds a code per posting and the impact is
     * table[code] (retrieval/segment.py: the table follows the index-wide average length).
     * Codes are checked against the table where a segment is built or loaded, not here. */
    const uint32_t *codes;
    const float *table;
} Term;

enum { OK = 0, NO_MEMORY, BAD_DOC };

/* A posting's impact, widened as numpy widens the float32 impacts it multiplies. */
static inline double imp_at(const Term *t, Py_ssize_t p) {
    return t->codes ? (double)t->table[t->codes[p]] : (double)t->imps[p];
}

/* --- buffers -------------------------------------------------------------------------------- */

#include "_buffers.h"

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

/* The best k seen so far: a heap whose root is the worst kept, of passages or, with groups, of
 * groups, each by its best passage offered so far. Entries are keyed (by the passage's group, or
 * by the passage itself without groups) through a small hash map (key → heap position), so a
 * passage offered again with a higher score, or a better passage of a kept group, updates its
 * entry instead of taking a second one. A candidate no better than the root changes nothing (if
 * its key is kept, that entry is already better); a better one improves its key's entry, or
 * enters in place of the root's key. A key evicted and offered again enters with that passage,
 * which beats the root of the time of the eviction and so whatever the key had then.
 *
 * Scores only grow while terms are added (every factor positive), so offering each passage every
 * time its sum grows keeps the heap's root a lower bound on the k-th best at every moment, for
 * free, and the heap itself exactly the top k once all terms are in. */
typedef struct {
    size_t k, n;
    Cand *heap;
    const int32_t *groups; /* NULL: passages, not groups */
    size_t *slot_of;       /* per heap entry: its key's slot */
    uint64_t *keys;        /* per slot: key + 1, 0 if empty */
    size_t *pos;           /* per slot: the heap entry */
    size_t mask;
} Topk;

static int topk_init(Topk *t, size_t k, const int32_t *groups) {
    memset(t, 0, sizeof(*t));
    t->k = k;
    t->groups = groups;
    size_t slots = 16;
    while (slots < 2 * k)
        slots *= 2;
    t->mask = slots - 1;
    t->heap = malloc((k ? k : 1) * sizeof(Cand));
    t->slot_of = malloc((k ? k : 1) * sizeof(size_t));
    t->keys = calloc(slots, sizeof(uint64_t));
    t->pos = malloc(slots * sizeof(size_t));
    return t->heap && t->slot_of && t->keys && t->pos ? 0 : -1;
}

static void topk_free(Topk *t) {
    free(t->heap);
    free(t->slot_of);
    free(t->keys);
    free(t->pos);
}

static void topk_reset(Topk *t) {
    t->n = 0;
    memset(t->keys, 0, (t->mask + 1) * sizeof(uint64_t));
}

static inline void topk_put(Topk *t, size_t i, Cand c, size_t slot) {
    t->heap[i] = c;
    t->slot_of[i] = slot;
    t->pos[slot] = i;
}

static void topk_sift_up(Topk *t, size_t i) {
    Cand x = t->heap[i];
    size_t xs = t->slot_of[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!better(&t->heap[p], &x))
            break;
        topk_put(t, i, t->heap[p], t->slot_of[p]);
        i = p;
    }
    topk_put(t, i, x, xs);
}

static void topk_sift_down(Topk *t, size_t i) {
    Cand x = t->heap[i];
    size_t xs = t->slot_of[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->n)
            break;
        if (c + 1 < t->n && better(&t->heap[c], &t->heap[c + 1]))
            c++;
        if (!better(&x, &t->heap[c]))
            break;
        topk_put(t, i, t->heap[c], t->slot_of[c]);
        i = c;
    }
    topk_put(t, i, x, xs);
}

static inline size_t home_slot(const Topk *t, uint64_t key) {
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & t->mask;
}

/* Empties a slot, shifting back the entries after it that would no longer be found (linear probing). */
static void topk_unslot(Topk *t, size_t s) {
    size_t hole = s, j = s;
    t->keys[hole] = 0;
    for (;;) {
        j = (j + 1) & t->mask;
        if (!t->keys[j])
            return;
        size_t home = home_slot(t, t->keys[j]);
        /* the entry at j stays if its home lies cyclically in (hole, j] */
        int stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            t->keys[hole] = t->keys[j];
            t->pos[hole] = t->pos[j];
            t->slot_of[t->pos[hole]] = hole;
            t->keys[j] = 0;
            hole = j;
        }
    }
}

static void topk_enter(Topk *t, Cand c) {
    uint64_t key = (uint64_t)(uint32_t)(t->groups ? t->groups[c.doc] : c.doc) + 1;
    size_t s = home_slot(t, key);
    while (t->keys[s] && t->keys[s] != key)
        s = (s + 1) & t->mask;
    if (t->keys[s]) { /* the key is kept: c may be its better passage, or its passage grown */
        size_t i = t->pos[s];
        if (better(&c, &t->heap[i])) {
            t->heap[i] = c;
            topk_sift_down(t, i);
        }
        return;
    }
    if (t->n < t->k) {
        t->keys[s] = key;
        topk_put(t, t->n, c, s);
        topk_sift_up(t, t->n++);
        return;
    }
    /* c's key takes the root's place; the root's key leaves the map first (which may move
     * entries, so c's slot is looked up again after). */
    topk_unslot(t, t->slot_of[0]);
    s = home_slot(t, key);
    while (t->keys[s])
        s = (s + 1) & t->mask;
    t->keys[s] = key;
    topk_put(t, 0, c, s);
    topk_sift_down(t, 0);
}

/* Offers a candidate: nearly always turned away by one comparison with the root. */
static inline void topk_add(Topk *t, Cand c) {
    if (t->n < t->k || better(&c, &t->heap[0]))
        topk_enter(t, c);
}

/* The k-th best so far (1) or none yet (0). */
static inline int topk_kth(const Topk *t, double *kth) {
    if (t->n < t->k || t->k == 0)
        return 0;
    *kth = t->heap[0].score;
    return 1;
}

/* The kept candidates, best first, into res; returns how many. */
static size_t topk_sorted(Topk *t, Cand *res) {
    memcpy(res, t->heap, t->n * sizeof(Cand));
    qsort(res, t->n, sizeof(Cand), by_rank);
    return t->n;
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
    /* `floor=`: a score the caller already holds k better results than (another segment's k-th
     * best): passages below it may be pruned at once, so fewer than k may come back. */
    double floor;
    /* COMPLETE_COST unless a test changes it (0: switch whenever the bounds allow, however many
     * candidates are left). */
    Py_ssize_t complete_cost;
} Job;

/* The k-th best so far, or the caller's floor when higher (or when there are not k yet). */
static inline int job_kth(const Job *job, const Topk *top, double *kth) {
    int full = topk_kth(top, kth);
    if (job->floor > -HUGE_VAL) {
        if (!full || *kth < job->floor)
            *kth = job->floor;
        return 1;
    }
    return full;
}

/* Terms j.. onto the candidates still able to reach kth; the top k into job->res.
 *
 * The candidates are copied out with their partial scores and their slots in buf cleared (on
 * failure the caller clears them). touched holds one ascending run per list added so far (the
 * passages that list brought in): each run's candidates are completed in turn, passage by passage
 * (one cursor per remaining list, galloping forward: about a merge when candidates are dense, a
 * binary search each when sparse), their terms added in the same order as ever (so the same
 * sums), each dropped as soon as what is left to add cannot lift it to the k-th best. The k-th
 * best rises as completed candidates fill the top k, so later candidates drop sooner. */
static int complete(Job *job, Topk *top, const int32_t *touched, const size_t *run_start, Py_ssize_t j,
                    const double *left, double kth) {
    double *buf = job->buf;
    size_t cap = 1024, n = 0;
    Cand *alive = malloc(cap * sizeof(Cand));
    Py_ssize_t *cursor = malloc((size_t)job->n_terms * sizeof(Py_ssize_t));
    double *reach_after = malloc((size_t)job->n_terms * sizeof(double));
    size_t *bounds = malloc(((size_t)j + 1) * sizeof(size_t));
    int status = OK;
    if (!alive || !cursor || !reach_after || !bounds) {
        status = NO_MEMORY;
        goto out;
    }
    for (Py_ssize_t i = j; i < job->n_terms; i++)
        reach_after[i] = reach(left[i + 1]);
    double r = reach(left[j]);
    for (Py_ssize_t run = 0; run < j; run++) {
        bounds[run] = n;
        for (size_t i = run_start[run]; i < run_start[run + 1]; i++) {
            /* the last read of each slot: cleared in the same pass */
            int32_t d = touched[i];
            double s = buf[d];
            buf[d] = 0.0;
            if (s + r < kth)
                continue;
            if (n == cap) {
                Cand *more = realloc(alive, 2 * cap * sizeof(Cand));
                if (!more) { /* the caller clears the slots not cleared yet */
                    status = NO_MEMORY;
                    goto out;
                }
                alive = more;
                cap *= 2;
            }
            alive[n].score = s;
            alive[n++].doc = d;
        }
    }
    bounds[j] = n;
    job->pruned_at = j;
    job->completed = (Py_ssize_t)n;
    topk_reset(top);
    for (Py_ssize_t run = 0; run < j; run++) {
        for (Py_ssize_t i = j; i < job->n_terms; i++)
            cursor[i] = 0;
        for (size_t a = bounds[run]; a < bounds[run + 1]; a++) {
            double s = alive[a].score;
            int32_t d = alive[a].doc;
            if (s + r < kth)
                continue;
            Py_ssize_t i = j;
            for (; i < job->n_terms; i++) {
                const Term *t = &job->terms[i];
                Py_ssize_t pos = cursor[i] = gallop(t->docs, cursor[i], t->len, d);
                if (pos < t->len && t->docs[pos] == d)
                    s = s + imp_at(t, pos) * t->factor;
                if (s + reach_after[i] < kth)
                    break; /* out of the race: below the k-th best whatever the rest adds */
            }
            if (i == job->n_terms) {
                Cand c = {s, d};
                topk_add(top, c);
                double now;
                if (topk_kth(top, &now) && now > kth)
                    kth = now;
            }
        }
    }
    job->found = (Py_ssize_t)topk_sorted(top, job->res);
out:
    free(alive);
    free(cursor);
    free(reach_after);
    free(bounds);
    return status;
}

/* The passages whose float64 score slots fit the L2 cache (sysconf's, 1 MiB if it does not say):
 * set when the module is loaded. */
static Py_ssize_t cached_passages = (1 << 20) / sizeof(double);

/* COMPLETE_COST for a view of n passages: 0 (switch whenever the bounds allow) when its score buffer
 * does not fit the L2 cache, where adding a posting costs about what a search does. */
static inline Py_ssize_t complete_cost_for(Py_ssize_t n) {
    return n <= cached_passages ? COMPLETE_COST : 0;
}

/* Whether switching to completing candidates is cheaper than adding the remaining lists whole
 * (`rest` postings): each candidate still able to reach kth costs a search in the next remaining
 * list (a few cache misses), where a posting added whole costs about one. The candidates are
 * counted only when there may be too many (a pass over the touched slots, reads only); once the
 * count says no, later lists are added whole without counting again. */
static int worth_completing(const Job *job, const int32_t *touched, size_t c, Py_ssize_t rest, double r,
                            double kth, int *declined) {
    size_t per = (size_t)job->complete_cost;
    if (per == 0 || c * per <= (size_t)rest)
        return 1;
    if (*declined)
        return 0;
    const double *buf = job->buf;
    size_t alive = 0;
    for (size_t i = 0; i < c; i++)
        alive += !(buf[touched[i]] + r < kth);
    if (alive * per <= (size_t)rest)
        return 1;
    *declined = 1;
    return 0;
}

/* Adds terms into buf (collecting each passage once into touched), pruning when it can. On
 * success the slots are clear again (*count is 0); on error the passages whose slots are not are
 * in touched[0:*count], for the caller to clear. */
static int score_terms(Job *job, Topk *top, int32_t *touched, size_t *run_start, size_t *count, uint8_t *marks,
                       const double *left, const Py_ssize_t *rest) {
    double *buf = job->buf;
    uint32_t n = (uint32_t)job->n_passages;
    size_t c = 0;
    int declined = 0;
    topk_reset(top);
    for (Py_ssize_t j = 0; j < job->n_terms; j++) {
        const Term *t = &job->terms[j];
        run_start[j] = c;
        double kth;
        /* The k-th best so far beats all that this list and the rest can add, so no passage this list
         * would bring in can reach it (nor any candidate left below it by that margin). */
        int bounds_hold = job->prune && j > 0 && job_kth(job, top, &kth) && reach(left[j]) < kth;
        if (bounds_hold && rest[j] >= job->prune_min &&
            worth_completing(job, touched, c, rest[j], reach(left[j]), kth, &declined)) {
            *count = c;
            int status = complete(job, top, touched, run_start, j, left, kth);
            *count = status == OK ? 0 : c; /* complete cleared the slots, or the caller does */
            return status;
        }
        /* Adding a bounded list to the candidates in the race only pays while the score buffer fits
         * the L2 cache (`views_ab`: ×1.10-1.16 per call at 100k; ×0.95 at 1M, an 8 MB buffer, where
         * adding the list whole is faster). */
        int bounded = bounds_hold && job->n_passages <= cached_passages;
        /* One loop per mode rather than the mode tested per posting. */
        const int32_t *docs = t->docs;
        double f = t->factor;
        Py_ssize_t p = 0;
        if (bounded) {
            /* The list added whole, but only to the candidates still in the race: a passage it would
             * bring in (0.0) or one that cannot reach kth whatever it gets (it stays out: kth only rises
             * and what is left to add only falls) is skipped, unwritten and not offered. Its slot is
             * then short of this term, which nothing reads: it never ranks, complete() and
             * worth_completing drop it as out of the race whichever value it holds, and clearing
             * does not look at values. The sums that are formed are formed as ever, term by term. */
            double r = reach(left[j]);
#define ADD_IN_RACE(IMPACT)                                                                             \
    for (; p < t->len && (uint32_t)docs[p] < n; p++) {                                                 \
        int32_t d = docs[p];                                                                          \
        double v = buf[d];                                                                            \
        if (v + r < kth)                                                                              \
            continue;                                                                                 \
        Cand grown = {v + (double)(IMPACT) * f, d};                                                   \
        buf[d] = grown.score;                                                                         \
        topk_add(top, grown);                                                                         \
    }
            if (t->codes) {
                const uint32_t *codes = t->codes;
                const float *table = t->table;
                ADD_IN_RACE(table[codes[p]])
            } else {
                const float *imps = t->imps;
                ADD_IN_RACE(imps[p])
            }
#undef ADD_IN_RACE
        } else if (job->prune) {
            /* Every product is positive here: a slot still at 0.0 is a new candidate. The passage is
             * written to touched whatever it is and kept by counting it (touched has room for every
             * posting): whether a slot is new follows no pattern a branch predictor can learn. The
             * impacts' kind is tested once a list, not once a posting. */
#define ADD_LIST(IMPACT)                                                                                \
    for (; p < t->len && (uint32_t)docs[p] < n; p++) {                                                 \
        int32_t d = docs[p];                                                                          \
        double v = buf[d];                                                                            \
        touched[c] = d;                                                                               \
        c += v == 0.0;                                                                                \
        Cand grown = {v + (double)(IMPACT) * f, d};                                                   \
        buf[d] = grown.score;                                                                         \
        topk_add(top, grown);                                                                         \
    }
            if (t->codes) {
                const uint32_t *codes = t->codes;
                const float *table = t->table;
                ADD_LIST(table[codes[p]])
            } else {
                const float *imps = t->imps;
                ADD_LIST(imps[p])
            }
#undef ADD_LIST
        } else if (job->n_terms == 1) {
            for (; p < t->len && (uint32_t)docs[p] < n; p++) {
                /* numpy's `imp * f` itself, not 0.0 + it (which would turn -0.0 into 0.0) */
                touched[c++] = docs[p];
                buf[docs[p]] = imp_at(t, p) * f;
            }
        } else {
            for (; p < t->len && (uint32_t)docs[p] < n; p++) {
                int32_t d = docs[p];
                if (!marks[d]) { /* sums may pass through 0.0 here: marks say what is collected */
                    marks[d] = 1;
                    touched[c++] = d;
                }
                buf[d] = buf[d] + imp_at(t, p) * f;
            }
        }
        if (p < t->len) {
            job->bad_doc = docs[p];
            job->bad_term = t->tid;
            *count = c;
            return BAD_DOC;
        }
    }
    run_start[job->n_terms] = c;
    if (!job->prune) {
        /* Sums may fall (factors <= 0) or were not offered: one pass, the last read of each slot,
         * clearing it as it goes. */
        for (size_t i = 0; i < c; i++) {
            Cand cand = {buf[touched[i]], touched[i]};
            buf[touched[i]] = 0.0;
            topk_add(top, cand);
        }
    } else if (c * 4 > n) {
        memset(buf, 0, (size_t)n * sizeof(double));
    } else {
        for (size_t i = 0; i < c; i++)
            buf[touched[i]] = 0.0;
    }
    job->found = (Py_ssize_t)topk_sorted(top, job->res);
    *count = 0;
    return OK;
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
    size_t *run_start = malloc(((size_t)nt + 1) * sizeof(size_t));
    uint8_t *marks = NULL;
    Topk top;
    int status = OK;
    if (topk_init(&top, job->k, job->groups) < 0 || !left || !rest || !touched || !run_start) {
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
    status = score_terms(job, &top, touched, run_start, &count, marks, left, rest);
    if (count * 4 > (size_t)job->n_passages)
        memset(job->buf, 0, (size_t)job->n_passages * sizeof(double));
    else
        for (size_t i = 0; i < count; i++)
            job->buf[touched[i]] = 0.0;
out:
    topk_free(&top);
    free(left);
    free(rest);
    free(touched);
    free(run_start);
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

enum { B_OFFSETS, B_DOCS, B_IMPACTS, B_IDF, B_MAX, B_GROUPS, B_SCRATCH, B_OUT_DOCS, B_OUT_SCORES, B_TABLE,
       N_BUFFERS };

static PyObject *top(PyObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"offsets", "doc_ids", "impacts", "idf", "max_impact", "term_ids", "weights", "k",
                             "groups", "scratch", "out_docs", "out_scores", "prune_min", "stats", "table", "floor",
                             "complete_cost", NULL};
    PyObject *objs[N_BUFFERS], *term_ids, *weights, *stats = Py_None;
    objs[B_TABLE] = Py_None;
    Py_ssize_t k, prune_min = PRUNE_MIN_POSTINGS, complete_cost = -1;
    double floor = -HUGE_VAL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOOOnOOOO|$nOOdn", kwlist, &objs[B_OFFSETS], &objs[B_DOCS],
                                     &objs[B_IMPACTS], &objs[B_IDF], &objs[B_MAX], &term_ids, &weights, &k,
                                     &objs[B_GROUPS], &objs[B_SCRATCH], &objs[B_OUT_DOCS], &objs[B_OUT_SCORES],
                                     &prune_min, &stats, &objs[B_TABLE], &floor, &complete_cost))
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
        {"table", 'f', 4, 0},
    };
    Py_buffer views[N_BUFFERS];
    int held[N_BUFFERS] = {0};
    PyObject *result = NULL, *ids = NULL, *ws = NULL;
    Term *terms = NULL;
    Cand *res = NULL;
    for (int i = 0; i < N_BUFFERS; i++) {
        if ((i == B_GROUPS || i == B_TABLE) && objs[i] == Py_None)
            continue;
        /* with a table, `impacts` holds uint32 codes into it */
        char kind = i == B_IMPACTS && objs[B_TABLE] != Py_None ? 'u' : spec[i].kind;
        if (get_array(objs[i], &views[i], spec[i].name, kind, spec[i].size, spec[i].writable) < 0)
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
    const uint32_t *codes = held[B_TABLE] ? views[B_IMPACTS].buf : NULL;
    const float *table = held[B_TABLE] ? views[B_TABLE].buf : NULL;
    const double *idf = views[B_IDF].buf;
    /* numpy sorts the terms unless there is one or some factor is <= 0 (then its `score` adds them
     * in the caller's order, marking candidates) */
    int sorted = nt > 1, prune = nt > 1;
    size_t total = 0;
    for (Py_ssize_t i = 0; i < nt; i++) {
        Py_ssize_t tid;
        double w;
        int64_t lo, hi;
        if (read_term(ids, ws, i, &tid, &w) < 0 || term_range(tid, vocab, offsets, n_postings, &lo, &hi) < 0)
            goto out;
        double f = w * idf[tid];
        terms[i] = (Term){doc_ids + lo, codes ? NULL : impacts + lo, (Py_ssize_t)(hi - lo), tid, f,
                          f * (double)max_impact[tid], codes ? codes + lo : NULL, codes ? table : NULL};
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
    job.floor = floor;
    job.complete_cost = complete_cost < 0 ? complete_cost_for(n_passages) : complete_cost;
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

/* --- every view of a live index in one call -------------------------------------------------- */

/* `Views(views)`: the views of one live index (retrieval/segments.py: the base and its segments),
 * each a tuple (offsets, doc_ids, impacts or codes, table or None, idf, max_impact, groups, live or
 * None, passage_ids), with their buffers taken and checked once, for as long as the snapshot lives.
 * `leading(term_ids, weights, depth, scratch)` is `query.leading_passages` (its specification, in
 * Python) in one call: per view the terms with postings there, `top`'s best passage of each of the
 * top `depth` articles (below the depth-th best score found in the views before, once there are
 * that many), the deleted passages dropped (asking that view for all its articles when a deleted
 * one took a place and some factor is not positive: a live article may then score below it), and
 * all of them ordered by (score descending, passage id, view, passage number). It returns the first
 * `depth` as (view, passage number) pairs. `scratch` (float64, all 0.0, at least as many slots as
 * the largest view has passages) is the caller's per-thread buffer, all 0.0 again on return.
 * `floor_prune_min` (FLOOR_PRUNE_MIN_POSTINGS) is PRUNE_MIN_POSTINGS for the views searched with a
 * floor; tests lower it so that small indexes prune too. A view whose terms cannot add up to the
 * floor is skipped. */

enum { V_OFFSETS, V_DOCS, V_IMPACTS, V_TABLE, V_IDF, V_MAX, V_GROUPS, V_LIVE, V_PIDS, V_BUFFERS };

typedef struct {
    Py_buffer buf[V_BUFFERS];
    int held[V_BUFFERS];
    Py_ssize_t n_passages, vocab, n_postings;
} ViewBufs;

typedef struct {
    PyObject_HEAD
    Py_ssize_t n_views;
    Py_ssize_t max_passages;
    ViewBufs *views;
} ViewsObject;

static void views_release(ViewsObject *self) {
    if (self->views) {
        for (Py_ssize_t v = 0; v < self->n_views; v++)
            for (int i = 0; i < V_BUFFERS; i++)
                if (self->views[v].held[i])
                    PyBuffer_Release(&self->views[v].buf[i]);
        PyMem_Free(self->views);
        self->views = NULL;
    }
    self->n_views = 0;
}

static void views_dealloc(ViewsObject *self) {
    views_release(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int views_init(ViewsObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"views", NULL};
    PyObject *seq;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O", kwlist, &seq))
        return -1;
    views_release(self);
    PyObject *fast = PySequence_Fast(seq, "views must be a sequence of tuples");
    if (!fast)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    self->views = PyMem_Calloc(n ? (size_t)n : 1, sizeof(ViewBufs));
    if (!self->views) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    self->n_views = n;
    self->max_passages = 0;
    static const ArraySpec spec[V_BUFFERS] = {
        {"offsets", 'i', 8}, {"doc_ids", 'i', 4}, {"impacts", 'f', 4}, {"table", 'f', 4}, {"idf", 'f', 8},
        {"max_impact", 'f', 4}, {"groups", 'i', 4}, {"live", '?', 1}, {"passage_ids", 'i', 8},
    };
    for (Py_ssize_t v = 0; v < n; v++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, v);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != V_BUFFERS) {
            PyErr_Format(PyExc_TypeError, "view %zd must be a tuple of %d arrays", v, V_BUFFERS);
            goto fail;
        }
        ViewBufs *vb = &self->views[v];
        if (get_view_arrays(item, vb->buf, vb->held, spec, V_BUFFERS, 1u << V_TABLE | 1u << V_LIVE, V_IMPACTS,
                            V_TABLE) < 0)
            goto fail;
        vb->n_passages = vb->buf[V_GROUPS].shape[0];
        vb->vocab = vb->buf[V_OFFSETS].shape[0] - 1;
        vb->n_postings = vb->buf[V_DOCS].shape[0];
        if (vb->n_passages > INT32_MAX) {
            PyErr_Format(PyExc_ValueError, "view %zd has more passages than int32 passage numbers can address", v);
            goto fail;
        }
        if (vb->buf[V_IMPACTS].shape[0] != vb->n_postings) {
            PyErr_Format(PyExc_ValueError, "view %zd: impacts has %zd entries, doc_ids %zd", v,
                         vb->buf[V_IMPACTS].shape[0], vb->n_postings);
            goto fail;
        }
        if (vb->vocab < 0 || vb->buf[V_IDF].shape[0] != vb->vocab || vb->buf[V_MAX].shape[0] != vb->vocab) {
            PyErr_Format(PyExc_ValueError, "view %zd: offsets must be one longer than idf and max_impact", v);
            goto fail;
        }
        if (vb->buf[V_PIDS].shape[0] != vb->n_passages ||
            (vb->held[V_LIVE] && vb->buf[V_LIVE].shape[0] != vb->n_passages)) {
            PyErr_Format(PyExc_ValueError, "view %zd: groups, live and passage_ids need one entry per passage", v);
            goto fail;
        }
        if (vb->n_passages > self->max_passages)
            self->max_passages = vb->n_passages;
    }
    Py_DECREF(fast);
    return 0;
fail:
    Py_DECREF(fast);
    views_release(self);
    return -1;
}

typedef struct {
    double score;
    int64_t pid;
    Py_ssize_t v;
    int32_t d;
} Found;

/* (score descending, passage id, view, passage number), NaN scores last: the order of
 * leading_passages' sort of (-score, passage id, view, passage number). */
static int found_order(const void *a, const void *b) {
    const Found *x = a, *y = b;
    int x_nan = x->score != x->score, y_nan = y->score != y->score;
    if (x_nan != y_nan)
        return x_nan ? 1 : -1;
    if (!x_nan && x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return (x->d > y->d) - (x->d < y->d);
}

static int by_score_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

static PyObject *views_leading(ViewsObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"term_ids", "weights", "depth", "scratch", "floor_prune_min", NULL};
    PyObject *term_ids, *weights, *scratch_obj;
    Py_ssize_t depth, floor_prune_min = FLOOR_PRUNE_MIN_POSTINGS;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOnO|n", kwlist, &term_ids, &weights, &depth, &scratch_obj,
                                     &floor_prune_min))
        return NULL;
    Py_buffer scratch;
    if (get_array(scratch_obj, &scratch, "scratch", 'f', 8, 1) < 0)
        return NULL;
    PyObject *result = NULL, *ids = NULL, *ws = NULL;
    Py_ssize_t *tids = NULL;
    double *wv = NULL, *kth_scores = NULL;
    Term *terms = NULL;
    Cand *res = NULL;
    Found *found = NULL;
    size_t n_found = 0, cap_found = 0;
    if (depth < 0) {
        PyErr_Format(PyExc_ValueError, "depth must be >= 0, not %zd", depth);
        goto out;
    }
    if (scratch.shape[0] < self->max_passages) {
        PyErr_Format(PyExc_ValueError, "scratch has %zd slots, the largest view %zd passages", scratch.shape[0],
                     self->max_passages);
        goto out;
    }
    ids = PySequence_Fast(term_ids, "term_ids must be a sequence of ints");
    ws = ids ? PySequence_Fast(weights, "weights must be a sequence of floats") : NULL;
    if (!ws)
        goto out;
    Py_ssize_t nq = PySequence_Fast_GET_SIZE(ids);
    if (PySequence_Fast_GET_SIZE(ws) != nq) {
        PyErr_Format(PyExc_ValueError, "term_ids has %zd entries, weights %zd", nq, PySequence_Fast_GET_SIZE(ws));
        goto out;
    }
    tids = PyMem_Malloc((nq ? nq : 1) * sizeof(Py_ssize_t));
    wv = PyMem_Malloc((nq ? nq : 1) * sizeof(double));
    terms = PyMem_Malloc((nq ? nq : 1) * sizeof(Term));
    if (!tids || !wv || !terms) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < nq; i++) {
        if (read_term(ids, ws, i, &tids[i], &wv[i]) < 0)
            goto out;
    }
    /* Checks first (with the GIL, to raise), and the postings' total (whether to release it). */
    size_t total = 0;
    for (Py_ssize_t v = 0; v < self->n_views; v++) {
        ViewBufs *vb = &self->views[v];
        const int64_t *offsets = vb->buf[V_OFFSETS].buf;
        for (Py_ssize_t i = 0; i < nq; i++) {
            int64_t lo, hi;
            if (term_range(tids[i], vb->vocab, offsets, vb->n_postings, &lo, &hi) < 0)
                goto out;
            total += (size_t)(hi - lo);
        }
    }
    /* Room for depth results; a view asked for all its articles grows it. */
    size_t res_cap = depth ? (size_t)depth : 1;
    res = malloc(res_cap * sizeof(Cand));
    if (!res) {
        PyErr_NoMemory();
        goto out;
    }
    int status = OK;
    Job job = {0};
    Py_ssize_t bad_view = -1;
    PyThreadState *released = total >= GIL_RELEASE_POSTINGS ? PyEval_SaveThread() : NULL;
    double floor = -HUGE_VAL;
    for (Py_ssize_t v = 0; v < self->n_views && status == OK && depth > 0; v++) {
        ViewBufs *vb = &self->views[v];
        const int64_t *offsets = vb->buf[V_OFFSETS].buf;
        const int32_t *doc_ids = vb->buf[V_DOCS].buf;
        const float *impacts = vb->buf[V_IMPACTS].buf, *max_impact = vb->buf[V_MAX].buf;
        const uint32_t *codes = vb->held[V_TABLE] ? vb->buf[V_IMPACTS].buf : NULL;
        const float *table = vb->held[V_TABLE] ? vb->buf[V_TABLE].buf : NULL;
        const double *idf = vb->buf[V_IDF].buf;
        const uint8_t *live = vb->held[V_LIVE] ? vb->buf[V_LIVE].buf : NULL;
        const int64_t *pids = vb->buf[V_PIDS].buf;
        /* The terms with postings in this view, in the caller's order (what leading_passages passes). */
        Py_ssize_t nt = 0;
        int sorted = 1, prune = 1, positive = 1;
        for (Py_ssize_t i = 0; i < nq; i++) {
            int64_t lo = offsets[tids[i]], hi = offsets[tids[i] + 1];
            if (hi == lo)
                continue;
            double f = wv[i] * idf[tids[i]];
            terms[nt++] = (Term){doc_ids + lo, codes ? NULL : impacts + lo, (Py_ssize_t)(hi - lo), tids[i], f,
                                 f * (double)max_impact[tids[i]], codes ? codes + lo : NULL, codes ? table : NULL};
            if (f <= 0)
                sorted = 0;
            if (!(f >= SAFE_FACTOR))
                prune = 0;
            if (!(f > 0))
                positive = 0;
        }
        if (nt == 0)
            continue;
        if (nt == 1)
            sorted = prune = 0;
        if (sorted)
            order_terms(terms, nt);
        if (prune && floor > -HUGE_VAL) {
            /* Nothing in this view can reach the floor (the most all its terms can add, summed as
             * run() sums it, below it): no article of it can enter, skip it. */
            double most = 0.0;
            for (Py_ssize_t j = nt - 1; j >= 0; j--)
                most = most + terms[j].bound;
            if (reach(most) < floor)
                continue;
        }
        Py_ssize_t want = depth;
        size_t kept_from = n_found;
        for (;;) {
            Py_ssize_t size = want < vb->n_passages ? want : vb->n_passages;
            if ((size_t)size > res_cap) {
                Cand *more = realloc(res, (size_t)size * sizeof(Cand));
                if (!more) {
                    status = NO_MEMORY;
                    break;
                }
                res = more;
                res_cap = (size_t)size;
            }
            job = (Job){terms, nt, (size_t)size, vb->buf[V_GROUPS].buf, scratch.buf, vb->n_passages, prune,
                        floor > -HUGE_VAL ? floor_prune_min : PRUNE_MIN_POSTINGS, res, 0, -1, 0, 0, 0};
            job.floor = floor;
            job.complete_cost = complete_cost_for(vb->n_passages);
            status = size > 0 ? run(&job) : OK;
            if (status != OK) {
                bad_view = v;
                break;
            }
            if (cap_found < n_found + (size_t)job.found) {
                size_t cap = cap_found ? cap_found : 64;
                while (cap < n_found + (size_t)job.found)
                    cap *= 2;
                Found *more = realloc(found, cap * sizeof(Found));
                if (!more) {
                    status = NO_MEMORY;
                    break;
                }
                found = more;
                cap_found = cap;
            }
            n_found = kept_from;
            for (Py_ssize_t i = 0; i < job.found; i++) {
                int32_t d = res[i].doc;
                if (live && !live[d])
                    continue;
                found[n_found++] = (Found){res[i].score, pids[d], v, d};
            }
            Py_ssize_t kept = (Py_ssize_t)(n_found - kept_from);
            /* A deleted passage scores 0 (its impacts are 0): after every live one whenever all
             * factors are positive. Otherwise live articles may score <= 0 and rank below it: ask for all. */
            if (!live || kept == job.found || job.found < want || want >= vb->n_passages || positive)
                break;
            want = vb->n_passages;
        }
        if (status == OK && n_found >= (size_t)depth && v + 1 < self->n_views) {
            /* The depth-th best score so far: the next views need not find articles below it. */
            double *scores = realloc(kth_scores, n_found * sizeof(double));
            if (!scores) {
                status = NO_MEMORY;
                break;
            }
            kth_scores = scores;
            for (size_t i = 0; i < n_found; i++)
                scores[i] = found[i].score;
            qsort(scores, n_found, sizeof(double), by_score_desc);
            floor = scores[depth - 1];
        }
    }
    if (status == OK && n_found)
        qsort(found, n_found, sizeof(Found), found_order);
    if (released)
        PyEval_RestoreThread(released);
    if (status == NO_MEMORY) {
        PyErr_NoMemory();
        goto out;
    }
    if (status == BAD_DOC) {
        PyErr_Format(PyExc_ValueError, "view %zd: term %zd has a posting for passage %d, outside the %zd passages",
                     bad_view, job.bad_term, (int)job.bad_doc, self->views[bad_view].n_passages);
        goto out;
    }
    Py_ssize_t n_out = (Py_ssize_t)n_found < depth ? (Py_ssize_t)n_found : depth;
    result = PyList_New(n_out);
    if (!result)
        goto out;
    for (Py_ssize_t i = 0; i < n_out; i++) {
        PyObject *pair = Py_BuildValue("(ni)", found[i].v, (int)found[i].d);
        if (!pair) {
            Py_CLEAR(result);
            goto out;
        }
        PyList_SET_ITEM(result, i, pair);
    }
out:
    PyBuffer_Release(&scratch);
    Py_XDECREF(ids);
    Py_XDECREF(ws);
    PyMem_Free(tids);
    PyMem_Free(wv);
    PyMem_Free(terms);
    free(res);
    free(kth_scores);
    free(found);
    return result;
}

static PyMethodDef views_methods[] = {
    {"leading", (PyCFunction)(void (*)(void))views_leading, METH_VARARGS | METH_KEYWORDS,
     "leading(term_ids, weights, depth, scratch) -> [(view, passage)]: query.leading_passages in one call."},
    {NULL, NULL, 0, NULL},
};

static PyObject *views_n_views(ViewsObject *self, void *closure) {
    return PyLong_FromSsize_t(self->n_views);
}

static PyObject *views_max_passages(ViewsObject *self, void *closure) {
    return PyLong_FromSsize_t(self->max_passages);
}

static PyGetSetDef views_getset[] = {
    {"n_views", (getter)views_n_views, NULL, "how many views", NULL},
    {"max_passages", (getter)views_max_passages, NULL, "the passages of the largest view (the scratch's size)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ViewsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "retrieval._topk.Views",
    .tp_basicsize = sizeof(ViewsObject),
    .tp_dealloc = (destructor)views_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The views of one live index, their arrays held for leading().",
    .tp_methods = views_methods,
    .tp_getset = views_getset,
    .tp_init = (initproc)views_init,
    .tp_new = PyType_GenericNew,
};

static PyMethodDef module_methods[] = {
    {"top", (PyCFunction)(void (*)(void))top, METH_VARARGS | METH_KEYWORDS,
     "top(offsets, doc_ids, impacts, idf, max_impact, term_ids, weights, k, groups, scratch, out_docs, out_scores)"
     " -> count: topk.top's top k (or the best passage of each of the top k groups) into out_docs/out_scores."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_topk", .m_doc = "topk.top's scoring kernel in C.", .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__topk(void) {
    long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (l2 > 0)
        cached_passages = (Py_ssize_t)((size_t)l2 / sizeof(double));
    if (PyType_Ready(&ViewsType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    Py_INCREF(&ViewsType);
    if (PyModule_AddObject(m, "Views", (PyObject *)&ViewsType) < 0) {
        Py_DECREF(&ViewsType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
