/* A bump allocator for activations and scratch: one malloc up front, then
 * aligned slices handed out in order. Reset (or roll back to a mark) per step,
 * so a training step allocates nothing from the heap after the first. */
#ifndef YV5_ARENA_H
#define YV5_ARENA_H

#include <stddef.h>

typedef struct {
    unsigned char *base;
    size_t cap;  /* bytes */
    size_t used; /* bytes */
    size_t peak; /* high-water mark, for sizing and benchmarks */
} Arena;

/* Returns 0 on success, -1 if the allocation failed (arena left empty). */
int arena_init(Arena *a, size_t bytes);
void arena_free(Arena *a);
/* 64-byte aligned block of n floats, or NULL when the arena is exhausted
 * (the caller reports it; nothing is allocated behind its back). */
float *arena_floats(Arena *a, size_t n);
void *arena_bytes(Arena *a, size_t bytes);
static inline size_t arena_mark(const Arena *a) { return a->used; }
static inline void arena_reset_to(Arena *a, size_t mark) { a->used = mark; }

#endif
