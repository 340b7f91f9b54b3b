/* Counts heap allocations: malloc, calloc, realloc, aligned_alloc,
 * posix_memalign and memalign are replaced by wrappers around glibc's that
 * count their calls while counting is on. Include it in exactly one file of
 * a test or benchmark binary. Under AddressSanitizer, which owns malloc, the
 * wrappers are left out and ALLOC_COUNTING is 0 (counts stay 0). */
#ifndef YV5_TEST_ALLOC_COUNT_H
#define YV5_TEST_ALLOC_COUNT_H

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_COUNTING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALLOC_COUNTING 0
#endif
#endif
#ifndef ALLOC_COUNTING
#define ALLOC_COUNTING 1
#endif

static atomic_long alloc_calls;
static atomic_int alloc_counting;

/* Starts counting from zero. */
static inline void alloc_count_start(void)
{
    atomic_store(&alloc_calls, 0);
    atomic_store(&alloc_counting, 1);
}

/* Stops counting; the calls since alloc_count_start. */
static inline long alloc_count_stop(void)
{
    atomic_store(&alloc_counting, 0);
    return atomic_load(&alloc_calls);
}

#if ALLOC_COUNTING
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

static void count_alloc(void)
{
    if (atomic_load_explicit(&alloc_counting, memory_order_relaxed))
        atomic_fetch_add_explicit(&alloc_calls, 1, memory_order_relaxed);
}

void *malloc(size_t size)
{
    count_alloc();
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size)
{
    count_alloc();
    return __libc_calloc(count, size);
}

void *realloc(void *p, size_t size)
{
    count_alloc();
    return __libc_realloc(p, size);
}

void free(void *p) { __libc_free(p); }

void *aligned_alloc(size_t align, size_t size)
{
    count_alloc();
    return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    count_alloc();
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p = __libc_memalign(align, size);
    if (!p && size) return ENOMEM;
    *out = p;
    return 0;
}

void *memalign(size_t align, size_t size);
void *memalign(size_t align, size_t size)
{
    count_alloc();
    return __libc_memalign(align, size);
}
#endif

#endif
