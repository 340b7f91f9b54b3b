#include "arena.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 64

int arena_init(Arena *a, size_t bytes)
{
    memset(a, 0, sizeof *a);
    bytes = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (bytes == 0) return 0;
    a->base = aligned_alloc(ARENA_ALIGN, bytes);
    if (!a->base) return -1;
    a->cap = bytes;
    return 0;
}

void arena_free(Arena *a)
{
    free(a->base);
    memset(a, 0, sizeof *a);
}

void *arena_bytes(Arena *a, size_t bytes)
{
    size_t start = (a->used + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (start > a->cap || bytes > a->cap - start) return NULL;
    a->used = start + bytes;
    if (a->used > a->peak) a->peak = a->used;
    return a->base + start;
}

float *arena_floats(Arena *a, size_t n)
{
    if (n > (size_t)-1 / sizeof(float)) return NULL;
    return arena_bytes(a, n * sizeof(float));
}
