/* The pass manager: registry, option values, textual pipelines (parse and
 * print back), and the runner with verification, IR dumps, timing and
 * per-pass statistics. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "passes/pass_internal.h"

/* ---- registry --------------------------------------------------------------- */

struct sinter_pass_registry_s {
  sinter_pass_info_t *passes; /* sorted by name */
  int32_t n, cap;
};

/* The built-in passes, registered in every registry. */
static const sinter_pass_info_t *const builtin_passes[] = {
    &sinter_pass_infer_shapes,   &sinter_pass_decompose_fused, &sinter_pass_fuse_hardswish,
    &sinter_pass_fuse_gelu,      &sinter_pass_fuse_silu,       &sinter_pass_fuse_layernorm,
    &sinter_pass_fuse_rmsnorm,   &sinter_pass_fuse_attention,  &sinter_pass_fuse_elementwise,
    &sinter_pass_fold_batchnorm, &sinter_pass_fuse_conv_act,   &sinter_pass_fuse_gemm_act,
    &sinter_pass_canonicalize,   &sinter_pass_fold_constants,  &sinter_pass_dce,
    &sinter_pass_cse,            &sinter_pass_sink_transposes, &sinter_pass_convert_precision,
    &sinter_pass_fold_qdq,
    &sinter_pass_quantize,       &sinter_pass_insert_fake_quant,
};

static bool valid_pass_name(const char *s) {
  if (!s || !*s || !islower((unsigned char)*s)) return false;
  for (; *s; s++)
    if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-') return false;
  return true;
}

sinter_status_t sinter_pass_registry_add(sinter_pass_registry_t *r, const sinter_pass_info_t *info) {
  if (!info || !valid_pass_name(info->name) || !info->run || info->n_options < 0 ||
      (info->n_options && !info->options))
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "pass '%s': a pass needs a lower-case kebab-case name and a run function",
                        info && info->name ? info->name : "");
  for (int32_t i = 0; i < info->n_options; i++) {
    const sinter_pass_option_t *o = &info->options[i];
    if (!o->name || !*o->name || (o->kind == SINTER_PASS_OPT_CHOICE && !o->choices))
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "pass '%s': option %d is malformed",
                          info->name, i);
  }
  if (sinter_pass_registry_find(r, info->name))
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "a pass named '%s' is already registered",
                        info->name);
  if (r->n == r->cap) {
    int32_t ncap = r->cap ? r->cap * 2 : 32;
    sinter_pass_info_t *np = realloc(r->passes, sizeof(*np) * (size_t)ncap);
    if (!np) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    r->passes = np;
    r->cap = ncap;
  }
  int32_t pos = 0;
  while (pos < r->n && strcmp(r->passes[pos].name, info->name) < 0) pos++;
  memmove(&r->passes[pos + 1], &r->passes[pos], sizeof(*r->passes) * (size_t)(r->n - pos));
  r->passes[pos] = *info;
  r->n++;
  return NULL;
}

sinter_status_t sinter_pass_registry_create(sinter_pass_registry_t **out_registry) {
  *out_registry = NULL;
  sinter_pass_registry_t *r = calloc(1, sizeof(*r));
  if (!r) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  for (size_t i = 0; i < sizeof(builtin_passes) / sizeof(builtin_passes[0]); i++) {
    if (!builtin_passes[i]) continue;
    sinter_status_t st = sinter_pass_registry_add(r, builtin_passes[i]);
    if (st) {
      sinter_pass_registry_destroy(r);
      return st;
    }
  }
  *out_registry = r;
  return NULL;
}

void sinter_pass_registry_destroy(sinter_pass_registry_t *r) {
  if (!r) return;
  free(r->passes);
  free(r);
}

int32_t sinter_pass_registry_count(const sinter_pass_registry_t *r) { return r->n; }

const sinter_pass_info_t *sinter_pass_registry_at(const sinter_pass_registry_t *r, int32_t i) {
  return i >= 0 && i < r->n ? &r->passes[i] : NULL;
}

const sinter_pass_info_t *sinter_pass_registry_find(const sinter_pass_registry_t *r,
                                                    const char *name) {
  for (int32_t i = 0; i < r->n; i++)
    if (strcmp(r->passes[i].name, name) == 0) return &r->passes[i];
  return NULL;
}

/* ---- option values ---------------------------------------------------------- */

typedef struct arg_value_s {
  char *text;   /* canonical text form */
  int64_t i;
  double f;
  bool b;
} arg_value_t;

struct sinter_pass_args_s {
  const sinter_pass_info_t *pass;
  arg_value_t *values; /* one per option, in declaration order */
};

static const sinter_pass_option_t *find_option(const sinter_pass_info_t *p, const char *name,
                                               int32_t *out_index) {
  for (int32_t i = 0; i < p->n_options; i++)
    if (strcmp(p->options[i].name, name) == 0) {
      if (out_index) *out_index = i;
      return &p->options[i];
    }
  return NULL;
}

static const arg_value_t *arg(const sinter_pass_args_t *a, const char *name) {
  int32_t i;
  if (!a || !find_option(a->pass, name, &i)) return NULL;
  return &a->values[i];
}

bool sinter_pass_args_bool(const sinter_pass_args_t *a, const char *name) {
  const arg_value_t *v = arg(a, name);
  return v ? v->b : false;
}

int64_t sinter_pass_args_int(const sinter_pass_args_t *a, const char *name) {
  const arg_value_t *v = arg(a, name);
  return v ? v->i : 0;
}

double sinter_pass_args_float(const sinter_pass_args_t *a, const char *name) {
  const arg_value_t *v = arg(a, name);
  return v ? v->f : 0.0;
}

const char *sinter_pass_args_string(const sinter_pass_args_t *a, const char *name) {
  const arg_value_t *v = arg(a, name);
  return v ? v->text : "";
}

/* True when token appears in a '|'-separated list. */
static bool list_has(const char *list, const char *token, size_t tlen) {
  const char *p = list;
  while (*p) {
    const char *bar = strchr(p, '|');
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    if (n == tlen && strncmp(p, token, tlen) == 0) return true;
    if (!bar) break;
    p = bar + 1;
  }
  return false;
}

bool sinter_pass_args_has(const sinter_pass_args_t *a, const char *name, const char *choice) {
  const arg_value_t *v = arg(a, name);
  return v && list_has(v->text, choice, strlen(choice));
}

/* Parses text as the value of option o into v; errors name the pass and
 * option and say what is valid. */
static sinter_status_t parse_value(const sinter_pass_info_t *p, const sinter_pass_option_t *o,
                                   const char *text, arg_value_t *v) {
  char *end;
  memset(v, 0, sizeof(*v));
  switch (o->kind) {
    case SINTER_PASS_OPT_BOOL:
      if (!strcmp(text, "true") || !strcmp(text, "1")) {
        v->b = true;
        v->text = strdup("true");
      } else if (!strcmp(text, "false") || !strcmp(text, "0")) {
        v->text = strdup("false");
      } else {
        return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                            "pass '%s': option '%s' takes true or false, not '%s'", p->name,
                            o->name, text);
      }
      break;
    case SINTER_PASS_OPT_INT:
      errno = 0;
      v->i = strtoll(text, &end, 10);
      if (!*text || *end || errno)
        return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                            "pass '%s': option '%s' takes an integer, not '%s'", p->name, o->name,
                            text);
      v->text = malloc(32);
      if (v->text) snprintf(v->text, 32, "%lld", (long long)v->i);
      break;
    case SINTER_PASS_OPT_FLOAT:
      errno = 0;
      v->f = strtod(text, &end);
      if (!*text || *end || errno)
        return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                            "pass '%s': option '%s' takes a number, not '%s'", p->name, o->name,
                            text);
      v->text = malloc(40);
      if (v->text) snprintf(v->text, 40, "%.9g", v->f);
      break;
    case SINTER_PASS_OPT_STRING:
      v->text = strdup(text);
      break;
    case SINTER_PASS_OPT_CHOICE: {
      /* Validate each selected choice; canonical order is the declaration's. */
      const char *q = text;
      if (!*q)
        return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "pass '%s': option '%s' needs a value (%s)",
                            p->name, o->name, o->choices);
      while (*q) {
        const char *bar = strchr(q, '|');
        size_t n = bar ? (size_t)(bar - q) : strlen(q);
        if (!list_has(o->choices, q, n))
          return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                              "pass '%s': option '%s' has no choice '%.*s'; valid: %s", p->name,
                              o->name, (int)n, q, o->choices);
        if (!bar) break;
        q = bar + 1;
      }
      size_t cap = strlen(o->choices) + 1;
      v->text = calloc(1, cap);
      if (!v->text) break;
      const char *c = o->choices;
      while (*c) {
        const char *bar = strchr(c, '|');
        size_t n = bar ? (size_t)(bar - c) : strlen(c);
        if (list_has(text, c, n)) {
          if (*v->text) strcat(v->text, "|");
          strncat(v->text, c, n);
        }
        if (!bar) break;
        c = bar + 1;
      }
      break;
    }
  }
  if (!v->text) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  return NULL;
}

static void args_free(sinter_pass_args_t *a) {
  if (!a) return;
  for (int32_t i = 0; a->values && i < a->pass->n_options; i++) free(a->values[i].text);
  free(a->values);
  a->values = NULL;
}

/* Fills a with the defaults of pass p. */
static sinter_status_t args_init(sinter_pass_args_t *a, const sinter_pass_info_t *p) {
  a->pass = p;
  a->values = calloc((size_t)p->n_options + 1, sizeof(arg_value_t));
  if (!a->values) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  for (int32_t i = 0; i < p->n_options; i++) {
    const sinter_pass_option_t *o = &p->options[i];
    sinter_status_t st = parse_value(p, o, o->default_value ? o->default_value : "", &a->values[i]);
    if (st) {
      args_free(a);
      return sinter_status_annotate(st, "default value");
    }
  }
  return NULL;
}

/* ---- pipelines ---------------------------------------------------------------- */

struct sinter_pipeline_s {
  const sinter_pass_registry_t *registry;
  sinter_pass_args_t *entries;
  int32_t n, cap;
};

static const char *const default_pipelines[3] = {
    "",
    "canonicalize,fold-constants,dce,cse",
    "canonicalize,fold-constants,dce,cse,fold-batchnorm,fuse-layernorm,fuse-rmsnorm,fuse-gelu,"
    "fuse-silu,fuse-hardswish,fuse-attention,fuse-conv-act,fuse-gemm-act,sink-transposes,"
    "fuse-elementwise,canonicalize,fold-constants,dce,cse",
};

const char *sinter_pipeline_default(int level) {
  return level >= 0 && level <= 2 ? default_pipelines[level] : NULL;
}

void sinter_pipeline_destroy(sinter_pipeline_t *pl) {
  if (!pl) return;
  for (int32_t i = 0; i < pl->n; i++) args_free(&pl->entries[i]);
  free(pl->entries);
  free(pl);
}

static sinter_status_t push_entry(sinter_pipeline_t *pl, const sinter_pass_info_t *p) {
  if (pl->n == pl->cap) {
    int32_t ncap = pl->cap ? pl->cap * 2 : 16;
    sinter_pass_args_t *ne = realloc(pl->entries, sizeof(*ne) * (size_t)ncap);
    if (!ne) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    pl->entries = ne;
    pl->cap = ncap;
  }
  SINTER_TRY(args_init(&pl->entries[pl->n], p));
  pl->n++;
  return NULL;
}

/* Lists the registry's pass names for an error message (malloc'ed). */
static char *pass_names(const sinter_pass_registry_t *r) {
  size_t cap = 1;
  for (int32_t i = 0; i < r->n; i++) cap += strlen(r->passes[i].name) + 2;
  char *s = calloc(1, cap);
  for (int32_t i = 0; s && i < r->n; i++) {
    if (i) strcat(s, ", ");
    strcat(s, r->passes[i].name);
  }
  return s;
}

static char *option_names(const sinter_pass_info_t *p) {
  size_t cap = 16;
  for (int32_t i = 0; i < p->n_options; i++) cap += strlen(p->options[i].name) + 2;
  char *s = calloc(1, cap);
  if (!s) return NULL;
  if (!p->n_options) strcpy(s, "none");
  for (int32_t i = 0; i < p->n_options; i++) {
    if (i) strcat(s, ", ");
    strcat(s, p->options[i].name);
  }
  return s;
}

static sinter_status_t parse_into(sinter_pipeline_t *pl, const char *text, int depth);

/* Parses one "name{k=v,...}" element of [s, e). */
static sinter_status_t parse_element(sinter_pipeline_t *pl, const char *s, const char *e,
                                     int depth) {
  while (s < e && isspace((unsigned char)*s)) s++;
  while (e > s && isspace((unsigned char)e[-1])) e--;
  if (s == e) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "empty pass name in pipeline");
  if (*s == '-' && e - s == 3 && s[1] == 'O' && s[2] >= '0' && s[2] <= '2') {
    if (depth > 0) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "nested -O level");
    return parse_into(pl, default_pipelines[s[2] - '0'], depth + 1);
  }
  const char *brace = memchr(s, '{', (size_t)(e - s));
  const char *name_end = brace ? brace : e;
  char name[128];
  size_t nlen = (size_t)(name_end - s);
  while (nlen && isspace((unsigned char)s[nlen - 1])) nlen--;
  if (nlen >= sizeof(name)) nlen = sizeof(name) - 1;
  memcpy(name, s, nlen);
  name[nlen] = 0;
  const sinter_pass_info_t *p = sinter_pass_registry_find(pl->registry, name);
  if (!p) {
    char *names = pass_names(pl->registry);
    sinter_status_t st = SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                                      "unknown pass '%s'; valid passes: %s", name,
                                      names ? names : "?");
    free(names);
    return st;
  }
  SINTER_TRY(push_entry(pl, p));
  if (!brace) return NULL;
  if (e[-1] != '}')
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "pass '%s': options must end with '}'", name);
  sinter_pass_args_t *a = &pl->entries[pl->n - 1];
  const char *q = brace + 1, *qe = e - 1;
  while (q < qe) {
    const char *comma = memchr(q, ',', (size_t)(qe - q));
    const char *item_end = comma ? comma : qe;
    const char *eq = memchr(q, '=', (size_t)(item_end - q));
    if (!eq)
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "pass '%s': option '%.*s' needs '=value'",
                          name, (int)(item_end - q), q);
    char key[128], val[512];
    const char *ks = q, *ke = eq;
    while (ks < ke && isspace((unsigned char)*ks)) ks++;
    while (ke > ks && isspace((unsigned char)ke[-1])) ke--;
    const char *vs = eq + 1, *ve = item_end;
    while (vs < ve && isspace((unsigned char)*vs)) vs++;
    while (ve > vs && isspace((unsigned char)ve[-1])) ve--;
    snprintf(key, sizeof(key), "%.*s", (int)(ke - ks), ks);
    snprintf(val, sizeof(val), "%.*s", (int)(ve - vs), vs);
    int32_t idx;
    const sinter_pass_option_t *o = find_option(p, key, &idx);
    if (!o) {
      char *names = option_names(p);
      sinter_status_t st = SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                                        "pass '%s' has no option '%s'; valid options: %s", name,
                                        key, names ? names : "?");
      free(names);
      return st;
    }
    arg_value_t v;
    SINTER_TRY(parse_value(p, o, val, &v));
    free(a->values[idx].text);
    a->values[idx] = v;
    q = comma ? comma + 1 : qe;
  }
  return NULL;
}

static sinter_status_t parse_into(sinter_pipeline_t *pl, const char *text, int depth) {
  const char *s = text;
  while (*s) {
    /* Split at the next ',' outside braces. */
    const char *e = s;
    int braces = 0;
    while (*e && (braces || *e != ',')) {
      if (*e == '{') braces++;
      if (*e == '}') {
        if (!braces) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "unbalanced '}' in pipeline");
        braces--;
      }
      e++;
    }
    if (braces) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "unbalanced '{' in pipeline");
    SINTER_TRY(parse_element(pl, s, e, depth));
    s = *e ? e + 1 : e;
  }
  return NULL;
}

sinter_status_t sinter_pipeline_parse(const sinter_pass_registry_t *registry, const char *text,
                                      sinter_pipeline_t **out_pipeline) {
  *out_pipeline = NULL;
  sinter_pipeline_t *pl = calloc(1, sizeof(*pl));
  if (!pl) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  pl->registry = registry;
  sinter_status_t st = parse_into(pl, text ? text : "", 0);
  if (st) {
    sinter_pipeline_destroy(pl);
    return sinter_status_annotate(st, "pipeline '%s'", text);
  }
  *out_pipeline = pl;
  return NULL;
}

sinter_status_t sinter_pipeline_append(sinter_pipeline_t *pl, const char *pass_name) {
  return parse_element(pl, pass_name, pass_name + strlen(pass_name), 1);
}

sinter_status_t sinter_pipeline_print(const sinter_pipeline_t *pl, char **out_text) {
  *out_text = NULL;
  size_t cap = 64, len = 0;
  char *s = malloc(cap);
  if (!s) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  s[0] = 0;
#define APPEND(str)                                              \
  do {                                                           \
    const char *a_ = (str);                                      \
    size_t n_ = strlen(a_);                                      \
    if (len + n_ + 1 > cap) {                                    \
      while (len + n_ + 1 > cap) cap *= 2;                       \
      char *ns_ = realloc(s, cap);                               \
      if (!ns_) {                                                \
        free(s);                                                 \
        return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory"); \
      }                                                          \
      s = ns_;                                                   \
    }                                                            \
    memcpy(s + len, a_, n_ + 1);                                 \
    len += n_;                                                   \
  } while (0)
  for (int32_t i = 0; i < pl->n; i++) {
    const sinter_pass_args_t *a = &pl->entries[i];
    if (i) APPEND(",");
    APPEND(a->pass->name);
    bool open = false;
    for (int32_t k = 0; k < a->pass->n_options; k++) {
      const sinter_pass_option_t *o = &a->pass->options[k];
      arg_value_t def;
      sinter_status_t st = parse_value(a->pass, o, o->default_value ? o->default_value : "", &def);
      bool same = !st && strcmp(def.text, a->values[k].text) == 0;
      sinter_status_free(st);
      free(def.text);
      if (same) continue;
      APPEND(open ? "," : "{");
      open = true;
      APPEND(o->name);
      APPEND("=");
      APPEND(a->values[k].text);
    }
    if (open) APPEND("}");
  }
#undef APPEND
  *out_text = s;
  return NULL;
}

/* ---- running ------------------------------------------------------------------ */

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

sinter_status_t sinter_pipeline_run(sinter_graph_t *graph, const sinter_pipeline_t *pl,
                                    const sinter_pipeline_options_t *options,
                                    sinter_pipeline_stats_t *out_stats) {
  sinter_pipeline_options_t defaults = {0};
  if (!options) options = &defaults;
  FILE *dump = options->dump ? options->dump : stderr;
  sinter_pass_record_t *records = NULL;
  if (out_stats) {
    memset(out_stats, 0, sizeof(*out_stats));
    records = calloc((size_t)pl->n + 1, sizeof(*records));
    if (!records) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  double t_start = now_seconds();
  sinter_status_t st = NULL;
  for (int32_t i = 0; i < pl->n && !st; i++) {
    const sinter_pass_args_t *a = &pl->entries[i];
    sinter_pass_counters_t counters = {0};
    int32_t before = sinter_graph_num_nodes(graph);
    double t0 = now_seconds();
    st = a->pass->run(graph, a, &counters, a->pass->user);
    double t1 = now_seconds();
    if (st) {
      st = sinter_status_annotate(st, "pass '%s' (#%d in the pipeline)", a->pass->name, i + 1);
      break;
    }
    if (options->verify_each) {
      st = sinter_graph_verify(graph);
      if (st) {
        st = sinter_status_annotate(st, "the IR is invalid after pass '%s' (#%d in the pipeline)",
                                    a->pass->name, i + 1);
        break;
      }
    }
    if (records) {
      records[i].name = a->pass->name;
      records[i].seconds = t1 - t0;
      records[i].nodes_before = before;
      records[i].nodes_after = sinter_graph_num_nodes(graph);
      records[i].counters = counters;
      out_stats->n_records = i + 1;
    }
    if (options->print_ir_after_all ||
        (options->print_ir_after && strcmp(options->print_ir_after, a->pass->name) == 0)) {
      fprintf(dump, "// ----- IR after %s (#%d) -----\n", a->pass->name, i + 1);
      st = sinter_graph_print(graph, dump, options->elide_constants);
    }
  }
  if (out_stats) {
    out_stats->records = records;
    out_stats->seconds = now_seconds() - t_start;
  }
  return st;
}

void sinter_pipeline_stats_free(sinter_pipeline_stats_t *stats) {
  if (!stats) return;
  free(stats->records);
  memset(stats, 0, sizeof(*stats));
}

void sinter_pipeline_stats_print(const sinter_pipeline_stats_t *stats, bool counts, FILE *out) {
  if (counts) {
    fprintf(out, "%-4s %-20s %7s %7s %8s %6s %7s %8s\n", "#", "pass", "before", "after",
            "removed", "fused", "folded", "rewrote");
    for (int32_t i = 0; i < stats->n_records; i++) {
      const sinter_pass_record_t *r = &stats->records[i];
      fprintf(out, "%-4d %-20s %7d %7d %8lld %6lld %7lld %8lld\n", i + 1, r->name,
              r->nodes_before, r->nodes_after, (long long)r->counters.removed,
              (long long)r->counters.fused, (long long)r->counters.folded,
              (long long)r->counters.rewritten);
    }
    return;
  }
  fprintf(out, "%-4s %-20s %10s %7s\n", "#", "pass", "wall ms", "share");
  double total = stats->seconds > 0 ? stats->seconds : 1e-12;
  for (int32_t i = 0; i < stats->n_records; i++) {
    const sinter_pass_record_t *r = &stats->records[i];
    fprintf(out, "%-4d %-20s %10.3f %6.1f%%\n", i + 1, r->name, r->seconds * 1e3,
            100.0 * r->seconds / total);
  }
  fprintf(out, "%-4s %-20s %10.3f %6.1f%%\n", "", "total", stats->seconds * 1e3, 100.0);
}
