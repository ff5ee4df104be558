/*
 * The configuration tree (lw_conf.h). libyaml's event parser feeds a recursive builder that
 * allocates every node and string from one chunked arena owned by the tree, so destroying a tree
 * is one walk over its chunks. The builder, not libyaml, enforces the limits (file size, depth,
 * node count, scalar length): libyaml would otherwise follow a file of a million '[' as deep as
 * memory goes. Aliases are refused rather than expanded, which also rules out the "billion laughs"
 * blow-up; no configuration key needs them.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yaml.h>

#include "lw/lw_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

#define NS 1000000000LL
#define CHUNK_BYTES 16384u

struct chunk {
    struct chunk *next;
    size_t used;
    size_t size;
    max_align_t data[];
};

struct lw_conf {
    char *file;                 /* the name in messages, from the arena */
    struct lw_conf_node *root;  /* NULL for an empty file */
    struct chunk *chunks;
    size_t n_nodes;
};

/* ---- arena ---- */

static void *conf_alloc(struct lw_conf *c, size_t n)
{
    struct chunk *k = c->chunks;
    size_t align = sizeof(max_align_t);
    void *p;

    n = (n + align - 1) / align * align;
    if (k == NULL || k->size - k->used < n) {
        size_t size = n > CHUNK_BYTES ? n : CHUNK_BYTES;

        k = lw_malloc(sizeof(*k) + size);
        if (k == NULL) {
            return NULL;
        }
        k->size = size;
        k->used = 0;
        k->next = c->chunks;
        c->chunks = k;
    }
    p = (char *)k->data + k->used;
    k->used += n;
    return p;
}

static char *conf_strndup(struct lw_conf *c, const char *s, size_t n)
{
    char *p = conf_alloc(c, n + 1);

    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void lw_conf_destroy(struct lw_conf *c)
{
    struct chunk *k;

    if (c == NULL) {
        return;
    }
    while ((k = c->chunks) != NULL) {
        c->chunks = k->next;
        lw_free(k);
    }
    lw_free(c);
}

const struct lw_conf_node *lw_conf_root(const struct lw_conf *c)
{
    return c->root;
}

const char *lw_conf_file(const struct lw_conf *c)
{
    return c->file;
}

/* ---- messages ---- */

int lw_conf_errf(const struct lw_conf *c, const struct lw_conf_node *n, struct lw_conf_err *err,
                 const char *fmt, ...)
{
    va_list ap;
    int len;

    if (n != NULL && n->path != NULL && n->path[0] != '\0') {
        len = snprintf(err->msg, sizeof(err->msg), "%s:%u: %s: ", c->file, n->line, n->path);
    }
    else {
        len = snprintf(err->msg, sizeof(err->msg), "%s:%u: ", c->file, n != NULL ? n->line : 1);
    }
    if (len < 0 || (size_t)len >= sizeof(err->msg)) {
        return LW_EINVAL;
    }
    va_start(ap, fmt);
    vsnprintf(err->msg + len, sizeof(err->msg) - (size_t)len, fmt, ap);
    va_end(ap);
    return LW_EINVAL;
}

bool lw_conf_is_null(const struct lw_conf_node *n)
{
    return n != NULL && n->type == LW_CONF_SCALAR && n->plain &&
           (n->value[0] == '\0' || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
            strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0);
}

static bool word_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    size_t i;

    for (i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* What @n is, for "expected X, got Y": "a number (3)", "a list", "a string ('x')". */
static void describe(const struct lw_conf_node *n, char *buf, size_t len)
{
    char *end;
    bool b;

    if (n->type == LW_CONF_MAP) {
        snprintf(buf, len, "a map");
        return;
    }
    if (n->type == LW_CONF_SEQ) {
        snprintf(buf, len, "a list");
        return;
    }
    if (lw_conf_is_null(n)) {
        snprintf(buf, len, "nothing");
        return;
    }
    if (n->plain) {
        errno = 0;
        (void)strtod(n->value, &end);
        if (end != n->value && *end == '\0') {
            snprintf(buf, len, "a number (%.60s)", n->value);
            return;
        }
        if (word_bool(n->value, &b)) {
            snprintf(buf, len, "a boolean (%.60s)", n->value);
            return;
        }
    }
    snprintf(buf, len, "a string ('%.60s%s')", n->value, strlen(n->value) > 60 ? "..." : "");
}

int lw_conf_bad(const struct lw_conf *c, const struct lw_conf_node *n, struct lw_conf_err *err,
                const char *want)
{
    char got[96];

    if (n->type == LW_CONF_SCALAR && !lw_conf_is_null(n)) {
        return lw_conf_errf(c, n, err, "'%.200s' is not %s", n->value, want);
    }
    describe(n, got, sizeof(got));
    return lw_conf_errf(c, n, err, "expected %s, got %s", want, got);
}

/* ---- the builder ---- */

struct builder {
    struct lw_conf *c;
    yaml_parser_t parser;
    struct lw_conf_err *err;
};

static int syntax_error(struct builder *b)
{
    const yaml_parser_t *p = &b->parser;

    if (p->error == YAML_MEMORY_ERROR) {
        snprintf(b->err->msg, sizeof(b->err->msg), "%s: out of memory", b->c->file);
        return LW_ENOMEM;
    }
    if (p->context != NULL) {
        /* The context ("while parsing a flow sequence") often starts lines before the problem. */
        snprintf(b->err->msg, sizeof(b->err->msg),
                 "%s:%zu:%zu: YAML syntax error: %s %s that starts on line %zu", b->c->file,
                 p->problem_mark.line + 1, p->problem_mark.column + 1,
                 p->problem != NULL ? p->problem : "malformed", p->context,
                 p->context_mark.line + 1);
        return LW_EINVAL;
    }
    snprintf(b->err->msg, sizeof(b->err->msg), "%s:%zu:%zu: YAML syntax error: %s", b->c->file,
             p->problem_mark.line + 1, p->problem_mark.column + 1,
             p->problem != NULL ? p->problem : "malformed");
    return LW_EINVAL;
}

static int at_error(struct builder *b, const yaml_mark_t *m, const char *path, const char *what)
{
    if (path != NULL && path[0] != '\0') {
        snprintf(b->err->msg, sizeof(b->err->msg), "%s:%zu:%zu: %s: %s", b->c->file, m->line + 1,
                 m->column + 1, path, what);
    }
    else {
        snprintf(b->err->msg, sizeof(b->err->msg), "%s:%zu:%zu: %s", b->c->file, m->line + 1,
                 m->column + 1, what);
    }
    return LW_EINVAL;
}

static int oom(struct builder *b)
{
    snprintf(b->err->msg, sizeof(b->err->msg), "%s: out of memory", b->c->file);
    return LW_ENOMEM;
}

static int next_event(struct builder *b, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&b->parser, ev)) {
        return syntax_error(b);
    }
    return LW_OK;
}

static int build(struct builder *b, yaml_event_t *ev, const char *path, const char *key,
                 const yaml_mark_t *key_mark, unsigned depth, struct lw_conf_node **out);

/* The items of a list, after its start event. */
static int build_seq(struct builder *b, struct lw_conf_node *n, unsigned depth)
{
    struct lw_conf_node **tail = &n->child;
    char path[512];
    yaml_event_t ev;
    int rc;

    for (;;) {
        rc = next_event(b, &ev);
        if (rc < 0) {
            return rc;
        }
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return LW_OK;
        }
        snprintf(path, sizeof(path), "%s[%zu]", n->path, n->n_children);
        rc = build(b, &ev, path, NULL, NULL, depth + 1, tail);
        yaml_event_delete(&ev);
        if (rc < 0) {
            return rc;
        }
        tail = &(*tail)->next;
        n->n_children++;
    }
}

/* The entries of a map, after its start event: keys are scalars and appear once. */
static int build_map(struct builder *b, struct lw_conf_node *n, unsigned depth)
{
    struct lw_conf_node **tail = &n->child;
    const struct lw_conf_node *s;
    char path[512];
    yaml_event_t kev;
    yaml_event_t ev;
    yaml_mark_t km;
    size_t key_len;
    char *key;
    int rc;

    for (;;) {
        rc = next_event(b, &kev);
        if (rc < 0) {
            return rc;
        }
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return LW_OK;
        }
        km = kev.start_mark;
        if (n->n_children >= LW_CONF_MAX_MAP_KEYS) {
            /* Duplicates are looked for by a scan: the cap keeps a hostile map from taking
             * quadratic time. */
            yaml_event_delete(&kev);
            return at_error(b, &km, n->path, "more than 1024 keys in one map");
        }
        if (kev.type != YAML_SCALAR_EVENT) {
            yaml_event_delete(&kev);
            return at_error(b, &km, n->path, "a key must be a plain word, not a list or a map");
        }
        key_len = kev.data.scalar.length;
        key = conf_strndup(b->c, (const char *)kev.data.scalar.value, key_len);
        yaml_event_delete(&kev);
        if (key == NULL) {
            return oom(b);
        }
        if (strlen(key) != key_len || key[0] == '\0') {
            return at_error(b, &km, n->path, "a key must be a non-empty word");
        }
        for (s = n->child; s != NULL; s = s->next) {
            if (strcmp(s->key, key) == 0) {
                char what[160];

                snprintf(what, sizeof(what), "key '%.80s' appears twice (first on line %u)", key,
                         s->line);
                return at_error(b, &km, n->path, what);
            }
        }
        if (n->path[0] == '\0') {
            snprintf(path, sizeof(path), "%s", key);
        }
        else {
            snprintf(path, sizeof(path), "%s.%s", n->path, key);
        }
        rc = next_event(b, &ev);
        if (rc < 0) {
            return rc;
        }
        rc = build(b, &ev, path, key, &km, depth + 1, tail);
        yaml_event_delete(&ev);
        if (rc < 0) {
            return rc;
        }
        tail = &(*tail)->next;
        n->n_children++;
    }
}

/*
 * Builds the node that starts with @ev (not consumed here) into *@out. @key_mark, for map
 * entries, is where the key is: messages point there, where a reader looks for the key.
 */
static int build(struct builder *b, yaml_event_t *ev, const char *path, const char *key,
                 const yaml_mark_t *key_mark, unsigned depth, struct lw_conf_node **out)
{
    const yaml_mark_t *m = key_mark != NULL ? key_mark : &ev->start_mark;
    struct lw_conf_node *n;

    if (ev->type == YAML_ALIAS_EVENT) {
        return at_error(b, &ev->start_mark, path,
                        "aliases (*name) are not supported: write the value out");
    }
    if (ev->type != YAML_SCALAR_EVENT && ev->type != YAML_SEQUENCE_START_EVENT &&
        ev->type != YAML_MAPPING_START_EVENT) {
        return at_error(b, &ev->start_mark, path, "unexpected YAML event");
    }
    if (depth > LW_CONF_MAX_DEPTH) {
        return at_error(b, &ev->start_mark, path,
                        "nested too deeply (at most " "32" " levels of maps and lists)");
    }
    if (b->c->n_nodes >= LW_CONF_MAX_NODES) {
        return at_error(b, &ev->start_mark, path,
                        "too many values in one file (at most 100000)");
    }
    if (strlen(path) >= 511) {
        return at_error(b, &ev->start_mark, NULL, "key path too long (at most 510 characters)");
    }
    n = conf_alloc(b->c, sizeof(*n));
    if (n == NULL) {
        return oom(b);
    }
    memset(n, 0, sizeof(*n));
    b->c->n_nodes++;
    *out = n;
    n->key = key;
    n->line = (unsigned)m->line + 1;
    n->col = (unsigned)m->column + 1;
    n->path = conf_strndup(b->c, path, strlen(path));
    if (n->path == NULL) {
        return oom(b);
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n->type = LW_CONF_SCALAR;
        if (ev->data.scalar.length > LW_CONF_MAX_SCALAR_BYTES) {
            return at_error(b, &ev->start_mark, path, "value longer than 64 KiB");
        }
        n->value = conf_strndup(b->c, (const char *)ev->data.scalar.value,
                                ev->data.scalar.length);
        if (n->value == NULL) {
            return oom(b);
        }
        if (strlen(n->value) != ev->data.scalar.length) {
            return at_error(b, &ev->start_mark, path, "a value holds a NUL character");
        }
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        return LW_OK;
    case YAML_SEQUENCE_START_EVENT:
        n->type = LW_CONF_SEQ;
        return build_seq(b, n, depth);
    default:
        n->type = LW_CONF_MAP;
        return build_map(b, n, depth);
    }
}

int lw_conf_load_buf(const char *name, const void *buf, size_t len, struct lw_conf **out,
                     struct lw_conf_err *err)
{
    struct builder b;
    yaml_event_t ev;
    int rc;

    *out = NULL;
    memset(&b, 0, sizeof(b));
    b.err = err;
    err->msg[0] = '\0';
    if (len > LW_CONF_MAX_FILE_BYTES) {
        snprintf(err->msg, sizeof(err->msg), "%s: %zu bytes, a configuration file may have at "
                 "most 4 MiB", name, len);
        return LW_ETOOBIG;
    }
    b.c = lw_calloc(1, sizeof(*b.c));
    if (b.c == NULL) {
        snprintf(err->msg, sizeof(err->msg), "%s: out of memory", name);
        return LW_ENOMEM;
    }
    b.c->file = conf_strndup(b.c, name, strlen(name));
    if (b.c->file == NULL || !yaml_parser_initialize(&b.parser)) {
        lw_conf_destroy(b.c);
        snprintf(err->msg, sizeof(err->msg), "%s: out of memory", name);
        return LW_ENOMEM;
    }
    yaml_parser_set_input_string(&b.parser, buf, len);
    /* STREAM-START, then DOCUMENT-START or (an empty file) STREAM-END. */
    rc = next_event(&b, &ev);
    if (rc == LW_OK) {
        yaml_event_delete(&ev);
        rc = next_event(&b, &ev);
    }
    if (rc == LW_OK && ev.type == YAML_DOCUMENT_START_EVENT) {
        yaml_event_delete(&ev);
        rc = next_event(&b, &ev);
        if (rc == LW_OK) {
            rc = build(&b, &ev, "", NULL, NULL, 0, &b.c->root);
            yaml_event_delete(&ev);
        }
        if (rc == LW_OK) {
            rc = next_event(&b, &ev); /* DOCUMENT-END */
            if (rc == LW_OK) {
                yaml_event_delete(&ev);
                rc = next_event(&b, &ev);
            }
            if (rc == LW_OK && ev.type != YAML_STREAM_END_EVENT) {
                rc = at_error(&b, &ev.start_mark, NULL,
                              "a second YAML document ('---'): the file must hold one");
                yaml_event_delete(&ev);
            }
            else if (rc == LW_OK) {
                yaml_event_delete(&ev);
            }
        }
    }
    else if (rc == LW_OK) {
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&b.parser);
    if (rc < 0) {
        lw_conf_destroy(b.c);
        return rc;
    }
    if (lw_conf_is_null(b.c->root)) {
        b.c->root = NULL; /* a file of only comments, or "~" */
    }
    *out = b.c;
    return LW_OK;
}

int lw_conf_load_file(const char *path, struct lw_conf **out, struct lw_conf_err *err)
{
    struct stat st;
    FILE *f;
    char *buf;
    size_t n;
    int rc;

    *out = NULL;
    f = fopen(path, "rbe");
    if (f == NULL) {
        snprintf(err->msg, sizeof(err->msg), "%s: cannot open: %s", path, strerror(errno));
        return errno == ENOENT ? LW_ENOENT : LW_EIO;
    }
    /* Pipes are fine (--config <(...)): their size is checked as they are read. */
    if (fstat(fileno(f), &st) != 0 || S_ISDIR(st.st_mode)) {
        fclose(f);
        snprintf(err->msg, sizeof(err->msg), "%s: is a directory, not a file", path);
        return LW_EINVAL;
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > LW_CONF_MAX_FILE_BYTES) {
        fclose(f);
        snprintf(err->msg, sizeof(err->msg),
                 "%s: %lld bytes, a configuration file may have at most 4 MiB", path,
                 (long long)st.st_size);
        return LW_ETOOBIG;
    }
    /* One byte more than the limit tells a file that grew since fstat(). */
    buf = lw_malloc(LW_CONF_MAX_FILE_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        snprintf(err->msg, sizeof(err->msg), "%s: out of memory", path);
        return LW_ENOMEM;
    }
    n = fread(buf, 1, LW_CONF_MAX_FILE_BYTES + 1, f);
    if (ferror(f)) {
        fclose(f);
        lw_free(buf);
        snprintf(err->msg, sizeof(err->msg), "%s: read failed", path);
        return LW_EIO;
    }
    fclose(f);
    if (n > LW_CONF_MAX_FILE_BYTES) {
        lw_free(buf);
        snprintf(err->msg, sizeof(err->msg),
                 "%s: more than 4 MiB, a configuration file may have at most 4 MiB", path);
        return LW_ETOOBIG;
    }
    rc = lw_conf_load_buf(path, buf, n, out, err);
    lw_free(buf);
    return rc;
}

/* ---- readers ---- */

const struct lw_conf_node *lw_conf_get(const struct lw_conf_node *map, const char *key)
{
    const struct lw_conf_node *n;

    if (map == NULL || map->type != LW_CONF_MAP) {
        return NULL;
    }
    for (n = map->child; n != NULL; n = n->next) {
        if (strcmp(n->key, key) == 0) {
            return n;
        }
    }
    return NULL;
}

/* Levenshtein distance, capped: only near misses matter. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    size_t row[65];
    size_t i;
    size_t j;

    if (la > 64 || lb > 64) {
        return 99;
    }
    for (j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);

            if (up + 1 < best) {
                best = up + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

int lw_conf_check_keys(const struct lw_conf *c, const struct lw_conf_node *map,
                       const char *const *known, struct lw_conf_err *err)
{
    const struct lw_conf_node *n;
    size_t i;

    if (map == NULL) {
        return LW_OK;
    }
    if (map->type != LW_CONF_MAP) {
        return lw_conf_bad(c, map, err, "a map of keys (key: value)");
    }
    for (n = map->child; n != NULL; n = n->next) {
        const char *best = NULL;
        size_t best_d = 3;

        for (i = 0; known[i] != NULL; i++) {
            size_t d;

            if (strcmp(n->key, known[i]) == 0) {
                break;
            }
            d = edit_distance(n->key, known[i]);
            if (d < best_d && d < strlen(known[i])) {
                best_d = d;
                best = known[i];
            }
        }
        if (known[i] != NULL) {
            continue;
        }
        /* Named in its section (the map's path) at the key's own line. */
        snprintf(err->msg, sizeof(err->msg), "%s:%u: %s%sunknown key '%.80s'%s%s%s", c->file,
                 n->line, map->path, map->path[0] != '\0' ? ": " : "", n->key,
                 best != NULL ? " (did you mean '" : "", best != NULL ? best : "",
                 best != NULL ? "'?)" : "");
        return LW_EINVAL;
    }
    return LW_OK;
}

/* The scalar at @key: 0 when absent or null, 1 with *@out, LW_EINVAL when not a scalar. */
static int scalar(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                  const char *want, const struct lw_conf_node **out, struct lw_conf_err *err)
{
    const struct lw_conf_node *n = lw_conf_get(map, key);

    if (n == NULL || lw_conf_is_null(n)) {
        return 0;
    }
    if (n->type != LW_CONF_SCALAR) {
        return lw_conf_bad(c, n, err, want);
    }
    *out = n;
    return 1;
}

int lw_conf_map(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                const struct lw_conf_node **out, struct lw_conf_err *err)
{
    const struct lw_conf_node *n = lw_conf_get(map, key);

    if (n == NULL || lw_conf_is_null(n)) {
        return 0;
    }
    if (n->type != LW_CONF_MAP) {
        char got[96];

        describe(n, got, sizeof(got));
        return lw_conf_errf(c, n, err, "expected a section of keys (key: value), got %s", got);
    }
    *out = n;
    return 1;
}

int lw_conf_list(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                 size_t max, const char *what, const struct lw_conf_node **out,
                 struct lw_conf_err *err)
{
    const struct lw_conf_node *n = lw_conf_get(map, key);
    const struct lw_conf_node *it;
    char got[96];

    if (n == NULL || lw_conf_is_null(n)) {
        return 0;
    }
    if (n->type != LW_CONF_SEQ) {
        describe(n, got, sizeof(got));
        return lw_conf_errf(c, n, err, "expected %s, got %s", what, got);
    }
    if (n->n_children > max) {
        return lw_conf_errf(c, n, err, "%zu entries, at most %zu", n->n_children, max);
    }
    for (it = n->child; it != NULL; it = it->next) {
        if (it->type != LW_CONF_SCALAR || lw_conf_is_null(it)) {
            describe(it, got, sizeof(got));
            return lw_conf_errf(c, it, err, "expected %s, got %s in it", what, got);
        }
    }
    *out = n;
    return 1;
}

int lw_conf_strlist(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                    size_t max, const char *what, const char *const **out, size_t *n,
                    struct lw_conf_err *err)
{
    const struct lw_conf_node *list = NULL;
    const struct lw_conf_node *it;
    const char **v;
    size_t i = 0;
    int rc = lw_conf_list(c, map, key, max, what, &list, err);

    if (rc != 1) {
        return rc;
    }
    /* The tree's arena is its own business: handing out memory from it does not change a node. */
    v = conf_alloc((struct lw_conf *)c, (list->n_children + 1) * sizeof(*v));
    if (v == NULL) {
        snprintf(err->msg, sizeof(err->msg), "%s: out of memory", c->file);
        return LW_ENOMEM;
    }
    for (it = list->child; it != NULL; it = it->next) {
        v[i++] = it->value;
    }
    v[i] = NULL;
    *out = v;
    *n = i;
    return 1;
}

int lw_conf_str(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                const char **out, struct lw_conf_err *err)
{
    const struct lw_conf_node *n = NULL;
    int rc = scalar(c, map, key, "a single value", &n, err);

    if (rc == 1) {
        *out = n->value;
    }
    return rc;
}

int lw_conf_bool(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                 bool *out, struct lw_conf_err *err)
{
    const struct lw_conf_node *n = NULL;
    int rc = scalar(c, map, key, "true or false", &n, err);
    bool v;

    if (rc != 1) {
        return rc;
    }
    if (!word_bool(n->value, &v)) {
        return lw_conf_bad(c, n, err, "true or false");
    }
    *out = v;
    return 1;
}

int lw_conf_uint(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                 uint64_t lo, uint64_t hi, uint64_t *out, struct lw_conf_err *err)
{
    const struct lw_conf_node *n = NULL;
    char want[96];
    unsigned long long v;
    char *end;
    int rc;

    if (lo == 0 && hi == UINT64_MAX) {
        snprintf(want, sizeof(want), "a whole number (0 or more)");
    }
    else if (lo == 1 && hi >= UINT32_MAX) {
        snprintf(want, sizeof(want), "a positive whole number");
    }
    else {
        snprintf(want, sizeof(want), "a whole number from %llu to %llu", (unsigned long long)lo,
                 (unsigned long long)hi);
    }
    rc = scalar(c, map, key, want, &n, err);
    if (rc != 1) {
        return rc;
    }
    /* strtoull() alone would take "-1" for a huge value, so a sign is refused first. */
    errno = 0;
    v = strtoull(n->value, &end, 10);
    if (!isdigit((unsigned char)n->value[0]) || errno != 0 || *end != '\0' || v < lo || v > hi) {
        return lw_conf_bad(c, n, err, want);
    }
    *out = (uint64_t)v;
    return 1;
}

int lw_conf_usize(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                  uint64_t lo, uint64_t hi, size_t *out, struct lw_conf_err *err)
{
    const uint64_t size_max = SIZE_MAX; /* a variable: no "always false" warning on LP64 */
    uint64_t v = 0;
    int rc = lw_conf_uint(c, map, key, lo, hi > size_max ? size_max : hi, &v, err);

    if (rc == 1) {
        *out = (size_t)v;
    }
    return rc;
}

int lw_conf_duration(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                     int64_t min_ns, int64_t *out, struct lw_conf_err *err)
{
    const char *want = min_ns > 0 ? "a duration such as 250ms, 10s, 5m, 7d"
                                  : "a duration such as 0, 250ms, 10s, 5m, 7d";
    const struct lw_conf_node *n = NULL;
    int rc = scalar(c, map, key, want, &n, err);
    int64_t d;

    if (rc != 1) {
        return rc;
    }
    d = lw_parse_duration_ns(n->value);
    if (d < 0 || d < min_ns) {
        return lw_conf_bad(c, n, err, want);
    }
    *out = d;
    return 1;
}

int lw_conf_size(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                 size_t *out, struct lw_conf_err *err)
{
    static const char want[] = "a size such as 65536, 64KiB, 16MiB";
    const struct lw_conf_node *n = NULL;
    int rc = scalar(c, map, key, want, &n, err);
    int64_t d;

    if (rc != 1) {
        return rc;
    }
    d = lw_parse_size(n->value);
    if (d <= 0 || (uint64_t)d > SIZE_MAX) {
        return lw_conf_bad(c, n, err, want);
    }
    *out = (size_t)d;
    return 1;
}

int lw_conf_number(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                   double lo, bool lo_open, double hi, const char *want, double *out,
                   struct lw_conf_err *err)
{
    const struct lw_conf_node *n = NULL;
    int rc = scalar(c, map, key, want, &n, err);
    char *end;
    double d;

    if (rc != 1) {
        return rc;
    }
    errno = 0;
    d = strtod(n->value, &end);
    if (errno != 0 || end == n->value || *end != '\0' || !isfinite(d) || d > hi ||
        (lo_open ? !(d > lo) : !(d >= lo))) {
        return lw_conf_bad(c, n, err, want);
    }
    *out = d;
    return 1;
}

/* ---- units ---- */

int64_t lw_parse_duration_ns(const char *s)
{
    char *end;
    double v;

    if (s == NULL || *s == '\0') {
        return -1;
    }
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || !(v >= 0) || v > 1e9) {
        return -1; /* also NaN, and more than 31 years in any unit overflows int64 ns */
    }
    if (*end == '\0' || strcmp(end, "s") == 0) {
        return (int64_t)(v * NS);
    }
    if (strcmp(end, "ms") == 0) {
        return (int64_t)(v * 1e6);
    }
    if (strcmp(end, "us") == 0) {
        return (int64_t)(v * 1e3);
    }
    if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0) {
        return v > 1e7 ? -1 : (int64_t)(v * 60 * NS);
    }
    if (strcmp(end, "h") == 0) {
        return v > 1e5 ? -1 : (int64_t)(v * 3600 * NS);
    }
    if (strcmp(end, "d") == 0) {
        return v > 1e4 ? -1 : (int64_t)(v * 86400 * NS);
    }
    return -1;
}

int64_t lw_parse_size(const char *s)
{
    static const struct {
        const char *u;
        double m;
    } units[] = {
        {"", 1}, {"B", 1}, {"K", 1024}, {"KB", 1000}, {"KiB", 1024}, {"M", 1048576},
        {"MB", 1e6}, {"MiB", 1048576}, {"G", 1073741824}, {"GB", 1e9}, {"GiB", 1073741824},
    };
    char *end;
    double v;
    size_t i;

    if (s == NULL || *s == '\0') {
        return -1;
    }
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || !(v >= 0)) {
        return -1;
    }
    while (*end == ' ') {
        end++;
    }
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].u) == 0) {
            /* Above 2^62 bytes the double does not fit an int64: refuse rather than wrap. */
            return v * units[i].m > 4.6e18 ? -1 : (int64_t)(v * units[i].m);
        }
    }
    return -1;
}
