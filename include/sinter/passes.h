/* The pass pipeline: a registry of graph passes, textual pipelines that parse
 * and print back ("canonicalize,fold-constants,fuse-conv-act{acts=relu|clip},dce"),
 * and a runner with verification, IR dumps, timing and statistics. */
#ifndef SINTER_PASSES_H
#define SINTER_PASSES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sinter/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- options -------------------------------------------------------------- */

/* The type of a pass option. */
typedef enum sinter_pass_option_kind_e {
  SINTER_PASS_OPT_BOOL = 0,  /* true|false|1|0 */
  SINTER_PASS_OPT_INT,       /* a decimal integer */
  SINTER_PASS_OPT_FLOAT,     /* a decimal number */
  SINTER_PASS_OPT_STRING,    /* any text without ',', '{', '}' */
  SINTER_PASS_OPT_CHOICE,    /* one or more of choices, joined by '|' */
} sinter_pass_option_kind_t;

/* Describes one option of a pass. All strings are static or owned by the
 * registrant and must outlive the registry. */
typedef struct sinter_pass_option_s {
  const char *name;
  sinter_pass_option_kind_t kind;
  const char *default_value; /* text form; parsed and validated like user input */
  const char *choices;       /* CHOICE only: allowed values joined by '|' */
  const char *help;          /* one line */
} sinter_pass_option_t;

/* The option values a pass runs with: opaque, read with the getters below. */
typedef struct sinter_pass_args_s sinter_pass_args_t;

bool sinter_pass_args_bool(const sinter_pass_args_t *args, const char *name);
int64_t sinter_pass_args_int(const sinter_pass_args_t *args, const char *name);
double sinter_pass_args_float(const sinter_pass_args_t *args, const char *name);
/* The text of an option (for CHOICE the '|'-joined selection); owned by args. */
const char *sinter_pass_args_string(const sinter_pass_args_t *args, const char *name);
/* True when a CHOICE option's selection includes choice. */
bool sinter_pass_args_has(const sinter_pass_args_t *args, const char *name, const char *choice);

/* ---- passes --------------------------------------------------------------- */

/* Counters a pass adds to while it runs; the runner also records node counts
 * before and after. */
typedef struct sinter_pass_counters_s {
  int64_t removed; /* nodes deleted outright (dead, identity, no-op) */
  int64_t fused;   /* patterns rewritten into one node */
  int64_t folded;  /* nodes evaluated into constants */
  int64_t rewritten; /* other local rewrites */
} sinter_pass_counters_t;

/* A pass body. It rewrites graph in place and adds to counters. user is the
 * registrant's pointer from sinter_pass_info_t. */
typedef sinter_status_t (*sinter_pass_fn)(sinter_graph_t *graph, const sinter_pass_args_t *args,
                                          sinter_pass_counters_t *counters, void *user);

/* A registry entry. */
typedef struct sinter_pass_info_s {
  const char *name;    /* kebab-case, unique in a registry */
  const char *summary; /* one line */
  const sinter_pass_option_t *options;
  int32_t n_options;
  sinter_pass_fn run;
  void *user; /* handed to run; owned by the registrant */
} sinter_pass_info_t;

/* ---- registry --------------------------------------------------------------- */

typedef struct sinter_pass_registry_s sinter_pass_registry_t;

/* Creates a registry holding every built-in pass. The caller owns it and
 * frees it with sinter_pass_registry_destroy. */
sinter_status_t sinter_pass_registry_create(sinter_pass_registry_t **out_registry);
void sinter_pass_registry_destroy(sinter_pass_registry_t *registry);

/* Adds an external pass (copied; strings and options are borrowed and must
 * outlive the registry). Fails when the name is taken or malformed. */
sinter_status_t sinter_pass_registry_add(sinter_pass_registry_t *registry,
                                         const sinter_pass_info_t *info);

/* Number of registered passes and the i-th in name order (owned by the registry). */
int32_t sinter_pass_registry_count(const sinter_pass_registry_t *registry);
const sinter_pass_info_t *sinter_pass_registry_at(const sinter_pass_registry_t *registry,
                                                  int32_t index);
/* Looks a pass up by name; NULL when absent. */
const sinter_pass_info_t *sinter_pass_registry_find(const sinter_pass_registry_t *registry,
                                                    const char *name);

/* ---- pipelines -------------------------------------------------------------- */

typedef struct sinter_pipeline_s sinter_pipeline_t;

/* Parses a textual pipeline against registry: passes separated by ',', each
 * optionally followed by {opt=value,...}. A leading -O0, -O1 or -O2 names a
 * default pipeline (see sinter_pipeline_default). Unknown passes or options
 * and invalid values give an error listing the valid ones. The caller owns
 * the pipeline; registry must outlive it. */
sinter_status_t sinter_pipeline_parse(const sinter_pass_registry_t *registry, const char *text,
                                      sinter_pipeline_t **out_pipeline);
void sinter_pipeline_destroy(sinter_pipeline_t *pipeline);

/* The text of a named default pipeline: level 0, 1 or 2 (static storage). */
const char *sinter_pipeline_default(int level);

/* Prints pipeline in canonical form (every option that differs from its
 * default, in declaration order) into a malloc'ed string the caller frees.
 * Parsing the result gives the same pipeline. */
sinter_status_t sinter_pipeline_print(const sinter_pipeline_t *pipeline, char **out_text);

/* Appends a pass of the pipeline's registry with its default options. */
sinter_status_t sinter_pipeline_append(sinter_pipeline_t *pipeline, const char *pass_name);

/* How sinter_pipeline_run behaves. Zero-initialize, then set fields. */
typedef struct sinter_pipeline_options_s {
  bool verify_each;           /* run sinter_graph_verify after every pass */
  bool print_ir_after_all;    /* dump the IR after every pass */
  const char *print_ir_after; /* dump after passes of this name (NULL: none) */
  bool elide_constants;       /* in dumps */
  FILE *dump;                 /* where dumps go (NULL: stderr) */
} sinter_pipeline_options_t;

/* What happened in one pass run. */
typedef struct sinter_pass_record_s {
  const char *name; /* owned by the registry */
  double seconds;
  int32_t nodes_before, nodes_after;
  sinter_pass_counters_t counters;
} sinter_pass_record_t;

/* Statistics of one pipeline run: a record per pass run, in order. */
typedef struct sinter_pipeline_stats_s {
  sinter_pass_record_t *records; /* malloc'ed; free with sinter_pipeline_stats_free */
  int32_t n_records;
  double seconds;
} sinter_pipeline_stats_t;

/* Runs every pass of pipeline over graph in order. On failure the error
 * names the pass; the graph may then be partly rewritten (callers that must
 * not lose the input run on a copy, as `sinter opt` writes nothing). stats
 * may be NULL; otherwise the caller frees it with sinter_pipeline_stats_free. */
sinter_status_t sinter_pipeline_run(sinter_graph_t *graph, const sinter_pipeline_t *pipeline,
                                    const sinter_pipeline_options_t *options,
                                    sinter_pipeline_stats_t *out_stats);
void sinter_pipeline_stats_free(sinter_pipeline_stats_t *stats);

/* Prints a --time-passes table, or with counts a --stats table. */
void sinter_pipeline_stats_print(const sinter_pipeline_stats_t *stats, bool counts, FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* SINTER_PASSES_H */
