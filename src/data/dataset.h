/* Detection datasets: the data YAML, the scan of each split into verified
 * samples (image path, size, labels), and the per-split label cache.
 *
 * A split's labels come either from YOLO txt files next to the images (the
 * images/ -> labels/ rule, spec §5.1-5.2) or from a COCO instances JSON named
 * by `<split>_annotations` in the YAML (spec §5.3). Both give the same
 * samples for the same data. Scanning never trusts the files: every unusable
 * image or label is reported in DatasetSplit.warnings (naming the file or
 * record and what was done) and counted, and an image that cannot be used is
 * left out of the split; only a split with nothing usable is an error.
 *
 * Later stages (augmentation, the parallel loader, AutoAnchor) read
 * DatasetSplit: images[i] with its labels rows, all in memory. */
#ifndef YV5_DATASET_H
#define YV5_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "data/labels.h"
#include "data/strlist.h"
#include "data/warnings.h"

typedef enum { SPLIT_TRAIN = 0, SPLIT_VAL = 1, SPLIT_TEST = 2, SPLIT_COUNT = 3 } SplitKind;

const char *split_name(SplitKind k); /* "train", "val", "test" */

/* ---- configuration: the data YAML -------------------------------------------- */

typedef struct {
    StrList sources;    /* resolved image folders / list files; none: split not configured */
    char *annotations;  /* resolved COCO instances JSON, or NULL for YOLO txt labels */
} SplitConfig;

typedef struct {
    char *yaml_path;
    char *root;                     /* resolved `path` (absolute) */
    SplitConfig split[SPLIT_COUNT];
    int nc;                         /* classes from `nc` / `names`; 0 if only the COCO JSON knows */
    StrList names;                  /* from the YAML (may be empty when every split has annotations) */
} DatasetConfig;

/* Reads a YOLOv5 data YAML. Path rule: a relative `path` is taken from the
 * current directory (YOLOv5 takes it from its repository root, the directory
 * you run it from); no `path` means the current directory; train/val/test
 * and *_annotations are relative to `path` (absolute ones stay). As in
 * YOLOv5, a train/val/test string that does not exist and starts with "../"
 * is retried without it. Requires train and val; names unless every
 * configured split has annotations. Fails with the file and field named. */
int dataset_config_load(const char *yaml_path, DatasetConfig *cfg, Error *e);
void dataset_config_free(DatasetConfig *cfg);

/* ---- a scanned split ------------------------------------------------------- */

typedef struct {
    char *path;              /* image file */
    int width, height;       /* pixels, EXIF orientation applied */
    int orientation;         /* EXIF orientation 1..8 (the loader applies it) */
    int64_t coco_id;         /* COCO image id, -1 for YOLO txt datasets */
    size_t label_start;      /* its rows: labels.rows[label_start .. label_start + label_count) */
    size_t label_count;
} DatasetImage;

typedef struct {
    size_t candidates;           /* image files (or COCO image records) looked at */
    size_t images;               /* usable images, backgrounds included */
    size_t backgrounds;          /* usable images with no label */
    size_t corrupt;              /* left out: unreadable, missing, too small, bad labels */
    size_t instances;            /* label rows over the usable images */
    size_t duplicates_removed;   /* duplicate label rows dropped */
    size_t missing_label_files;  /* txt: images without a label file (backgrounds) */
    size_t empty_label_files;    /* txt: label files with no row (backgrounds) */
    size_t boxes_clipped;        /* COCO: boxes reaching past the image, clipped to it */
    size_t annotations_dropped;  /* COCO: annotations left out (malformed, unknown ids, empty boxes) */
    size_t crowd_ignored;        /* COCO: iscrowd annotations (ignored by design) */
} ScanStats;

typedef struct {
    SplitKind kind;
    int is_coco;
    DatasetImage *images;        /* usable images, sorted by path */
    size_t n_images;
    LabelBuf labels;             /* all rows, image by image */
    /* COCO only: the categories, sorted by id; class c is categories[c]. */
    int64_t *category_ids;
    StrList category_names;
    ScanStats stats;
    Warnings warnings;           /* scan warnings (restored from the cache on a cached run) */
    char *cache_path;            /* NULL when caching is off */
    int from_cache;              /* 1 when this scan was read from the cache */
    char cache_note[256];        /* what happened to the cache: "read", "written", "stale: rebuilt", ... */
    double scan_seconds;         /* wall time of the scan (cache read included) */
} DatasetSplit;

typedef struct {
    int use_cache;   /* read a valid cache, write a new one after a scan */
    int full_decode; /* decode every image's pixels during the scan (slow, thorough) */
    int threads;     /* 0: OpenMP default */
} ScanOptions;

/* Scans one configured split. nc is the number of classes for YOLO txt
 * labels (rows with class >= nc make the image corrupt); COCO splits take
 * theirs from the JSON. Fails when the split is not configured, a source does
 * not exist, no image file is found, or no image is usable (message names
 * the path and, for the last, the reasons). */
int dataset_scan_split(const DatasetConfig *cfg, SplitKind kind, int nc, const ScanOptions *opt,
                       DatasetSplit *out, Error *e);
void dataset_split_free(DatasetSplit *s);

/* ---- the whole dataset ------------------------------------------------------ */

typedef struct {
    DatasetConfig cfg;
    int nc;
    StrList names;             /* class names 0..nc-1 */
    int64_t *category_ids;     /* class -> COCO category id (for JSON export); NULL without COCO */
    DatasetSplit split[SPLIT_COUNT];
    int scanned[SPLIT_COUNT];
} Dataset;

/* Loads the YAML and scans the configured splits in split_mask (bit 1 << kind).
 * Class names: from the YAML, or from the COCO categories (sorted by id),
 * which must agree with the YAML's names/nc when both exist and between
 * splits. */
int dataset_open(const char *yaml_path, unsigned split_mask, const ScanOptions *opt, Dataset *ds, Error *e);
void dataset_close(Dataset *ds);

/* --single-cls (YOLOv5): every label of the scanned splits becomes class 0,
 * nc becomes 1, and the names become ["item"] unless there was one name. */
int dataset_single_class(Dataset *ds, Error *e);

/* Instances per class of a split (counts[nc], zeroed first). */
void dataset_split_class_counts(const DatasetSplit *s, int nc, size_t *counts);

#endif
