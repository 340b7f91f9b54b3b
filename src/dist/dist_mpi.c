/* Dist over MPI (dist.h); linked into the MPI-capable binary in place of
 * dist_local.c. */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/dist.h"


static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int dist_mpi_capable(void) { return 1; }

int dist_init(Dist *d, int *argc, char ***argv, Error *e)
{
    memset(d, 0, sizeof *d);
    d->world = 1;
    if (dist_launcher_world() == 0) return 0; /* not under mpirun: no MPI at all */
    int provided = 0;
    /* Collectives are called from the main thread only; loader and OpenMP
     * threads never touch MPI. */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return err_set(e, "MPI_Init_thread failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->world);
    return 0;
}

void dist_finalize(Dist *d)
{
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) MPI_Finalize();
    free(d->scratch);
    free(d->gather);
    memset(d, 0, sizeof *d);
}

/* Identical bytes on every rank. Two ranks: MPI_Allreduce, where each
 * element is one addition a + b, which is commutative in floating point, so
 * both ranks get the same bits. More ranks: an allreduce may associate
 * differently on different ranks, so a reduce-scatter gives each rank the sum
 * of one block (computed once) and an all-gather hands every rank those same
 * bytes. (The pair is ~10x slower than the allreduce here with Open MPI 4.1
 * through shared memory, hence the two paths.) */
int dist_sum_f32(Dist *d, float *buf, size_t n, Error *e)
{
    if (d->world <= 1 || n == 0) return 0;
    double t0 = now_seconds();
    if (d->world == 2) {
        for (size_t done = 0; done < n;) { /* counts are ints */
            size_t chunk = n - done > (size_t)1 << 30 ? (size_t)1 << 30 : n - done;
            MPI_Allreduce(MPI_IN_PLACE, buf + done, (int)chunk, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            done += chunk;
        }
        d->comm_seconds += now_seconds() - t0;
        return 0;
    }
    const size_t world = (size_t)d->world;
    const size_t block = (n + world - 1) / world;
    if (block > (size_t)INT32_MAX) return err_set(e, "dist: %zu values are too many for one reduction", n);
    const size_t padded = block * world;
    if (d->scratch_cap < padded + block) {
        float *p = realloc(d->scratch, (padded + block) * sizeof(float));
        if (!p) return err_set(e, "dist: out of memory for the reduction buffer (%zu floats)", padded + block);
        d->scratch = p;
        d->scratch_cap = padded + block;
    }
    float *full = d->scratch, *mine = d->scratch + padded;
    memcpy(full, buf, n * sizeof(float));
    memset(full + n, 0, (padded - n) * sizeof(float));
    MPI_Reduce_scatter_block(full, mine, (int)block, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allgather(mine, (int)block, MPI_FLOAT, full, (int)block, MPI_FLOAT, MPI_COMM_WORLD);
    memcpy(buf, full, n * sizeof(float));
    d->comm_seconds += now_seconds() - t0;
    return 0;
}

int dist_allgather_f64(Dist *d, const double *mine, int n, const double **all, Error *e)
{
    *all = mine;
    if (d->world <= 1 || n <= 0) return 0;
    const size_t need = (size_t)d->world * (size_t)n;
    if (d->gather_cap < need) {
        double *p = realloc(d->gather, need * sizeof(double));
        if (!p) return err_set(e, "dist: out of memory for %zu doubles", need);
        d->gather = p;
        d->gather_cap = need;
    }
    double t0 = now_seconds();
    MPI_Allgather(mine, n, MPI_DOUBLE, d->gather, n, MPI_DOUBLE, MPI_COMM_WORLD);
    d->comm_seconds += now_seconds() - t0;
    *all = d->gather;
    return 0;
}

int dist_sum_f64(Dist *d, double *buf, int n, Error *e)
{
    if (d->world <= 1 || n <= 0) return 0;
    const double *all;
    if (dist_allgather_f64(d, buf, n, &all, e)) return -1;
    for (int k = 0; k < n; k++) {
        double s = 0;
        for (int r = 0; r < d->world; r++) s += all[(size_t)r * n + k];
        buf[k] = s;
    }
    return 0;
}

int dist_bcast(Dist *d, void *buf, size_t bytes, int root, Error *e)
{
    if (d->world <= 1 || bytes == 0) return 0;
    if (root < 0 || root >= d->world) return err_set(e, "dist: broadcast root %d of %d ranks", root, d->world);
    double t0 = now_seconds();
    unsigned char *p = buf;
    while (bytes > 0) { /* counts are ints */
        int chunk = bytes > (size_t)1 << 30 ? 1 << 30 : (int)bytes;
        MPI_Bcast(p, chunk, MPI_BYTE, root, MPI_COMM_WORLD);
        p += chunk;
        bytes -= (size_t)chunk;
    }
    d->comm_seconds += now_seconds() - t0;
    return 0;
}

void dist_abort(Dist *d, int status)
{
    fflush(stdout);
    fflush(stderr);
    if (d->world > 1) MPI_Abort(MPI_COMM_WORLD, status);
    exit(status);
}
