/* The text IR printer: writes a graph as `.sir` text that sinter_graph_parse
 * reads back into the same graph. The grammar is documented in docs/ir.md;
 * printing is canonical, so print -> parse -> print gives the same bytes. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir_impl.h"
#include "ir/textir_internal.h"

/* Tensors of at most this many elements print as decimal lists when their
 * dtype allows it exactly; larger ones print as hex (or elided). */
#define DECIMAL_MAX_ELEMS 16

/* ---- output sink --------------------------------------------------------- */

/* Either a FILE with a staging buffer, or a growing malloc'ed string. */
typedef struct writer_s {
  FILE *f;
  char *buf;
  size_t len, cap;
  bool oom;
} writer_t;

enum { FILE_BUF = 64 * 1024 };

static void w_flush(writer_t *w) {
  if (w->f && w->len) {
    fwrite(w->buf, 1, w->len, w->f); /* a short write shows up in ferror() at the end */
    w->len = 0;
  }
}

/* Makes room for n more bytes; false when memory runs out. */
static bool w_reserve(writer_t *w, size_t n) {
  if (w->oom) return false;
  if (n <= w->cap - w->len) return true;
  if (w->f) {
    w_flush(w);
    if (n <= w->cap) return true;
  }
  size_t ncap = w->cap ? w->cap : 4096;
  while (ncap - w->len < n) {
    if (ncap > SIZE_MAX / 2) {
      w->oom = true;
      return false;
    }
    ncap *= 2;
  }
  char *nb = realloc(w->buf, ncap);
  if (!nb) {
    w->oom = true;
    return false;
  }
  w->buf = nb;
  w->cap = ncap;
  return true;
}

static void w_bytes(writer_t *w, const void *p, size_t n) {
  if (!w_reserve(w, n)) return;
  memcpy(w->buf + w->len, p, n);
  w->len += n;
}

static void w_str(writer_t *w, const char *s) {
  w_bytes(w, s, strlen(s));
}

static void w_char(writer_t *w, char c) {
  if (!w_reserve(w, 1)) return;
  w->buf[w->len++] = c;
}

static void w_fmt(writer_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_fmt(writer_t *w, const char *fmt, ...) {
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof(tmp)) {
    w_bytes(w, tmp, (size_t)n);
    return;
  }
  if (!w_reserve(w, (size_t)n + 1)) return;
  va_start(ap, fmt);
  vsnprintf(w->buf + w->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  w->len += (size_t)n;
}

static void w_indent(writer_t *w, int depth) {
  for (int i = 0; i < depth; i++) w_bytes(w, "  ", 2);
}

/* ---- lexical helpers ------------------------------------------------------ */

/* A name after % or @ prints bare when it uses only name characters and is
 * not all digits (all-digit bare names are the numbers of unnamed values). */
static bool bare_ref_ok(const char *s) {
  bool digits = true;
  if (!*s) return false;
  for (const char *c = s; *c; c++) {
    if (!is_ref_char((unsigned char)*c)) return false;
    if (!is_digit((unsigned char)*c)) digits = false;
  }
  return !digits;
}

/* Attribute names, symbols and domains print bare when they lex as an
 * identifier. */
static bool bare_ident_ok(const char *s) {
  if (!is_alpha((unsigned char)s[0]) && s[0] != '_') return false;
  for (const char *c = s; *c; c++)
    if (!is_name_char((unsigned char)*c)) return false;
  return true;
}

static void w_quoted(writer_t *w, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  w_char(w, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
      case '"': w_bytes(w, "\\\"", 2); break;
      case '\\': w_bytes(w, "\\\\", 2); break;
      case '\n': w_bytes(w, "\\n", 2); break;
      case '\t': w_bytes(w, "\\t", 2); break;
      case '\r': w_bytes(w, "\\r", 2); break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
          w_bytes(w, e, 4);
        } else {
          w_char(w, (char)c);
        }
    }
  }
  w_char(w, '"');
}

static void w_ident(writer_t *w, const char *s) {
  if (bare_ident_ok(s))
    w_str(w, s);
  else
    w_quoted(w, s, strlen(s));
}

/* Formats a float so that strtof/strtod read back the same value, and so
 * that it always looks like a float (a '.', an exponent, inf or nan). */
static void w_float(writer_t *w, double v, int digits) {
  char b[48];
  if (isnan(v)) {
    w_str(w, signbit(v) ? "-nan" : "nan");
    return;
  }
  if (isinf(v)) {
    w_str(w, v < 0 ? "-inf" : "inf");
    return;
  }
  snprintf(b, sizeof(b), "%.*g", digits, v);
  w_str(w, b);
  if (!strpbrk(b, ".e")) w_str(w, ".0");
}

/* ---- value naming --------------------------------------------------------- */

typedef struct vname_s {
  const char *name; /* printed name; NULL: printed as its number */
  int64_t num;
  bool defined;
} vname_t;

/* A string hash set mapping names to the value that owns the name. */
typedef struct nslot_s {
  const char *key;
  const sinter_value_t *owner;
} nslot_t;

typedef struct naming_s {
  const sinter_graph_t *graph;
  vname_t *v; /* indexed by value id */
  uint32_t n_v;
  nslot_t *set;
  size_t set_cap, set_n;
  sinter_arena_t tmp; /* disambiguated names */
} naming_t;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static nslot_t *set_find(naming_t *nm, const char *key) {
  size_t mask = nm->set_cap - 1;
  for (size_t i = (size_t)hash_str(key) & mask;; i = (i + 1) & mask)
    if (!nm->set[i].key || strcmp(nm->set[i].key, key) == 0) return &nm->set[i];
}

static bool set_grow(naming_t *nm) {
  if (nm->set_n * 2 < nm->set_cap) return true;
  size_t ncap = nm->set_cap ? nm->set_cap * 2 : 64;
  nslot_t *old = nm->set;
  size_t ocap = nm->set_cap;
  nm->set = calloc(ncap, sizeof(nslot_t));
  if (!nm->set) {
    nm->set = old;
    return false;
  }
  nm->set_cap = ncap;
  for (size_t i = 0; i < ocap; i++)
    if (old[i].key) *set_find(nm, old[i].key) = old[i];
  free(old);
  return true;
}

static bool set_add(naming_t *nm, const char *key, const sinter_value_t *owner) {
  if (!set_grow(nm)) return false;
  nslot_t *s = set_find(nm, key);
  if (!s->key) {
    s->key = key;
    s->owner = owner;
    nm->set_n++;
  }
  return true;
}

static bool own_value(const naming_t *nm, const sinter_value_t *v) {
  return v && v->graph == nm->graph && v->id < nm->n_v;
}

/* Gives v its printed name. A later value that repeats an earlier value's
 * name gets "name.K" with the smallest K that no value uses. */
static bool name_value(naming_t *nm, const sinter_value_t *v, int64_t *counter) {
  if (!own_value(nm, v)) return true;
  vname_t *e = &nm->v[v->id];
  if (e->defined) return true; /* a broken graph defines it twice; keep the first */
  e->defined = true;
  if (!v->name || !v->name[0]) {
    e->num = (*counter)++;
    return true;
  }
  nslot_t *s = nm->set_cap ? set_find(nm, v->name) : NULL;
  if (!s || !s->key) { /* not seen by the first pass (a broken list): take it */
    e->name = v->name;
    return set_add(nm, v->name, v);
  }
  if (s->owner == v) {
    e->name = v->name;
    return true;
  }
  size_t len = strlen(v->name);
  char *cand = sinter_arena_alloc(&nm->tmp, len + 24, 1);
  if (!cand) return false;
  for (uint64_t k = 1;; k++) {
    snprintf(cand, len + 24, "%s.%" PRIu64, v->name, k);
    if (!set_find(nm, cand)->key) break;
  }
  e->name = cand;
  return set_add(nm, cand, v);
}

static sinter_status_t naming_init(naming_t *nm, const sinter_graph_t *g) {
  memset(nm, 0, sizeof(*nm));
  nm->graph = g;
  sinter_arena_init(&nm->tmp, 4096);
  nm->n_v = g->next_value_id;
  nm->v = calloc(nm->n_v ? nm->n_v : 1, sizeof(vname_t));
  if (!nm->v) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  bool ok = true;
  /* First every name with its first owner, so that disambiguated names
   * cannot collide with a name that appears later. */
  for (int32_t i = 0; i < g->n_inputs && ok; i++)
    if (g->inputs[i] && g->inputs[i]->name && g->inputs[i]->name[0])
      ok = set_add(nm, g->inputs[i]->name, g->inputs[i]);
  int64_t guard = 0;
  for (const sinter_value_t *c = g->first_const; c && ok && guard++ <= g->n_consts;
       c = c->next_const)
    if (c->name && c->name[0]) ok = set_add(nm, c->name, c);
  guard = 0;
  for (const sinter_node_t *n = g->first; n && ok && guard++ <= g->n_nodes; n = n->next)
    for (int32_t i = 0; i < n->n_outputs && ok; i++)
      if (n->outputs[i] && n->outputs[i]->name && n->outputs[i]->name[0])
        ok = set_add(nm, n->outputs[i]->name, n->outputs[i]);
  int64_t counter = 0;
  for (int32_t i = 0; i < g->n_inputs && ok; i++) ok = name_value(nm, g->inputs[i], &counter);
  guard = 0;
  for (const sinter_value_t *c = g->first_const; c && ok && guard++ <= g->n_consts;
       c = c->next_const)
    ok = name_value(nm, c, &counter);
  guard = 0;
  for (const sinter_node_t *n = g->first; n && ok && guard++ <= g->n_nodes; n = n->next)
    for (int32_t i = 0; i < n->n_outputs && ok; i++) ok = name_value(nm, n->outputs[i], &counter);
  if (!ok) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  return NULL;
}

static void naming_deinit(naming_t *nm) {
  free(nm->v);
  free(nm->set);
  sinter_arena_deinit(&nm->tmp);
}

static void w_value_ref(writer_t *w, const naming_t *nm, const sinter_value_t *v) {
  if (!own_value(nm, v) || !nm->v[v->id].defined) {
    /* Not defined in this graph: print something the parser rejects. */
    w_str(w, "%<undefined ");
    if (v && v->name)
      w_quoted(w, v->name, strlen(v->name));
    else
      w_str(w, "null");
    w_char(w, '>');
    return;
  }
  const vname_t *e = &nm->v[v->id];
  w_char(w, '%');
  if (!e->name)
    w_fmt(w, "%" PRId64, e->num);
  else if (bare_ref_ok(e->name))
    w_str(w, e->name);
  else
    w_quoted(w, e->name, strlen(e->name));
}

/* ---- types, quant params and data ------------------------------------------ */

static void w_dtype(writer_t *w, sinter_dtype_t d) {
  if ((unsigned)d >= SINTER_DTYPE_COUNT)
    w_fmt(w, "<bad dtype %d>", (int)d);
  else
    w_str(w, sinter_dtype_name(d));
}

static void w_type(writer_t *w, const sinter_type_t *t) {
  w_dtype(w, t->dtype);
  if (t->rank < 0) {
    w_str(w, t->rank == -1 ? "[*]" : "[<bad rank>]");
    return;
  }
  if (t->rank > SINTER_MAX_RANK) {
    w_fmt(w, "[<bad rank %d>]", (int)t->rank);
    return;
  }
  w_char(w, '[');
  for (int32_t i = 0; i < t->rank; i++) {
    if (i) w_char(w, ',');
    const sinter_dim_t *d = &t->dims[i];
    if (d->size >= 0)
      w_fmt(w, "%" PRId64, d->size);
    else if (d->sym)
      w_ident(w, d->sym);
    else
      w_char(w, '?');
  }
  w_char(w, ']');
}

static const char *scheme_name(sinter_quant_scheme_t s) {
  switch (s) {
    case SINTER_QUANT_NONE: return "none";
    case SINTER_QUANT_PER_TENSOR: return "per_tensor";
    case SINTER_QUANT_PER_AXIS: return "per_axis";
    case SINTER_QUANT_PER_GROUP: return "per_group";
  }
  return NULL;
}

static void w_quant(writer_t *w, const sinter_quant_params_t *q) {
  const char *sn = scheme_name(q->scheme);
  w_str(w, " quant(");
  if (sn)
    w_str(w, sn);
  else
    w_fmt(w, "<bad scheme %d>", (int)q->scheme);
  w_fmt(w, ", bits = %d", (int)q->bits);
  if (q->scheme == SINTER_QUANT_PER_AXIS || q->scheme == SINTER_QUANT_PER_GROUP || q->axis)
    w_fmt(w, ", axis = %d", (int)q->axis);
  if (q->scheme == SINTER_QUANT_PER_GROUP || q->group_size)
    w_fmt(w, ", group_size = %d", (int)q->group_size);
  w_str(w, ", scales = [");
  if (q->count > 0 && !q->scales) {
    w_fmt(w, "<%" PRId64 " missing>", q->count);
  } else if (q->count < 0) {
    w_fmt(w, "<bad count %" PRId64 ">", q->count);
  } else {
    for (int64_t i = 0; i < q->count; i++) {
      if (i) w_str(w, ", ");
      w_float(w, q->scales[i], 9);
    }
  }
  w_char(w, ']');
  if (q->count > 0 && q->zero_points) {
    w_str(w, ", zero_points = [");
    for (int64_t i = 0; i < q->count; i++) {
      if (i) w_str(w, ", ");
      w_fmt(w, "%" PRId32, q->zero_points[i]);
    }
    w_char(w, ']');
  }
  w_char(w, ')');
}

static void w_typeq(writer_t *w, const sinter_value_t *v) {
  w_type(w, &v->type);
  if (v->quant) w_quant(w, v->quant);
}

/* Small tensors print as decimal lists, unless a value would not survive
 * the trip (a NaN payload, a bool byte other than 0 or 1). */
static bool use_decimal(sinter_dtype_t d, const void *data, size_t nbytes) {
  if (!decimal_dtype(d) || (nbytes && !data)) return false;
  size_t es = (size_t)sinter_dtype_bits(d) / 8;
  if (nbytes % es || nbytes / es > DECIMAL_MAX_ELEMS) return false;
  size_t n = nbytes / es;
  for (size_t i = 0; i < n; i++) {
    const unsigned char *p = (const unsigned char *)data + i * es;
    if (d == SINTER_DTYPE_F32) {
      float f;
      memcpy(&f, p, 4);
      if (isnan(f)) return false;
    } else if (d == SINTER_DTYPE_F64) {
      double f;
      memcpy(&f, p, 8);
      if (isnan(f)) return false;
    } else if (d == SINTER_DTYPE_BOOL && *p > 1) {
      return false;
    }
  }
  return true;
}

static void w_decimal(writer_t *w, sinter_dtype_t d, const void *data, size_t nbytes) {
  size_t es = (size_t)sinter_dtype_bits(d) / 8, n = nbytes / es;
  const unsigned char *p = data;
  w_char(w, '[');
  for (size_t i = 0; i < n; i++, p += es) {
    if (i) w_str(w, ", ");
    union {
      float f32;
      double f64;
      int64_t i64;
      int32_t i32;
      int16_t i16;
      int8_t i8;
      uint64_t u64;
      uint32_t u32;
      uint16_t u16;
      uint8_t u8;
    } u;
    memcpy(&u, p, es);
    switch (d) {
      case SINTER_DTYPE_F32: w_float(w, u.f32, 9); break;
      case SINTER_DTYPE_F64: w_float(w, u.f64, 17); break;
      case SINTER_DTYPE_I64: w_fmt(w, "%" PRId64, u.i64); break;
      case SINTER_DTYPE_I32: w_fmt(w, "%" PRId32, u.i32); break;
      case SINTER_DTYPE_I16: w_fmt(w, "%" PRId16, u.i16); break;
      case SINTER_DTYPE_I8: w_fmt(w, "%" PRId8, u.i8); break;
      case SINTER_DTYPE_U64: w_fmt(w, "%" PRIu64, u.u64); break;
      case SINTER_DTYPE_U32: w_fmt(w, "%" PRIu32, u.u32); break;
      case SINTER_DTYPE_U16: w_fmt(w, "%" PRIu16, u.u16); break;
      default: w_fmt(w, "%" PRIu8, u.u8); break;
    }
  }
  w_char(w, ']');
}

static void w_hex(writer_t *w, const void *data, size_t nbytes) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = data;
  w_str(w, "hex\"");
  while (nbytes) {
    size_t chunk = nbytes < 16384 ? nbytes : 16384;
    if (!w_reserve(w, chunk * 2)) return;
    char *o = w->buf + w->len;
    for (size_t i = 0; i < chunk; i++) {
      o[2 * i] = hex[p[i] >> 4];
      o[2 * i + 1] = hex[p[i] & 15];
    }
    w->len += chunk * 2;
    p += chunk;
    nbytes -= chunk;
  }
  w_char(w, '"');
}

static void w_data(writer_t *w, sinter_dtype_t d, const void *data, size_t nbytes, bool elide) {
  if (use_decimal(d, data, nbytes))
    w_decimal(w, d, data, nbytes);
  else if (nbytes && !data)
    w_fmt(w, "<null data of %zu bytes>", nbytes);
  else if (elide)
    w_fmt(w, "<%zu bytes>", nbytes);
  else
    w_hex(w, data, nbytes);
}

static void w_tensor(writer_t *w, const sinter_tensor_t *t, bool elide) {
  w_str(w, "tensor ");
  w_dtype(w, t->dtype);
  if (t->rank < 0 || t->rank > SINTER_MAX_RANK) {
    w_fmt(w, "[<bad rank %d>]", (int)t->rank);
    return;
  }
  w_char(w, '[');
  for (int32_t i = 0; i < t->rank; i++) w_fmt(w, i ? ",%" PRId64 : "%" PRId64, t->dims[i]);
  w_str(w, "] ");
  w_data(w, t->dtype, t->data, t->nbytes, elide);
}

/* ---- graphs ----------------------------------------------------------------- */

typedef struct printer_s {
  writer_t *w;
  bool elide;
  sinter_status_t err;
} printer_t;

static void print_graph(printer_t *pr, const sinter_graph_t *g, int depth);

static void w_attr(printer_t *pr, const sinter_attr_t *a, int depth) {
  writer_t *w = pr->w;
  w_ident(w, a->name ? a->name : "");
  w_str(w, " = ");
  bool list = a->kind == SINTER_ATTR_INTS || a->kind == SINTER_ATTR_FLOATS ||
              a->kind == SINTER_ATTR_STRINGS || a->kind == SINTER_ATTR_TENSORS ||
              a->kind == SINTER_ATTR_GRAPHS;
  if (list && a->count == 0) {
    static const char *const empty[] = {
        [SINTER_ATTR_INTS] = "ints[]",       [SINTER_ATTR_FLOATS] = "floats[]",
        [SINTER_ATTR_STRINGS] = "strings[]", [SINTER_ATTR_TENSORS] = "tensors[]",
        [SINTER_ATTR_GRAPHS] = "graphs[]",
    };
    w_str(w, empty[a->kind]);
    return;
  }
  if (list && a->count < 0) {
    w_fmt(w, "<bad count %" PRId64 ">", a->count);
    return;
  }
  switch (a->kind) {
    case SINTER_ATTR_INT: w_fmt(w, "%" PRId64, a->i); return;
    case SINTER_ATTR_FLOAT: w_float(w, a->f, 9); return;
    case SINTER_ATTR_STRING: w_quoted(w, a->s ? a->s : "", a->s ? a->s_len : 0); return;
    case SINTER_ATTR_TENSOR:
      if (a->tensors && a->count >= 1)
        w_tensor(w, &a->tensors[0], pr->elide);
      else
        w_str(w, "<missing tensor>");
      return;
    case SINTER_ATTR_GRAPH:
      if (a->graphs && a->count >= 1 && a->graphs[0])
        print_graph(pr, a->graphs[0], depth);
      else
        w_str(w, "<missing graph>");
      return;
    case SINTER_ATTR_INTS:
    case SINTER_ATTR_FLOATS:
    case SINTER_ATTR_STRINGS:
    case SINTER_ATTR_TENSORS:
    case SINTER_ATTR_GRAPHS: break;
    default: w_fmt(w, "<bad attribute kind %d>", (int)a->kind); return;
  }
  const void *arr = a->kind == SINTER_ATTR_INTS      ? (const void *)a->ints
                    : a->kind == SINTER_ATTR_FLOATS  ? (const void *)a->floats
                    : a->kind == SINTER_ATTR_STRINGS ? (const void *)a->strings
                    : a->kind == SINTER_ATTR_TENSORS ? (const void *)a->tensors
                                                     : (const void *)a->graphs;
  if (!arr) {
    w_str(w, "<missing list>");
    return;
  }
  w_char(w, '[');
  for (int64_t i = 0; i < a->count; i++) {
    if (i) w_str(w, ", ");
    switch (a->kind) {
      case SINTER_ATTR_INTS: w_fmt(w, "%" PRId64, a->ints[i]); break;
      case SINTER_ATTR_FLOATS: w_float(w, a->floats[i], 9); break;
      case SINTER_ATTR_STRINGS: {
        const char *s = a->strings[i] ? a->strings[i] : "";
        w_quoted(w, s, strlen(s));
        break;
      }
      case SINTER_ATTR_TENSORS: w_tensor(w, &a->tensors[i], pr->elide); break;
      default:
        if (a->graphs[i])
          print_graph(pr, a->graphs[i], depth);
        else
          w_str(w, "<missing graph>");
    }
  }
  w_char(w, ']');
}

static void print_node(printer_t *pr, const naming_t *nm, const sinter_node_t *n, int depth) {
  writer_t *w = pr->w;
  w_indent(w, depth);
  if (n->n_outputs > 0) {
    for (int32_t i = 0; i < n->n_outputs; i++) {
      if (i) w_str(w, ", ");
      w_value_ref(w, nm, n->outputs[i]);
    }
    w_str(w, " : ");
    for (int32_t i = 0; i < n->n_outputs; i++) {
      if (i) w_str(w, ", ");
      if (n->outputs[i])
        w_typeq(w, n->outputs[i]);
      else
        w_str(w, "<null>");
    }
    w_str(w, " = ");
  }
  const sinter_op_info_t *info = sinter_op_info(n->op);
  if (!info) {
    w_fmt(w, "<bad op %d>", (int)n->op);
  } else {
    if (info->domain[0]) {
      w_ident(w, info->domain);
      w_str(w, "::");
    }
    w_str(w, info->name);
  }
  if (n->name && n->name[0]) {
    w_char(w, ' ');
    w_quoted(w, n->name, strlen(n->name));
  }
  w_str(w, " (");
  for (int32_t i = 0; i < n->n_inputs; i++) {
    if (i) w_str(w, ", ");
    if (n->inputs[i])
      w_value_ref(w, nm, n->inputs[i]);
    else
      w_char(w, '_');
  }
  w_char(w, ')');
  if (n->n_attrs > 0) {
    w_str(w, " {");
    for (int32_t i = 0; i < n->n_attrs; i++) {
      if (i) w_str(w, ", ");
      w_attr(pr, &n->attrs[i], depth);
    }
    w_char(w, '}');
  }
  w_char(w, '\n');
}

/* Prints "graph @name ... { ... }" where the opening line sits at indent
 * depth; statements go one level deeper. No newline after the brace. */
static void print_graph(printer_t *pr, const sinter_graph_t *g, int depth) {
  writer_t *w = pr->w;
  if (pr->err) return;
  if (depth > 64) {
    pr->err = SINTER_ERROR(SINTER_INVALID_ARGUMENT, "subgraphs nested deeper than 64 levels");
    return;
  }
  naming_t nm;
  sinter_status_t st = naming_init(&nm, g);
  if (st) {
    naming_deinit(&nm);
    pr->err = st;
    return;
  }
  w_str(w, "graph @");
  const char *name = g->name ? g->name : "";
  if (bare_ref_ok(name))
    w_str(w, name);
  else
    w_quoted(w, name, strlen(name));
  if (g->n_opsets > 0) {
    w_str(w, " opset(");
    for (int32_t i = 0; i < g->n_opsets; i++) {
      if (i) w_str(w, ", ");
      const char *d = g->opsets[i].domain ? g->opsets[i].domain : "";
      w_quoted(w, d, strlen(d));
      w_fmt(w, " = %" PRId64, g->opsets[i].version);
    }
    w_char(w, ')');
  }
  w_str(w, " {\n");
  for (int32_t i = 0; i < g->n_inputs; i++) {
    const sinter_value_t *v = g->inputs[i];
    w_indent(w, depth + 1);
    w_str(w, "input ");
    w_value_ref(w, &nm, v);
    if (v) {
      w_str(w, " : ");
      w_typeq(w, v);
    }
    w_char(w, '\n');
  }
  int64_t guard = 0;
  for (const sinter_value_t *c = g->first_const; c && guard++ <= g->n_consts; c = c->next_const) {
    w_indent(w, depth + 1);
    w_str(w, "const ");
    w_value_ref(w, &nm, c);
    w_str(w, " : ");
    w_typeq(w, c);
    w_str(w, " = ");
    w_data(w, c->type.dtype, c->data, c->nbytes, pr->elide);
    w_char(w, '\n');
  }
  guard = 0;
  for (const sinter_node_t *n = g->first; n && guard++ <= g->n_nodes; n = n->next)
    print_node(pr, &nm, n, depth + 1);
  for (int32_t i = 0; i < g->n_outputs; i++) {
    w_indent(w, depth + 1);
    w_str(w, "output ");
    w_value_ref(w, &nm, g->outputs[i]);
    w_char(w, '\n');
  }
  w_indent(w, depth);
  w_char(w, '}');
  naming_deinit(&nm);
}

static sinter_status_t print_to(const sinter_graph_t *graph, writer_t *w, bool elide) {
  if (!graph) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "no graph to print");
  printer_t pr = {.w = w, .elide = elide};
  print_graph(&pr, graph, 0);
  w_char(w, '\n');
  if (pr.err) return pr.err;
  if (w->oom) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory while printing the IR");
  return NULL;
}

sinter_status_t sinter_graph_print(const sinter_graph_t *graph, FILE *out, bool elide_constants) {
  writer_t w = {.f = out};
  w.buf = malloc(FILE_BUF);
  if (!w.buf) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  w.cap = FILE_BUF;
  sinter_status_t st = print_to(graph, &w, elide_constants);
  if (!st) w_flush(&w);
  free(w.buf);
  if (!st && (fflush(out) != 0 || ferror(out)))
    st = SINTER_ERROR(SINTER_IO_ERROR, "writing the IR failed");
  return st;
}

sinter_status_t sinter_graph_print_to_string(const sinter_graph_t *graph, bool elide_constants,
                                             char **out_text, size_t *out_len) {
  *out_text = NULL;
  if (out_len) *out_len = 0;
  writer_t w = {0};
  sinter_status_t st = print_to(graph, &w, elide_constants);
  if (!st) {
    w_char(&w, '\0');
    if (w.oom) st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory while printing the IR");
  }
  if (st) {
    free(w.buf);
    return st;
  }
  *out_text = w.buf;
  if (out_len) *out_len = w.len - 1;
  return NULL;
}
