#include "eval/sort_order.h"

#include <math.h>
#include <stdlib.h>

/* ---- torch.argsort(descending=True): libstdc++ introsort over (key, index) pairs ---- */

typedef struct {
    float key;
    int index;
} KeyIndex;

/* PyTorch's descending comparator: NaN sorts before numbers. */
static int desc_before(float a, float b) { return (isnan(a) && !isnan(b)) || a > b; }

static void swap_ki(KeyIndex *a, KeyIndex *b)
{
    KeyIndex t = *a;
    *a = *b;
    *b = t;
}

/* Moves the median of *a, *b, *c to *result (the three-way decision tree of
 * libstdc++, which decides which of equal keys becomes the pivot). */
static void median_to_first(KeyIndex *result, KeyIndex *a, KeyIndex *b, KeyIndex *c)
{
    if (desc_before(a->key, b->key)) {
        if (desc_before(b->key, c->key)) swap_ki(result, b);
        else if (desc_before(a->key, c->key)) swap_ki(result, c);
        else swap_ki(result, a);
    } else if (desc_before(a->key, c->key)) {
        swap_ki(result, a);
    } else if (desc_before(b->key, c->key)) {
        swap_ki(result, c);
    } else {
        swap_ki(result, b);
    }
}

static KeyIndex *unguarded_partition(KeyIndex *first, KeyIndex *last, const KeyIndex *pivot)
{
    for (;;) {
        while (desc_before(first->key, pivot->key)) first++;
        last--;
        while (desc_before(pivot->key, last->key)) last--;
        if (!(first < last)) return first;
        swap_ki(first, last);
        first++;
    }
}

/* Sift-down to the leaves, then push back up (libstdc++'s __adjust_heap). */
static void adjust_heap(KeyIndex *first, ptrdiff_t hole, ptrdiff_t len, KeyIndex value)
{
    const ptrdiff_t top = hole;
    ptrdiff_t child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (desc_before(first[child].key, first[child - 1].key)) child--;
        first[hole] = first[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        first[hole] = first[child - 1];
        hole = child - 1;
    }
    ptrdiff_t parent = (hole - 1) / 2;
    while (hole > top && desc_before(first[parent].key, value.key)) {
        first[hole] = first[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    first[hole] = value;
}

static void make_heap(KeyIndex *first, ptrdiff_t len)
{
    if (len < 2) return;
    for (ptrdiff_t parent = (len - 2) / 2;; parent--) {
        adjust_heap(first, parent, len, first[parent]);
        if (parent == 0) return;
    }
}

static void pop_heap(KeyIndex *first, KeyIndex *last, KeyIndex *result)
{
    KeyIndex value = *result;
    *result = *first;
    adjust_heap(first, 0, last - first, value);
}

/* std::partial_sort(first, last, last): the depth-limit fallback. */
static void heap_sort(KeyIndex *first, KeyIndex *last)
{
    make_heap(first, last - first);
    /* heap_select finds nothing to exchange when middle == last. */
    while (last - first > 1) {
        last--;
        pop_heap(first, last, last);
    }
}

static void unguarded_linear_insert(KeyIndex *last)
{
    KeyIndex value = *last;
    KeyIndex *next = last - 1;
    while (desc_before(value.key, next->key)) {
        *last = *next;
        last = next;
        next--;
    }
    *last = value;
}

static void insertion_sort(KeyIndex *first, KeyIndex *last)
{
    if (first == last) return;
    for (KeyIndex *i = first + 1; i != last; i++) {
        if (desc_before(i->key, first->key)) {
            KeyIndex value = *i;
            for (KeyIndex *p = i; p != first; p--) p[0] = p[-1];
            *first = value;
        } else {
            unguarded_linear_insert(i);
        }
    }
}

enum { STL_THRESHOLD = 16 };

static void introsort_loop(KeyIndex *first, KeyIndex *last, int depth_limit)
{
    while (last - first > STL_THRESHOLD) {
        if (depth_limit == 0) {
            heap_sort(first, last);
            return;
        }
        depth_limit--;
        KeyIndex *mid = first + (last - first) / 2;
        median_to_first(first, first + 1, mid, last - 1);
        KeyIndex *cut = unguarded_partition(first + 1, last, first);
        introsort_loop(cut, last, depth_limit);
        last = cut;
    }
}

static int floor_log2(size_t n)
{
    int k = 0;
    while (n > 1) {
        n >>= 1;
        k++;
    }
    return k;
}

int sort_order_torch_desc(const float *key, size_t n, int *order)
{
    if (n == 0) return 0;
    KeyIndex *v = malloc(n * sizeof *v);
    if (!v) return -1;
    for (size_t i = 0; i < n; i++) v[i] = (KeyIndex){key[i], (int)i};
    if (n > 1) {
        introsort_loop(v, v + n, 2 * floor_log2(n));
        if (n > STL_THRESHOLD) {
            insertion_sort(v, v + STL_THRESHOLD);
            for (KeyIndex *i = v + STL_THRESHOLD; i != v + n; i++) unguarded_linear_insert(i);
        } else {
            insertion_sort(v, v + n);
        }
    }
    for (size_t i = 0; i < n; i++) order[i] = v[i].index;
    free(v);
    return 0;
}

/* ---- np.argsort(kind="quicksort"), NumPy 1.24: introsort on an index array ---- */

/* NumPy's float "less": NaN sorts after every number. */
static int np_less(float a, float b) { return a < b || (b != b && a == a); }

static void swap_int(int *a, int *b)
{
    int t = *a;
    *a = *b;
    *b = t;
}

/* Heap sort of tosort[0..n) (1-based heap as in NumPy's aheapsort). */
static void np_heapsort(const float *v, int *tosort, ptrdiff_t n)
{
    int *a = tosort - 1;
    for (ptrdiff_t l = n >> 1; l > 0; l--) {
        int tmp = a[l];
        ptrdiff_t i = l, j = l << 1;
        while (j <= n) {
            if (j < n && np_less(v[a[j]], v[a[j + 1]])) j++;
            if (np_less(v[tmp], v[a[j]])) {
                a[i] = a[j];
                i = j;
                j += j;
            } else {
                break;
            }
        }
        a[i] = tmp;
    }
    for (; n > 1;) {
        int tmp = a[n];
        a[n] = a[1];
        n--;
        ptrdiff_t i = 1, j = 2;
        while (j <= n) {
            if (j < n && np_less(v[a[j]], v[a[j + 1]])) j++;
            if (np_less(v[tmp], v[a[j]])) {
                a[i] = a[j];
                i = j;
                j += j;
            } else {
                break;
            }
        }
        a[i] = tmp;
    }
}

enum { NP_SMALL_QUICKSORT = 15, NP_STACK = 128 };

void sort_order_numpy(const float *v, size_t num, int *tosort)
{
    for (size_t i = 0; i < num; i++) tosort[i] = (int)i;
    if (num < 2) return;
    int *pl = tosort, *pr = tosort + num - 1;
    int *stack[NP_STACK], **sptr = stack;
    int depth[NP_STACK], *psdepth = depth;
    int cdepth = floor_log2(num) * 2;
    for (;;) {
        if (cdepth < 0) {
            np_heapsort(v, pl, pr - pl + 1);
        } else {
            while (pr - pl > NP_SMALL_QUICKSORT) {
                int *pm = pl + ((pr - pl) >> 1);
                if (np_less(v[*pm], v[*pl])) swap_int(pm, pl);
                if (np_less(v[*pr], v[*pm])) swap_int(pr, pm);
                if (np_less(v[*pm], v[*pl])) swap_int(pm, pl);
                float vp = v[*pm];
                int *pi = pl, *pj = pr - 1;
                swap_int(pm, pj);
                for (;;) {
                    do pi++;
                    while (np_less(v[*pi], vp));
                    do pj--;
                    while (np_less(vp, v[*pj]));
                    if (pi >= pj) break;
                    swap_int(pi, pj);
                }
                swap_int(pi, pr - 1);
                /* The larger partition waits on the stack. */
                if (pi - pl < pr - pi) {
                    *sptr++ = pi + 1;
                    *sptr++ = pr;
                    pr = pi - 1;
                } else {
                    *sptr++ = pl;
                    *sptr++ = pi - 1;
                    pl = pi + 1;
                }
                *psdepth++ = --cdepth;
            }
            for (int *pi = pl + 1; pi <= pr; pi++) {
                int vi = *pi;
                float vv = v[vi];
                int *pj = pi, *pk = pi - 1;
                while (pj > pl && np_less(vv, v[*pk])) *pj-- = *pk--;
                *pj = vi;
            }
        }
        if (sptr == stack) break;
        pr = *(--sptr);
        pl = *(--sptr);
        cdepth = *(--psdepth);
    }
}
