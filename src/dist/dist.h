/* Data-parallel training across processes (MPI), behind one small interface
 * so the trainer has no MPI in it.
 *
 * A Dist is the group of processes training one model: `world` ranks, this
 * one being `rank`. The library holds the world-of-one implementation
 * (dist_local.c: every collective is a no-op); the MPI-capable binary
 * (`make MPI=1`) links dist_mpi.c in its place. Even there MPI is only
 * initialised when the process was started by an MPI launcher (mpirun sets
 * OMPI_COMM_WORLD_SIZE / PMIX_RANK / PMI_SIZE), so a plain `./yolov5c train`
 * runs no MPI code.
 *
 * Every collective is called by all ranks in the same order. Sums are
 * reduced in a fixed order and the bytes every rank receives are identical,
 * so the ranks' weights never drift apart and a run with the same number of
 * ranks is reproducible. A failed MPI call aborts the job (MPI's default
 * error handler): a rank cannot continue alone. */
#ifndef YV5_DIST_H
#define YV5_DIST_H

#include <stddef.h>

#include "core/error.h"

typedef struct {
    int rank, world;   /* 0 and 1 unless started by an MPI launcher */
    double comm_seconds; /* wall time spent in collectives so far */
    float *scratch;    /* dist_sum_f32's reduce buffer (grown once, owned) */
    size_t scratch_cap;
    double *gather;    /* all-gather buffer of the f64 collectives (grown once, owned) */
    size_t gather_cap;
} Dist;

/* The number of ranks an MPI launcher announces in the environment; 0 when
 * the process was not started by one. */
int dist_launcher_world(void);

/* Joins the launcher's job (MPI_Init) when there is one, else a world of one. */
int dist_init(Dist *d, int *argc, char ***argv, Error *e);
void dist_finalize(Dist *d);
/* 1 when this binary can join an MPI job (built with MPI=1). */
int dist_mpi_capable(void);

/* buf[0..n) = the sum over ranks, the same bytes on every rank (two ranks:
 * one commutative addition per element; more: reduce-scatter, then an
 * all-gather of the reduced blocks). */
int dist_sum_f32(Dist *d, float *buf, size_t n, Error *e);
/* The same for doubles (status flags, loss items, BN sums): summed in rank order. */
int dist_sum_f64(Dist *d, double *buf, int n, Error *e);
/* *all = world x n doubles, rank r's n values at r * n (owned by d, valid
 * until the next call); world 1: mine. */
int dist_allgather_f64(Dist *d, const double *mine, int n, const double **all, Error *e);
/* All ranks receive root's bytes. */
int dist_bcast(Dist *d, void *buf, size_t bytes, int root, Error *e);
/* Ends every rank of the job at once (a rank failed where the others cannot
 * learn of it). Does not return. */
void dist_abort(Dist *d, int status);

#endif
