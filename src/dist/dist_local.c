/* A world of one process: the library's Dist (dist.h). The MPI-capable binary
 * links dist_mpi.c instead of this file. */
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"

int dist_mpi_capable(void) { return 0; }

int dist_init(Dist *d, int *argc, char ***argv, Error *e)
{
    (void)argc;
    (void)argv;
    memset(d, 0, sizeof *d);
    d->world = 1;
    int launched = dist_launcher_world();
    if (launched > 1)
        return err_set(e, "started as one of %d MPI ranks, but this yolov5c was built without MPI: build it with "
                          "`make MPI=1` (needs the Debian packages openmpi-bin libopenmpi-dev)",
                       launched);
    return 0;
}

void dist_finalize(Dist *d) { memset(d, 0, sizeof *d); }

int dist_sum_f32(Dist *d, float *buf, size_t n, Error *e)
{
    (void)d, (void)buf, (void)n, (void)e;
    return 0;
}

int dist_sum_f64(Dist *d, double *buf, int n, Error *e)
{
    (void)d, (void)buf, (void)n, (void)e;
    return 0;
}

int dist_allgather_f64(Dist *d, const double *mine, int n, const double **all, Error *e)
{
    (void)d, (void)n, (void)e;
    *all = mine;
    return 0;
}

int dist_bcast(Dist *d, void *buf, size_t bytes, int root, Error *e)
{
    (void)d, (void)buf, (void)bytes, (void)e;
    if (root != 0) return err_set(e, "dist: broadcast from rank %d in a world of one", root);
    return 0;
}

void dist_abort(Dist *d, int status)
{
    (void)d;
    exit(status);
}
