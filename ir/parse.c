/* The text IR parser: reads `.sir` text (docs/ir.md) from a memory buffer
 * into a new graph. One token of lookahead, names resolved through a hash
 * table per graph, and every error reported as "file:LINE:COL: reason". */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir_impl.h"
#include "ir/textir_internal.h"

enum { MAX_DEPTH = 32 }; /* nested subgraph attributes */

/* ---- tokens ---------------------------------------------------------------- */

typedef enum tkind_e {
  T_EOF,
  T_IDENT,  /* [A-Za-z_][A-Za-z0-9_.]* */
  T_INT,    /* [-+]?[0-9]+ */
  T_FLOAT,  /* any other number, inf, nan */
  T_STRING, /* "..." with escapes; body is the raw text between the quotes */
  T_HEX,    /* hex"..."; body is the digits */
  T_VREF,   /* %name, %"name" or %123 */
  T_GREF,   /* @name or @"name" */
  T_PUNCT,  /* one of ( ) { } [ ] , : = ? * < > _ and "::" (as ';') */
} tkind_t;

typedef struct token_s {
  tkind_t kind;
  const char *start; /* first character of the token */
  size_t len;        /* whole token */
  const char *body;  /* names, string contents, hex digits, number text */
  size_t body_len;
  bool quoted;   /* VREF/GREF written with quotes */
  bool numbered; /* VREF written as digits: an unnamed value */
  char punct;
  int line, col;
} token_t;

/* A name defined in one graph. */
typedef struct entry_s {
  const char *key; /* not NUL-terminated when numbered */
  size_t klen;
  bool numbered;
  sinter_value_t *value;
} entry_t;

/* A symbol already interned in the scope's graph. */
typedef struct sym_s {
  const char *name; /* the interned string itself */
  uint64_t hash;
} sym_t;

/* The names of one graph, and a cache of its interned dim symbols (the
 * graph's own intern list is a linear search). */
typedef struct scope_s {
  sinter_graph_t *graph;
  entry_t *e;
  size_t cap, n;
  sym_t *syms;
  size_t sym_cap, sym_n;
} scope_t;

typedef struct parser_s {
  const char *src, *end, *cur, *line_start;
  int line;
  const char *file;
  token_t tok;
  sinter_arena_t tmp; /* decoded strings and lists that live only while parsing */
  int depth;
} parser_t;

/* ---- errors ------------------------------------------------------------------ */

static sinter_status_t err_at(const parser_t *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static sinter_status_t err_at(const parser_t *p, int line, int col, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return SINTER_ERROR(SINTER_INVALID_MODEL, "%s:%d:%d: %s", p->file, line, col, msg);
}

#define PERR(t, ...) err_at(p, (t)->line, (t)->col, __VA_ARGS__)
#define OOM() SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory while parsing %s", p->file)

/* Column of a character inside token t (tokens never span lines). */
static int col_in(const token_t *t, const char *at) {
  return t->col + (int)(at - t->start);
}

/* Describes a token for "expected X, found Y" messages. */
static const char *describe(const token_t *t, char *buf, size_t cap) {
  if (t->kind == T_EOF) return "end of input";
  size_t n = t->len < 40 ? t->len : 40;
  snprintf(buf, cap, "'%.*s%s'", (int)n, t->start, t->len > n ? "..." : "");
  return buf;
}

/* ---- lexer ------------------------------------------------------------------- */

/* Scans a quoted string starting at the opening quote *pos; on success
 * *pos is just past the closing quote. */
static sinter_status_t scan_quoted(parser_t *p, token_t *t, const char **pos) {
  const char *q = *pos + 1;
  while (q < p->end && *q != '"') {
    if (*q == '\n') break;
    if (*q == '\\') q++;
    q++;
  }
  if (q >= p->end || *q != '"') return err_at(p, t->line, col_in(t, *pos), "unterminated string");
  t->body = *pos + 1;
  t->body_len = (size_t)(q - (*pos + 1));
  *pos = q + 1;
  return NULL;
}

static sinter_status_t lex(parser_t *p, token_t *t) {
  const char *c = p->cur;
  for (;;) {
    while (c < p->end && (*c == ' ' || *c == '\t' || *c == '\r' || *c == '\n')) {
      if (*c == '\n') {
        p->line++;
        p->line_start = c + 1;
      }
      c++;
    }
    if (c < p->end && *c == '#') {
      while (c < p->end && *c != '\n') c++;
      continue;
    }
    break;
  }
  memset(t, 0, sizeof(*t));
  t->start = c;
  t->line = p->line;
  t->col = (int)(c - p->line_start) + 1;
  if (c >= p->end) {
    t->kind = T_EOF;
    p->cur = c;
    return NULL;
  }
  const char *q = c;
  unsigned char ch = (unsigned char)*c;
  if (ch == '%' || ch == '@') {
    t->kind = ch == '%' ? T_VREF : T_GREF;
    q++;
    if (q < p->end && *q == '"') {
      SINTER_TRY(scan_quoted(p, t, &q));
      t->quoted = true;
    } else {
      t->body = q;
      bool digits = true;
      while (q < p->end && is_ref_char((unsigned char)*q)) {
        if (!is_digit((unsigned char)*q)) digits = false;
        q++;
      }
      t->body_len = (size_t)(q - t->body);
      if (!t->body_len) return err_at(p, t->line, t->col, "expected a name after '%c'", ch);
      t->numbered = digits && ch == '%';
      if (digits && ch == '@')
        return err_at(p, t->line, t->col, "a graph name cannot be all digits; quote it");
    }
  } else if (ch == '"') {
    t->kind = T_STRING;
    SINTER_TRY(scan_quoted(p, t, &q));
  } else if (is_alpha(ch) || ch == '_') {
    while (q < p->end && is_name_char((unsigned char)*q)) q++;
    if (q - c == 3 && memcmp(c, "hex", 3) == 0 && q < p->end && *q == '"') {
      const char *close = memchr(q + 1, '"', (size_t)(p->end - (q + 1)));
      if (!close || memchr(q + 1, '\n', (size_t)(close - (q + 1))))
        return err_at(p, t->line, t->col, "unterminated hex string");
      t->kind = T_HEX;
      t->body = q + 1;
      t->body_len = (size_t)(close - (q + 1));
      q = close + 1;
    } else if (q - c == 1 && *c == '_') {
      t->kind = T_PUNCT;
      t->punct = '_';
    } else {
      t->kind = T_IDENT;
      t->body = c;
      t->body_len = (size_t)(q - c);
    }
  } else if (is_digit(ch) || ((ch == '-' || ch == '+' || ch == '.') && q + 1 < p->end &&
                              (is_name_char((unsigned char)q[1])))) {
    /* An exponent sign belongs to the number only in decimal notation. */
    const char *first = (ch == '-' || ch == '+') ? c + 1 : c;
    bool decimal = is_digit((unsigned char)*first) || *first == '.';
    q++;
    while (q < p->end) {
      unsigned char d = (unsigned char)*q;
      if (is_name_char(d) || (decimal && (d == '+' || d == '-') && (q[-1] == 'e' || q[-1] == 'E')))
        q++;
      else
        break;
    }
    t->body = c;
    t->body_len = (size_t)(q - c);
    const char *b = c + (ch == '-' || ch == '+');
    bool digits = b < q;
    for (const char *x = b; x < q; x++)
      if (!is_digit((unsigned char)*x)) digits = false;
    t->kind = digits ? T_INT : T_FLOAT;
  } else if (ch == ':' && q + 1 < p->end && q[1] == ':') {
    t->kind = T_PUNCT;
    t->punct = ';';
    q += 2;
  } else if (ch && strchr("(){}[],:=?*<>", ch)) {
    t->kind = T_PUNCT;
    t->punct = (char)ch;
    q++;
  } else if (ch >= 0x20 && ch < 0x7f) {
    return err_at(p, t->line, t->col, "unexpected character '%c'", ch);
  } else {
    return err_at(p, t->line, t->col, "unexpected byte 0x%02x", ch);
  }
  t->len = (size_t)(q - c);
  p->cur = q;
  return NULL;
}

static sinter_status_t next(parser_t *p) {
  return lex(p, &p->tok);
}

static bool at_punct(const parser_t *p, char c) {
  return p->tok.kind == T_PUNCT && p->tok.punct == c;
}

static bool at_kw(const parser_t *p, const char *kw) {
  size_t n = strlen(kw);
  return p->tok.kind == T_IDENT && p->tok.body_len == n && memcmp(p->tok.body, kw, n) == 0;
}

static sinter_status_t expected(parser_t *p, const char *what) {
  char buf[64];
  return PERR(&p->tok, "expected %s, found %s", what, describe(&p->tok, buf, sizeof(buf)));
}

static sinter_status_t expect_punct(parser_t *p, char c) {
  if (!at_punct(p, c)) {
    char what[8];
    snprintf(what, sizeof(what), "'%c'", c);
    return expected(p, what);
  }
  return next(p);
}

static sinter_status_t expect_kw(parser_t *p, const char *kw) {
  if (!at_kw(p, kw)) {
    char what[40];
    snprintf(what, sizeof(what), "'%s'", kw);
    return expected(p, what);
  }
  return next(p);
}

/* ---- decoding ---------------------------------------------------------------- */

static int hex_val(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes the escaped body of t into the scratch arena (NUL-terminated). */
static sinter_status_t decode_string(parser_t *p, const token_t *t, char **out, size_t *out_len) {
  char *o = sinter_arena_alloc(&p->tmp, t->body_len + 1, 1);
  if (!o) return OOM();
  size_t n = 0;
  for (const char *s = t->body, *e = t->body + t->body_len; s < e; s++) {
    if (*s != '\\') {
      o[n++] = *s;
      continue;
    }
    const char *esc = s++;
    switch (*s) {
      case '"': o[n++] = '"'; break;
      case '\\': o[n++] = '\\'; break;
      case 'n': o[n++] = '\n'; break;
      case 't': o[n++] = '\t'; break;
      case 'r': o[n++] = '\r'; break;
      case 'x': {
        int hi = s + 1 < e ? hex_val((unsigned char)s[1]) : -1;
        int lo = s + 2 < e ? hex_val((unsigned char)s[2]) : -1;
        if (hi < 0 || lo < 0) return err_at(p, t->line, col_in(t, esc), "\\x needs two hex digits");
        o[n++] = (char)(hi << 4 | lo);
        s += 2;
        break;
      }
      default: return err_at(p, t->line, col_in(t, esc), "unknown escape '\\%c'", *s);
    }
  }
  o[n] = 0;
  *out = o;
  *out_len = n;
  return NULL;
}

/* Decodes a string that must not hold NUL bytes (names, symbols). */
static sinter_status_t decode_name(parser_t *p, const token_t *t, char **out) {
  if (!t->quoted && t->kind != T_STRING) {
    char *o = sinter_arena_strndup(&p->tmp, t->body, t->body_len);
    if (!o) return OOM();
    *out = o;
    return NULL;
  }
  size_t n;
  SINTER_TRY(decode_string(p, t, out, &n));
  if (strlen(*out) != n) return PERR(t, "a name cannot contain a NUL byte");
  return NULL;
}

static sinter_status_t tok_int(parser_t *p, const token_t *t, int64_t lo, int64_t hi,
                               int64_t *out) {
  char buf[32];
  if (t->kind != T_INT || t->body_len >= sizeof(buf)) {
    if (t->kind == T_INT) return PERR(t, "integer out of range");
    return expected(p, "an integer");
  }
  memcpy(buf, t->body, t->body_len);
  buf[t->body_len] = 0;
  errno = 0;
  char *endp;
  long long v = strtoll(buf, &endp, 10);
  if (errno == ERANGE || *endp || v < lo || v > hi)
    return PERR(t, "integer %s out of range [%" PRId64 ", %" PRId64 "]", buf, lo, hi);
  *out = v;
  return NULL;
}

/* Reads a number token as a float of the given width (4 or 8 bytes) with a
 * single correctly rounded conversion. inf and nan may be bare words. */
static sinter_status_t tok_float(parser_t *p, const token_t *t, bool f64, double *out) {
  char buf[72];
  bool word =
      t->kind == T_IDENT &&
      ((t->body_len == 3 && (memcmp(t->body, "inf", 3) == 0 || memcmp(t->body, "nan", 3) == 0)));
  if (!(t->kind == T_INT || t->kind == T_FLOAT || word)) return expected(p, "a number");
  if (t->body_len >= sizeof(buf)) return PERR(t, "number too long");
  memcpy(buf, t->body, t->body_len);
  buf[t->body_len] = 0;
  char *endp;
  if (f64) {
    *out = strtod(buf, &endp);
  } else {
    *out = strtof(buf, &endp);
  }
  if (*endp || endp == buf) return PERR(t, "malformed number '%s'", buf);
  return NULL;
}

/* ---- growable scratch arrays ---------------------------------------------- */

typedef struct vec_s {
  void *data;
  size_t n, cap, elem;
} vec_t;

static void *vec_push(parser_t *p, vec_t *v) {
  if (v->n == v->cap) {
    size_t ncap = v->cap ? v->cap * 2 : 8;
    if (ncap > SIZE_MAX / v->elem / 2) return NULL;
    void *nd = sinter_arena_alloc(&p->tmp, ncap * v->elem, 8);
    if (!nd) return NULL;
    if (v->n) memcpy(nd, v->data, v->n * v->elem);
    v->data = nd;
    v->cap = ncap;
  }
  return (char *)v->data + v->elem * v->n++;
}

/* ---- scopes ------------------------------------------------------------------ */

static uint64_t hash_key(const char *k, size_t n, bool numbered) {
  uint64_t h = numbered ? 0x9e3779b97f4a7c15ull : 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
  return h;
}

static entry_t *scope_find(scope_t *s, const char *k, size_t n, bool numbered) {
  if (!s->cap) return NULL;
  size_t mask = s->cap - 1;
  for (size_t i = (size_t)hash_key(k, n, numbered) & mask;; i = (i + 1) & mask) {
    entry_t *e = &s->e[i];
    if (!e->key) return e;
    if (e->numbered == numbered && e->klen == n && memcmp(e->key, k, n) == 0) return e;
  }
}

static bool scope_grow(scope_t *s) {
  if (s->cap && s->n * 2 < s->cap) return true;
  size_t ocap = s->cap, ncap = ocap ? ocap * 2 : 64;
  entry_t *old = s->e;
  s->e = calloc(ncap, sizeof(entry_t));
  if (!s->e) {
    s->e = old;
    return false;
  }
  s->cap = ncap;
  for (size_t i = 0; i < ocap; i++)
    if (old[i].key) *scope_find(s, old[i].key, old[i].klen, old[i].numbered) = old[i];
  free(old);
  return true;
}

/* Returns the graph's interned copy of name, through the scope's cache. */
static const char *intern_sym(scope_t *s, const char *name) {
  uint64_t h = hash_key(name, strlen(name), false);
  if (s->sym_n * 2 >= s->sym_cap) {
    size_t ocap = s->sym_cap, ncap = ocap ? ocap * 2 : 32;
    sym_t *old = s->syms, *nw = calloc(ncap, sizeof(sym_t));
    if (!nw) return NULL;
    for (size_t i = 0; i < ocap; i++) {
      if (!old[i].name) continue;
      size_t j = (size_t)old[i].hash & (ncap - 1);
      while (nw[j].name) j = (j + 1) & (ncap - 1);
      nw[j] = old[i];
    }
    free(old);
    s->syms = nw;
    s->sym_cap = ncap;
  }
  size_t mask = s->sym_cap - 1, i = (size_t)h & mask;
  for (; s->syms[i].name; i = (i + 1) & mask)
    if (s->syms[i].hash == h && strcmp(s->syms[i].name, name) == 0) return s->syms[i].name;
  const char *c = sinter_graph_intern(s->graph, name);
  if (!c) return NULL;
  s->syms[i].name = c;
  s->syms[i].hash = h;
  s->sym_n++;
  return c;
}

/* The lookup key of a value reference: its decoded name or its digits. */
typedef struct ref_s {
  token_t tok;
  const char *key; /* decoded name (NUL-terminated) or digits in the source */
  size_t klen;
  bool numbered;
} ref_t;

static sinter_status_t read_ref(parser_t *p, ref_t *r) {
  if (p->tok.kind != T_VREF) return expected(p, "a value name such as %x");
  r->tok = p->tok;
  r->numbered = p->tok.numbered;
  if (r->numbered) {
    r->key = p->tok.body;
    r->klen = p->tok.body_len;
  } else {
    char *k;
    SINTER_TRY(decode_name(p, &p->tok, &k));
    if (!*k) return PERR(&p->tok, "empty value name; unnamed values are written as numbers");
    r->key = k;
    r->klen = strlen(k);
  }
  return next(p);
}

static void ref_text(const ref_t *r, char *buf, size_t cap) {
  snprintf(buf, cap, "%.*s", (int)(r->tok.len < 60 ? r->tok.len : 60), r->tok.start);
}

static sinter_status_t scope_lookup(parser_t *p, scope_t *s, const ref_t *r, sinter_value_t **out) {
  entry_t *e = scope_find(s, r->key, r->klen, r->numbered);
  if (!e || !e->key) {
    char b[64];
    ref_text(r, b, sizeof(b));
    return PERR(&r->tok, "undefined value %s", b);
  }
  *out = e->value;
  return NULL;
}

static sinter_status_t scope_check_new(parser_t *p, scope_t *s, const ref_t *r) {
  entry_t *e = scope_find(s, r->key, r->klen, r->numbered);
  if (e && e->key) {
    char b[64];
    ref_text(r, b, sizeof(b));
    return PERR(&r->tok, "redefinition of %s", b);
  }
  return NULL;
}

/* Registers v under r's name (and names v when r is not a number). */
static sinter_status_t scope_define(parser_t *p, scope_t *s, const ref_t *r, sinter_value_t *v) {
  SINTER_TRY(scope_check_new(p, s, r));
  if (!scope_grow(s)) return OOM();
  entry_t *e = scope_find(s, r->key, r->klen, r->numbered);
  e->key = r->key;
  e->klen = r->klen;
  e->numbered = r->numbered;
  e->value = v;
  s->n++;
  if (!r->numbered) SINTER_TRY(sinter_value_set_name(v, r->key));
  return NULL;
}

/* ---- types and data ---------------------------------------------------------- */

static sinter_status_t parse_dtype(parser_t *p, sinter_dtype_t *out) {
  if (p->tok.kind != T_IDENT) return expected(p, "a dtype such as f32");
  char buf[16];
  const token_t *t = &p->tok;
  sinter_dtype_t d = SINTER_DTYPE_UNDEFINED;
  if (t->body_len < sizeof(buf)) {
    memcpy(buf, t->body, t->body_len);
    buf[t->body_len] = 0;
    if (strcmp(buf, "undef") == 0) {
      *out = SINTER_DTYPE_UNDEFINED;
      return next(p);
    }
    d = sinter_dtype_from_name(buf);
  }
  if (d == SINTER_DTYPE_UNDEFINED)
    return PERR(t, "unknown dtype '%.*s'", (int)(t->body_len < 40 ? t->body_len : 40), t->body);
  *out = d;
  return next(p);
}

/* type := dtype '[' ('*' | [dim {',' dim}]) ']'; dims are ints, symbols,
 * quoted symbols or '?'. Symbols are interned in the scope's graph; with no
 * scope (tensor attributes) they are rejected. */
static sinter_status_t parse_type(parser_t *p, scope_t *sc, sinter_type_t *out) {
  memset(out, 0, sizeof(*out));
  SINTER_TRY(parse_dtype(p, &out->dtype));
  SINTER_TRY(expect_punct(p, '['));
  if (at_punct(p, '*')) {
    out->rank = -1;
    SINTER_TRY(next(p));
    return expect_punct(p, ']');
  }
  if (at_punct(p, ']')) return next(p);
  for (;;) {
    if (out->rank >= SINTER_MAX_RANK)
      return PERR(&p->tok, "rank above the limit of %d", SINTER_MAX_RANK);
    sinter_dim_t *d = &out->dims[out->rank++];
    d->size = -1;
    if (p->tok.kind == T_INT) {
      SINTER_TRY(tok_int(p, &p->tok, 0, INT64_MAX, &d->size));
    } else if (at_punct(p, '?')) {
    } else if (p->tok.kind == T_IDENT || p->tok.kind == T_STRING) {
      if (!sc) return PERR(&p->tok, "a tensor attribute needs a static shape");
      char *sym;
      SINTER_TRY(decode_name(p, &p->tok, &sym));
      if (!*sym) return PERR(&p->tok, "empty dimension symbol");
      d->sym = intern_sym(sc, sym);
      if (!d->sym) return OOM();
    } else {
      return expected(p, "a dimension (a size, a symbol or '?')");
    }
    SINTER_TRY(next(p));
    if (at_punct(p, ']')) return next(p);
    SINTER_TRY(expect_punct(p, ','));
  }
}

/* Parses '[' number {',' number} ']' of kind float (f32 or f64) or int. */
static sinter_status_t parse_num_list(parser_t *p, bool is_float, bool f64, vec_t *out,
                                      vec_t *toks) {
  SINTER_TRY(expect_punct(p, '['));
  while (!at_punct(p, ']')) {
    if (out->n) SINTER_TRY(expect_punct(p, ','));
    token_t *tk = toks ? vec_push(p, toks) : NULL;
    if (toks && !tk) return OOM();
    if (tk) *tk = p->tok;
    void *slot = vec_push(p, out);
    if (!slot) return OOM();
    if (is_float) {
      double v;
      SINTER_TRY(tok_float(p, &p->tok, f64, &v));
      if (f64)
        memcpy(slot, &v, 8);
      else {
        float f = (float)v;
        memcpy(slot, &f, 4);
      }
    } else {
      int64_t v;
      SINTER_TRY(tok_int(p, &p->tok, INT64_MIN, INT64_MAX, &v));
      memcpy(slot, &v, 8);
    }
    SINTER_TRY(next(p));
  }
  return next(p);
}

/* Stores one decimal element of dtype d at dst, checking its range. */
static sinter_status_t store_decimal(parser_t *p, const token_t *t, sinter_dtype_t d,
                                     unsigned char *dst) {
  if (d == SINTER_DTYPE_F32 || d == SINTER_DTYPE_F64) {
    double v;
    SINTER_TRY(tok_float(p, t, d == SINTER_DTYPE_F64, &v));
    if (d == SINTER_DTYPE_F64) {
      memcpy(dst, &v, 8);
    } else {
      float f = (float)v;
      memcpy(dst, &f, 4);
    }
    return NULL;
  }
  if (t->kind != T_INT) return PERR(t, "expected an integer element for %s", sinter_dtype_name(d));
  if (d == SINTER_DTYPE_U64) {
    char buf[32];
    if (t->body[0] == '-' || t->body_len >= sizeof(buf))
      return PERR(t, "value out of range for u64");
    memcpy(buf, t->body, t->body_len);
    buf[t->body_len] = 0;
    errno = 0;
    unsigned long long v = strtoull(buf, NULL, 10);
    if (errno == ERANGE) return PERR(t, "value out of range for u64");
    uint64_t u = v;
    memcpy(dst, &u, 8);
    return NULL;
  }
  int64_t lo, hi;
  switch (d) {
    case SINTER_DTYPE_I64:
      lo = INT64_MIN;
      hi = INT64_MAX;
      break;
    case SINTER_DTYPE_I32:
      lo = INT32_MIN;
      hi = INT32_MAX;
      break;
    case SINTER_DTYPE_U32:
      lo = 0;
      hi = UINT32_MAX;
      break;
    case SINTER_DTYPE_I16:
      lo = INT16_MIN;
      hi = INT16_MAX;
      break;
    case SINTER_DTYPE_U16:
      lo = 0;
      hi = UINT16_MAX;
      break;
    case SINTER_DTYPE_I8:
      lo = INT8_MIN;
      hi = INT8_MAX;
      break;
    case SINTER_DTYPE_U8:
      lo = 0;
      hi = UINT8_MAX;
      break;
    default:
      lo = 0;
      hi = 1;
      break; /* bool */
  }
  int64_t v;
  char buf[32];
  if (t->body_len >= sizeof(buf)) return PERR(t, "value out of range for %s", sinter_dtype_name(d));
  memcpy(buf, t->body, t->body_len);
  buf[t->body_len] = 0;
  errno = 0;
  v = strtoll(buf, NULL, 10);
  if (errno == ERANGE || v < lo || v > hi)
    return PERR(t, "value %s out of range for %s", buf, sinter_dtype_name(d));
  switch (sinter_dtype_bits(d)) {
    case 64: memcpy(dst, &v, 8); break;
    case 32: { /* same bits for the signed and unsigned types */
      uint32_t x = (uint32_t)v;
      memcpy(dst, &x, 4);
      break;
    }
    case 16: {
      uint16_t x = (uint16_t)v;
      memcpy(dst, &x, 2);
      break;
    }
    default: *dst = (unsigned char)v; break;
  }
  return NULL;
}

/* data := hex"..." | '[' numbers ']'. The buffer comes from arena (the
 * graph's for constants, so large weights are decoded once, in place). */
static sinter_status_t parse_data(parser_t *p, const sinter_type_t *type, sinter_arena_t *arena,
                                  const token_t *type_tok, void **out_data, size_t *out_nbytes) {
  int64_t numel;
  size_t want;
  if (!sinter_type_numel(type, &numel)) return PERR(type_tok, "constant data needs a static shape");
  if (type->dtype == SINTER_DTYPE_UNDEFINED ||
      !sinter_dtype_storage_size(type->dtype, numel, &want))
    return PERR(type_tok, "constant data needs a dtype and a size that fits in memory");
  char tbuf[160];
  sinter_type_format(type, tbuf, sizeof(tbuf));
  token_t t = p->tok;
  if (t.kind == T_HEX) {
    if (t.body_len % 2) return PERR(&t, "odd number of hex digits (%zu)", t.body_len);
    if (t.body_len / 2 != want)
      return PERR(&t, "data length mismatch: %zu bytes of data, but %s needs %zu", t.body_len / 2,
                  tbuf, want);
    unsigned char *buf = sinter_arena_alloc(arena, want ? want : 1, 64);
    if (!buf) return OOM();
    const unsigned char *h = (const unsigned char *)t.body;
    for (size_t i = 0; i < want; i++) {
      int hi = hex_val(h[2 * i]), lo = hex_val(h[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        const char *bad = (const char *)h + 2 * i + (hi < 0 ? 0 : 1);
        return err_at(p, t.line, col_in(&t, bad), "bad hex digit in constant data");
      }
      buf[i] = (unsigned char)(hi << 4 | lo);
    }
    *out_data = buf;
    *out_nbytes = want;
    return next(p);
  }
  if (at_punct(p, '<'))
    return PERR(&t, "constant data was elided when printed; elided IR cannot be parsed back");
  if (!at_punct(p, '[')) return expected(p, "constant data (hex\"...\" or a list)");
  if (!decimal_dtype(type->dtype))
    return PERR(&t, "%s data must be written as hex\"...\"", sinter_dtype_name(type->dtype));
  /* Each value takes at least one character: a short text cannot make us
   * allocate a huge buffer. */
  if (numel > (int64_t)(p->end - t.start))
    return PERR(&t, "data length mismatch: %s needs %" PRId64 " values, more than the text holds",
                tbuf, numel);
  unsigned char *buf = sinter_arena_alloc(arena, want ? want : 1, 64);
  if (!buf) return OOM();
  size_t es = (size_t)sinter_dtype_bits(type->dtype) / 8;
  int64_t n = 0;
  SINTER_TRY(next(p));
  while (!at_punct(p, ']')) {
    if (n) SINTER_TRY(expect_punct(p, ','));
    if (n >= numel)
      return PERR(&p->tok, "data length mismatch: more than %" PRId64 " values for %s", numel,
                  tbuf);
    SINTER_TRY(store_decimal(p, &p->tok, type->dtype, buf + es * (size_t)n));
    n++;
    SINTER_TRY(next(p));
  }
  if (n != numel)
    return PERR(&p->tok, "data length mismatch: %" PRId64 " values, but %s needs %" PRId64, n, tbuf,
                numel);
  *out_data = buf;
  *out_nbytes = want;
  return next(p);
}

/* quant := 'quant' '(' scheme {',' field '=' value} ')' */
static sinter_status_t parse_quant(parser_t *p, sinter_quant_params_t *q) {
  memset(q, 0, sizeof(*q));
  SINTER_TRY(expect_kw(p, "quant"));
  SINTER_TRY(expect_punct(p, '('));
  static const char *const schemes[] = {"none", "per_tensor", "per_axis", "per_group"};
  int s = -1;
  for (int i = 0; i < 4; i++)
    if (at_kw(p, schemes[i])) s = i;
  if (s < 0) return expected(p, "a quant scheme (none, per_tensor, per_axis, per_group)");
  q->scheme = (sinter_quant_scheme_t)s;
  SINTER_TRY(next(p));
  bool seen[5] = {false};
  static const char *const fields[] = {"bits", "axis", "group_size", "scales", "zero_points"};
  vec_t scales = {.elem = 4}, zps = {.elem = 8};
  token_t zp_tok = {0};
  while (at_punct(p, ',')) {
    SINTER_TRY(next(p));
    int f = -1;
    for (int i = 0; i < 5; i++)
      if (at_kw(p, fields[i])) f = i;
    if (f < 0) return expected(p, "a quant field (bits, axis, group_size, scales, zero_points)");
    if (seen[f]) return PERR(&p->tok, "duplicate quant field '%s'", fields[f]);
    seen[f] = true;
    SINTER_TRY(next(p));
    SINTER_TRY(expect_punct(p, '='));
    if (f <= 2) {
      int64_t v;
      SINTER_TRY(tok_int(p, &p->tok, INT32_MIN, INT32_MAX, &v));
      if (f == 0) q->bits = (int32_t)v;
      if (f == 1) q->axis = (int32_t)v;
      if (f == 2) q->group_size = (int32_t)v;
      SINTER_TRY(next(p));
    } else if (f == 3) {
      SINTER_TRY(parse_num_list(p, true, false, &scales, NULL));
    } else {
      zp_tok = p->tok;
      SINTER_TRY(parse_num_list(p, false, false, &zps, NULL));
    }
  }
  SINTER_TRY(expect_punct(p, ')'));
  if (seen[4] && zps.n != scales.n)
    return PERR(&zp_tok, "%zu zero points for %zu scales", zps.n, scales.n);
  q->count = (int64_t)scales.n;
  q->scales = scales.n ? scales.data : NULL;
  if (seen[4] && zps.n) {
    int32_t *z = sinter_arena_alloc(&p->tmp, zps.n * sizeof(int32_t), 4);
    if (!z) return OOM();
    for (size_t i = 0; i < zps.n; i++) {
      int64_t v = ((const int64_t *)zps.data)[i];
      if (v < INT32_MIN || v > INT32_MAX) return PERR(&zp_tok, "zero point out of int32 range");
      z[i] = (int32_t)v;
    }
    q->zero_points = z;
  }
  return NULL;
}

/* typeq := type [quant]; has_quant tells whether quant params followed. */
static sinter_status_t parse_typeq(parser_t *p, scope_t *sc, sinter_type_t *type,
                                   sinter_quant_params_t *q, bool *has_quant) {
  SINTER_TRY(parse_type(p, sc, type));
  *has_quant = at_kw(p, "quant");
  if (*has_quant) SINTER_TRY(parse_quant(p, q));
  return NULL;
}

/* ---- attributes ----------------------------------------------------------------- */

static sinter_status_t parse_graph(parser_t *p, sinter_graph_t *parent, sinter_graph_t **out);

static sinter_status_t parse_tensor(parser_t *p, sinter_tensor_t *out) {
  memset(out, 0, sizeof(*out));
  SINTER_TRY(expect_kw(p, "tensor"));
  token_t type_tok = p->tok;
  sinter_type_t ty;
  SINTER_TRY(parse_type(p, NULL, &ty));
  if (!sinter_type_is_static(&ty))
    return PERR(&type_tok, "a tensor attribute needs a static shape");
  out->dtype = ty.dtype;
  out->rank = ty.rank;
  for (int32_t i = 0; i < ty.rank; i++) out->dims[i] = ty.dims[i].size;
  return parse_data(p, &ty, &p->tmp, &type_tok, &out->data, &out->nbytes);
}

enum { L_NONE = -1 };

/* One attribute value; lists keep their elements' kind in elem_kind. */
static sinter_status_t parse_attr_value(parser_t *p, sinter_graph_t *g, sinter_attr_t *a) {
  token_t t = p->tok;
  if (t.kind == T_INT) {
    a->kind = SINTER_ATTR_INT;
    SINTER_TRY(tok_int(p, &t, INT64_MIN, INT64_MAX, &a->i));
    return next(p);
  }
  if (t.kind == T_FLOAT || at_kw(p, "inf") || at_kw(p, "nan")) {
    double v;
    a->kind = SINTER_ATTR_FLOAT;
    SINTER_TRY(tok_float(p, &t, false, &v));
    a->f = (float)v;
    return next(p);
  }
  if (t.kind == T_STRING) {
    char *s;
    a->kind = SINTER_ATTR_STRING;
    SINTER_TRY(decode_string(p, &t, &s, &a->s_len));
    a->s = s;
    return next(p);
  }
  if (at_kw(p, "tensor")) {
    sinter_tensor_t *tt = sinter_arena_alloc(&p->tmp, sizeof(*tt), 8);
    if (!tt) return OOM();
    a->kind = SINTER_ATTR_TENSOR;
    a->count = 1;
    a->tensors = tt;
    return parse_tensor(p, tt);
  }
  if (at_kw(p, "graph")) {
    sinter_graph_t **gs = sinter_arena_alloc(&p->tmp, sizeof(*gs), 8);
    if (!gs) return OOM();
    a->kind = SINTER_ATTR_GRAPH;
    a->count = 1;
    a->graphs = gs;
    return parse_graph(p, g, gs);
  }
  /* A list, optionally prefixed with its kind (required when empty). */
  static const struct {
    const char *kw;
    sinter_attr_kind_t kind;
  } prefixes[] = {
      {"ints", SINTER_ATTR_INTS},       {"floats", SINTER_ATTR_FLOATS},
      {"strings", SINTER_ATTR_STRINGS}, {"tensors", SINTER_ATTR_TENSORS},
      {"graphs", SINTER_ATTR_GRAPHS},
  };
  int kind = L_NONE;
  for (int i = 0; i < 5; i++)
    if (at_kw(p, prefixes[i].kw)) kind = (int)prefixes[i].kind;
  if (kind != L_NONE) SINTER_TRY(next(p));
  if (!at_punct(p, '[')) return expected(p, "an attribute value");
  token_t open = p->tok;
  SINTER_TRY(next(p));
  vec_t ints = {.elem = 8}, floats = {.elem = 4}, strs = {.elem = sizeof(char *)},
        tens = {.elem = sizeof(sinter_tensor_t)}, graphs = {.elem = sizeof(sinter_graph_t *)};
  int64_t n = 0;
  bool declared = kind != L_NONE;
  while (!at_punct(p, ']')) {
    if (n) SINTER_TRY(expect_punct(p, ','));
    token_t e = p->tok;
    int ek;
    if (e.kind == T_INT)
      ek = SINTER_ATTR_INTS;
    else if (e.kind == T_FLOAT || at_kw(p, "inf") || at_kw(p, "nan"))
      ek = SINTER_ATTR_FLOATS;
    else if (e.kind == T_STRING)
      ek = SINTER_ATTR_STRINGS;
    else if (at_kw(p, "tensor"))
      ek = SINTER_ATTR_TENSORS;
    else if (at_kw(p, "graph"))
      ek = SINTER_ATTR_GRAPHS;
    else
      return expected(p, "a list element");
    if (kind == L_NONE) {
      kind = ek;
    } else if (kind == SINTER_ATTR_INTS && ek == SINTER_ATTR_FLOATS && !declared) {
      /* [1, 2.5] is a float list: the integers seen so far become floats. */
      for (size_t i = 0; i < ints.n; i++) {
        float *f = vec_push(p, &floats);
        if (!f) return OOM();
        *f = (float)((int64_t *)ints.data)[i];
      }
      kind = SINTER_ATTR_FLOATS;
    } else if (ek != kind && !(kind == SINTER_ATTR_FLOATS && ek == SINTER_ATTR_INTS)) {
      return PERR(&e, "list elements must all have the same kind");
    }
    if (kind == SINTER_ATTR_INTS) {
      int64_t *v = vec_push(p, &ints);
      if (!v) return OOM();
      SINTER_TRY(tok_int(p, &e, INT64_MIN, INT64_MAX, v));
      SINTER_TRY(next(p));
    } else if (kind == SINTER_ATTR_FLOATS) {
      float *v = vec_push(p, &floats);
      double d;
      if (!v) return OOM();
      SINTER_TRY(tok_float(p, &e, false, &d));
      *v = (float)d;
      SINTER_TRY(next(p));
    } else if (kind == SINTER_ATTR_STRINGS) {
      char **v = vec_push(p, &strs);
      if (!v) return OOM();
      SINTER_TRY(decode_name(p, &e, v));
      SINTER_TRY(next(p));
    } else if (kind == SINTER_ATTR_TENSORS) {
      sinter_tensor_t *v = vec_push(p, &tens);
      if (!v) return OOM();
      SINTER_TRY(parse_tensor(p, v));
    } else {
      sinter_graph_t **v = vec_push(p, &graphs);
      if (!v) return OOM();
      SINTER_TRY(parse_graph(p, g, v));
    }
    n++;
  }
  if (kind == L_NONE)
    return PERR(&open,
                "an empty list needs its kind: ints[], floats[], strings[], tensors[] or "
                "graphs[]");
  a->kind = (sinter_attr_kind_t)kind;
  a->count = n;
  a->ints = ints.data;
  a->floats = floats.data;
  a->strings = strs.data;
  a->tensors = tens.data;
  a->graphs = graphs.data;
  return next(p);
}

/* attrs := '{' [name '=' value {',' name '=' value}] '}' */
static sinter_status_t parse_attrs(parser_t *p, sinter_graph_t *g, vec_t *attrs) {
  SINTER_TRY(expect_punct(p, '{'));
  while (!at_punct(p, '}')) {
    if (attrs->n) SINTER_TRY(expect_punct(p, ','));
    if (p->tok.kind != T_IDENT && p->tok.kind != T_STRING) return expected(p, "an attribute name");
    token_t nt = p->tok;
    char *name;
    SINTER_TRY(decode_name(p, &nt, &name));
    for (size_t i = 0; i < attrs->n; i++)
      if (strcmp(((sinter_attr_t *)attrs->data)[i].name, name) == 0)
        return PERR(&nt, "duplicate attribute '%s'", name);
    sinter_attr_t *a = vec_push(p, attrs);
    if (!a) return OOM();
    memset(a, 0, sizeof(*a));
    a->name = name;
    SINTER_TRY(next(p));
    SINTER_TRY(expect_punct(p, '='));
    SINTER_TRY(parse_attr_value(p, g, a));
  }
  return next(p);
}

/* ---- statements ------------------------------------------------------------------ */

static sinter_status_t parse_input(parser_t *p, sinter_graph_t *g, scope_t *s) {
  SINTER_TRY(next(p));
  ref_t r;
  SINTER_TRY(read_ref(p, &r));
  SINTER_TRY(scope_check_new(p, s, &r));
  SINTER_TRY(expect_punct(p, ':'));
  sinter_type_t ty;
  sinter_quant_params_t q;
  bool hq;
  SINTER_TRY(parse_typeq(p, s, &ty, &q, &hq));
  sinter_value_t *v;
  SINTER_TRY(sinter_graph_add_input(g, NULL, &ty, &v));
  if (hq) SINTER_TRY(sinter_value_set_quant(v, &q));
  return scope_define(p, s, &r, v);
}

static sinter_status_t parse_const(parser_t *p, sinter_graph_t *g, scope_t *s) {
  SINTER_TRY(next(p));
  ref_t r;
  SINTER_TRY(read_ref(p, &r));
  SINTER_TRY(scope_check_new(p, s, &r));
  SINTER_TRY(expect_punct(p, ':'));
  token_t type_tok = p->tok;
  sinter_type_t ty;
  sinter_quant_params_t q;
  bool hq;
  SINTER_TRY(parse_typeq(p, s, &ty, &q, &hq));
  SINTER_TRY(expect_punct(p, '='));
  void *data;
  size_t nbytes;
  SINTER_TRY(parse_data(p, &ty, &g->arena, &type_tok, &data, &nbytes));
  /* The data already lives in the graph's arena: hand it over without a
   * second copy, and mark it owned since no mapping backs it. */
  sinter_value_t *v;
  SINTER_TRY(sinter_graph_add_const_borrowed(g, NULL, &ty, data, nbytes, &v));
  v->data_borrowed = false;
  if (hq) SINTER_TRY(sinter_value_set_quant(v, &q));
  return scope_define(p, s, &r, v);
}

static sinter_status_t parse_output(parser_t *p, sinter_graph_t *g, scope_t *s) {
  SINTER_TRY(next(p));
  for (;;) {
    ref_t r;
    sinter_value_t *v = NULL;
    SINTER_TRY(read_ref(p, &r));
    SINTER_TRY(scope_lookup(p, s, &r, &v));
    SINTER_TRY(sinter_graph_add_output(g, v));
    if (!at_punct(p, ',')) return NULL;
    SINTER_TRY(next(p));
  }
}

typedef struct outspec_s {
  ref_t ref;
  sinter_type_t type;
  sinter_quant_params_t q;
  bool has_quant;
} outspec_t;

/* [refs ':' typeqs '='] op [name] '(' args ')' [attrs] */
static sinter_status_t parse_node(parser_t *p, sinter_graph_t *g, scope_t *s) {
  vec_t outs = {.elem = sizeof(outspec_t)};
  if (p->tok.kind == T_VREF) {
    for (;;) {
      outspec_t *o = vec_push(p, &outs);
      if (!o) return OOM();
      memset(o, 0, sizeof(*o));
      SINTER_TRY(read_ref(p, &o->ref));
      SINTER_TRY(scope_check_new(p, s, &o->ref));
      if (!at_punct(p, ',')) break;
      SINTER_TRY(next(p));
    }
    SINTER_TRY(expect_punct(p, ':'));
    for (size_t i = 0; i < outs.n; i++) {
      outspec_t *o = (outspec_t *)outs.data + i;
      if (i) {
        if (at_punct(p, '=')) return PERR(&p->tok, "%zu outputs but %zu types", outs.n, i);
        SINTER_TRY(expect_punct(p, ','));
      }
      SINTER_TRY(parse_typeq(p, s, &o->type, &o->q, &o->has_quant));
    }
    if (at_punct(p, ',')) return PERR(&p->tok, "more types than the %zu outputs", outs.n);
    SINTER_TRY(expect_punct(p, '='));
  }
  /* The op: Name, or domain::Name. */
  token_t op_tok = p->tok;
  if (p->tok.kind != T_IDENT && p->tok.kind != T_STRING) return expected(p, "an op name");
  const char *domain = "";
  char *opname;
  SINTER_TRY(decode_name(p, &p->tok, &opname));
  SINTER_TRY(next(p));
  if (at_punct(p, ';')) {
    SINTER_TRY(next(p));
    if (p->tok.kind != T_IDENT) return expected(p, "an op name after '::'");
    domain = opname;
    if (!*domain) return PERR(&op_tok, "empty op domain; write the op without '::'");
    SINTER_TRY(decode_name(p, &p->tok, &opname));
    SINTER_TRY(next(p));
  } else if (op_tok.kind == T_STRING) {
    return expected(p, "'::' after a quoted op domain");
  }
  sinter_op_t op = sinter_op_lookup(domain, opname);
  if (op == SINTER_OP_INVALID) {
    if (*domain) return PERR(&op_tok, "unknown op '%s::%s'", domain, opname);
    return PERR(&op_tok, "unknown op '%s'", opname);
  }
  const sinter_op_info_t *info = sinter_op_info(op);
  char *node_name = NULL;
  if (p->tok.kind == T_STRING) {
    SINTER_TRY(decode_name(p, &p->tok, &node_name));
    SINTER_TRY(next(p));
  }
  token_t args_tok = p->tok;
  SINTER_TRY(expect_punct(p, '('));
  vec_t args = {.elem = sizeof(sinter_value_t *)};
  vec_t arg_toks = {.elem = sizeof(token_t)};
  while (!at_punct(p, ')')) {
    if (args.n) SINTER_TRY(expect_punct(p, ','));
    sinter_value_t **slot = vec_push(p, &args);
    token_t *st = vec_push(p, &arg_toks);
    if (!slot || !st) return OOM();
    *st = p->tok;
    if (at_punct(p, '_')) {
      *slot = NULL;
      SINTER_TRY(next(p));
    } else {
      ref_t r;
      SINTER_TRY(read_ref(p, &r));
      SINTER_TRY(scope_lookup(p, s, &r, slot));
    }
  }
  SINTER_TRY(next(p));
  vec_t attrs = {.elem = sizeof(sinter_attr_t)};
  if (at_punct(p, '{')) SINTER_TRY(parse_attrs(p, g, &attrs));

  /* Arity against ops.def; omitted optional inputs are written as '_'. */
  int32_t n_in = (int32_t)args.n, n_out = (int32_t)outs.n;
  sinter_value_t **in = args.data;
  if (n_in < info->min_inputs || (info->max_inputs >= 0 && n_in > info->max_inputs)) {
    if (info->max_inputs < 0)
      return PERR(&args_tok, "%s takes at least %d inputs, got %d", info->name, info->min_inputs,
                  n_in);
    return PERR(&args_tok, "%s takes %d to %d inputs, got %d", info->name, info->min_inputs,
                info->max_inputs, n_in);
  }
  for (int32_t i = 0; i < info->min_inputs; i++)
    if (!in[i])
      return PERR((token_t *)arg_toks.data + i, "input %d of %s is required", i, info->name);
  if (n_out < info->min_outputs || (info->max_outputs >= 0 && n_out > info->max_outputs)) {
    if (info->max_outputs < 0)
      return PERR(&op_tok, "%s has at least %d outputs, got %d", info->name, info->min_outputs,
                  n_out);
    return PERR(&op_tok, "%s has %d to %d outputs, got %d", info->name, info->min_outputs,
                info->max_outputs, n_out);
  }
  sinter_node_t *node;
  SINTER_TRY(sinter_graph_add_node(g, op, node_name, in, n_in, n_out, &node));
  for (int32_t i = 0; i < n_out; i++) {
    outspec_t *o = (outspec_t *)outs.data + i;
    sinter_value_t *v = node->outputs[i];
    v->type = o->type; /* its symbols are already interned in g */
    if (o->has_quant) SINTER_TRY(sinter_value_set_quant(v, &o->q));
    SINTER_TRY(scope_define(p, s, &o->ref, v));
  }
  for (size_t i = 0; i < attrs.n; i++)
    SINTER_TRY(sinter_node_set_attr(node, (sinter_attr_t *)attrs.data + i));
  return NULL;
}

/* graph := 'graph' @name [opset(...)] '{' stmt* '}' */
static sinter_status_t parse_graph_body(parser_t *p, sinter_graph_t *g, scope_t *s) {
  if (at_kw(p, "opset")) {
    SINTER_TRY(next(p));
    SINTER_TRY(expect_punct(p, '('));
    int n = 0;
    while (!at_punct(p, ')')) {
      if (n++) SINTER_TRY(expect_punct(p, ','));
      if (p->tok.kind != T_STRING) return expected(p, "an opset domain string such as \"\"");
      token_t dt = p->tok;
      char *domain;
      SINTER_TRY(decode_name(p, &dt, &domain));
      const char *norm = strcmp(domain, "ai.onnx") == 0 ? "" : domain;
      for (int32_t i = 0; i < g->n_opsets; i++)
        if (strcmp(g->opsets[i].domain, norm) == 0)
          return PERR(&dt, "duplicate opset domain \"%s\"", domain);
      SINTER_TRY(next(p));
      SINTER_TRY(expect_punct(p, '='));
      int64_t version;
      SINTER_TRY(tok_int(p, &p->tok, INT64_MIN, INT64_MAX, &version));
      SINTER_TRY(next(p));
      SINTER_TRY(sinter_graph_set_opset(g, domain, version));
    }
    SINTER_TRY(next(p));
  }
  SINTER_TRY(expect_punct(p, '{'));
  for (;;) {
    if (at_punct(p, '}')) return next(p);
    if (at_kw(p, "input"))
      SINTER_TRY(parse_input(p, g, s));
    else if (at_kw(p, "const"))
      SINTER_TRY(parse_const(p, g, s));
    else if (at_kw(p, "output"))
      SINTER_TRY(parse_output(p, g, s));
    else if (p->tok.kind == T_VREF || p->tok.kind == T_IDENT || p->tok.kind == T_STRING)
      SINTER_TRY(parse_node(p, g, s));
    else
      return expected(p, "a statement (input, const, output, a node) or '}'");
  }
}

/* Parses a graph; a subgraph when parent is set (owned by parent), else the
 * root (owned by the caller). */
static sinter_status_t parse_graph(parser_t *p, sinter_graph_t *parent, sinter_graph_t **out) {
  *out = NULL;
  token_t gt = p->tok;
  SINTER_TRY(expect_kw(p, "graph"));
  if (p->depth >= MAX_DEPTH) return PERR(&gt, "subgraphs nested deeper than %d levels", MAX_DEPTH);
  if (p->tok.kind != T_GREF) return expected(p, "a graph name such as @main");
  char *name;
  SINTER_TRY(decode_name(p, &p->tok, &name));
  SINTER_TRY(next(p));
  sinter_graph_t *g;
  if (parent)
    SINTER_TRY(sinter_ir_subgraph_create(parent, name, &g));
  else
    SINTER_TRY(sinter_graph_create(name, &g));
  scope_t s = {.graph = g};
  p->depth++;
  sinter_status_t st = parse_graph_body(p, g, &s);
  p->depth--;
  free(s.e);
  free(s.syms);
  if (st) {
    if (!parent) sinter_graph_destroy(g); /* a subgraph goes with its parent */
    return st;
  }
  *out = g;
  return NULL;
}

sinter_status_t sinter_graph_parse(const char *text, size_t len, const char *source_name,
                                   sinter_graph_t **out_graph) {
  *out_graph = NULL;
  if (!text && len) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "no text to parse");
  parser_t p = {
      .src = text ? text : "",
      .end = (text ? text : "") + len,
      .cur = text ? text : "",
      .line_start = text ? text : "",
      .line = 1,
      .file = source_name ? source_name : "<input>",
  };
  sinter_arena_init(&p.tmp, 64 * 1024);
  sinter_graph_t *g = NULL;
  sinter_status_t st = next(&p);
  if (!st) st = parse_graph(&p, NULL, &g);
  if (!st && p.tok.kind != T_EOF) {
    char buf[64];
    st = err_at(&p, p.tok.line, p.tok.col, "unexpected %s after the graph",
                describe(&p.tok, buf, sizeof(buf)));
  }
  sinter_arena_deinit(&p.tmp);
  if (st) {
    sinter_graph_destroy(g);
    return st;
  }
  *out_graph = g;
  return NULL;
}
