/* --freeze as train.py applies it: substring "model.{i}." of the key. Rather
 * than formatting every frozen index (N can be large), each "model." in the
 * key is followed by its decimal layer number and that number is looked up;
 * a substring "model.{i}." for an integer i is exactly such an occurrence
 * with i's canonical digits. */
#include "optim/freeze.h"

#include <string.h>

static int is_frozen_layer(long layer, const int *freeze, int n_freeze)
{
    if (n_freeze == 1) return layer < (long)freeze[0]; /* range(N) */
    for (int i = 0; i < n_freeze; i++)
        if ((long)freeze[i] == layer) return 1;
    return 0;
}

static int key_is_frozen(const char *key, const int *freeze, int n_freeze)
{
    static const char prefix[] = "model.";
    const size_t plen = sizeof prefix - 1;
    for (const char *s = strstr(key, prefix); s; s = strstr(s + 1, prefix)) {
        const char *d = s + plen;
        size_t nd = 0;
        while (d[nd] >= '0' && d[nd] <= '9') nd++;
        /* canonical decimal (no leading zero), followed by '.', at most 9 digits */
        if (nd == 0 || nd > 9 || d[nd] != '.' || (nd > 1 && d[0] == '0')) continue;
        long layer = 0;
        for (size_t i = 0; i < nd; i++) layer = layer * 10 + (d[i] - '0');
        if (is_frozen_layer(layer, freeze, n_freeze)) return 1;
    }
    return 0;
}

int freeze_mask(const ParamTable *t, const int *freeze, int n_freeze, unsigned char *trainable, Error *e)
{
    if (n_freeze < 1 || !freeze) return err_set(e, "--freeze: needs at least one value");
    int frozen = 0;
    for (int k = 0; k < t->n_entries; k++) {
        const ParamEntry *en = &t->entries[k];
        int is_param = en->kind == ENTRY_PARAM;
        int fz = is_param && key_is_frozen(en->key, freeze, n_freeze);
        trainable[k] = (unsigned char)(is_param && !fz);
        frozen += fz;
    }
    return frozen;
}
