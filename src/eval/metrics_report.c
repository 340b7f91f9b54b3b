#include "eval/metrics_report.h"

#include <inttypes.h>
#include <math.h>

void report_header(FILE *f)
{
    fprintf(f, "%22s%11s%11s%11s%11s%11s%11s\n", "Class", "Images", "Instances", "P", "R", "mAP50", "mAP50-95");
}

/* Python's '%11.3g': like C's, except NaN is always "nan". */
static void g3(FILE *f, double v)
{
    if (isnan(v)) fprintf(f, "%11s", "nan");
    else fprintf(f, "%11.3g", v);
}

void report_row(FILE *f, const char *name, int64_t images, int64_t instances, double p, double r,
                double map50, double map)
{
    fprintf(f, "%22s%11" PRId64 "%11" PRId64, name, images, instances);
    g3(f, p);
    g3(f, r);
    g3(f, map50);
    g3(f, map);
    fputc('\n', f);
}

int report_per_class_wanted(int verbose, int nc, int training)
{
    return (verbose || (nc < 50 && !training)) && nc > 1;
}

void report_results(FILE *f, FILE *warn, const ValMetrics *m, int64_t seen, const char *const *names,
                    int per_class, const char *task)
{
    report_row(f, "all", seen, m->nt_total, m->mp, m->mr, m->map50, m->map);
    if (m->nt_total == 0 && warn)
        fprintf(warn, "WARNING \xe2\x9a\xa0\xef\xb8\x8f no labels found in %s set, can not compute metrics without labels\n",
                task ? task : "val");
    if (!per_class || !m->computed) return;
    const ApResult *a = &m->ap;
    for (int i = 0; i < a->n_classes; i++) {
        int c = a->classes[i];
        char index[16];
        const char *name = names && names[c] ? names[c] : (snprintf(index, sizeof index, "%d", c), index);
        double ap5095 = 0.0;
        if (c >= 0 && c < m->nc) ap5095 = m->maps[c];
        report_row(f, name, seen, m->nt[c], a->p[i], a->r[i], a->ap[(size_t)i * MATCH_NIOU], ap5095);
    }
}

void report_speed(FILE *f, double pre_ms, double inference_ms, double nms_ms, int batch, int imgsz)
{
    fprintf(f, "Speed: %.1fms pre-process, %.1fms inference, %.1fms NMS per image at shape (%d, 3, %d, %d)\n",
            pre_ms, inference_ms, nms_ms, batch, imgsz, imgsz);
}
