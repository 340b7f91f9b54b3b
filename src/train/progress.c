/* Training console output (progress.h). */
#include "train/progress.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/flops.h"
#include "model/model_summary.h"

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_model_summary(const Model *m, FILE *out)
{
    const ModelConfig *cfg = &m->cfg;
    const ParamTable *t = &m->table;
    if (cfg->nc != cfg->nc_yaml) fprintf(out, "Overriding model.yaml nc=%d with nc=%d\n", cfg->nc_yaml, cfg->nc);
    model_print_layer_table(cfg, t, out);
    fprintf(out, "%s summary: %d layers, %zu parameters, %zu gradients", cfg->name, model_module_count(cfg), t->n_params,
            t->n_params);
    double gflops = model_gflops(cfg, 640, 640);
    if (gflops >= 0) fprintf(out, ", %.1f GFLOPs", gflops);
    fprintf(out, "\n\n");
}

void progress_epoch_header(FILE *out)
{
    fprintf(out, "\n%11s%11s%11s%11s%11s%11s%11s\n", "Epoch", "GPU_mem", "box_loss", "obj_loss", "cls_loss", "Instances",
            "Size");
    fflush(out);
}

void progress_format_interval(double seconds, char *out, size_t cap)
{
    if (!(seconds >= 0) || seconds > 1e9) {
        snprintf(out, cap, "?");
        return;
    }
    long s = (long)seconds, h = s / 3600, mi = (s / 60) % 60, se = s % 60;
    if (h) snprintf(out, cap, "%ld:%02ld:%02ld", h, mi, se);
    else snprintf(out, cap, "%02ld:%02ld", mi, se);
}

double progress_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    long size = 0, resident = 0;
    int ok = fscanf(f, "%ld %ld", &size, &resident) == 2;
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return ok && page > 0 ? (double)resident * (double)page : 0;
}

void progress_begin(Progress *p, FILE *out, int tty, int total)
{
    p->out = out;
    p->tty = tty;
    p->total = total;
    p->t_start = progress_now();
    p->t_last = -1e30;
    p->printed_any = 0;
}

/* tqdm's bar of 10 cells with eighth-block partial cells. */
static void bar10(double frac, char *out, size_t cap)
{
    static const char *const parts[8] = {" ", "\u258f", "\u258e", "\u258d", "\u258c", "\u258b", "\u258a", "\u2589"};
    if (frac < 0) frac = 0;
    if (frac > 1) frac = 1;
    double cells = frac * 10.0;
    int full = (int)cells;
    size_t len = 0;
    out[0] = 0;
    for (int c = 0; c < full && len + 4 < cap; c++) len += (size_t)snprintf(out + len, cap - len, "\u2588");
    if (full < 10) {
        int part = (int)((cells - full) * 8.0);
        len += (size_t)snprintf(out + len, cap - len, "%s", parts[part]);
        for (int c = full + 1; c < 10 && len + 1 < cap; c++) len += (size_t)snprintf(out + len, cap - len, " ");
    }
}

void progress_update(Progress *p, int n, int epoch, int epochs, const float mloss[3], int instances, int size)
{
    double now = progress_now(), elapsed = now - p->t_start;
    if (!p->tty && p->printed_any && n < p->total && now - p->t_last < PROGRESS_PLAIN_SECONDS) return;
    char ep[32], mem[32], bar[64], el[32], eta[32], rate[32];
    snprintf(ep, sizeof ep, "%d/%d", epoch, epochs - 1);
    snprintf(mem, sizeof mem, "%.3gG", progress_rss_bytes() / 1e9);
    bar10((double)n / (double)p->total, bar, sizeof bar);
    progress_format_interval(elapsed, el, sizeof el);
    double its = elapsed > 0 ? (double)n / elapsed : 0;
    progress_format_interval(its > 0 ? (double)(p->total - n) / its : -1, eta, sizeof eta);
    if (its >= 1 || its == 0) snprintf(rate, sizeof rate, "%.2fit/s", its);
    else snprintf(rate, sizeof rate, "%.2fs/it", 1.0 / its);
    fprintf(p->out, "%s%11s%11s%11.4g%11.4g%11.4g%11.4g%11.4g: %3.0f%%|%s| %d/%d [%s<%s, %s]%s", p->tty ? "\r" : "",
            ep, mem, (double)mloss[0], (double)mloss[1], (double)mloss[2], (double)instances, (double)size,
            100.0 * n / p->total, bar, n, p->total, el, eta, rate, p->tty ? "\033[K" : "\n");
    fflush(p->out);
    p->t_last = now;
    p->printed_any = 1;
}

void progress_end(Progress *p)
{
    if (p->tty && p->printed_any) fputc('\n', p->out);
    fflush(p->out);
}
