/* How many ranks an MPI launcher started (dist.h), from the environment it
 * sets: shared by the world-of-one and the MPI implementations. */
#include <stdlib.h>

#include "dist/dist.h"

int dist_launcher_world(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 0) return atoi(v);
    }
    return 0;
}
