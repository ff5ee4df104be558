/*
 * Configuration tree (src/core/lw_conf.c): a YAML file read with libyaml into a bounded tree of
 * maps, lists and scalars, each node remembering its line, column and dotted key path
 * ("inputs.tail.paths", "alerts.sinks[1].url"). Each plugin reads its own section with the typed
 * getters below, so that every error names the file, the line and the key:
 *
 *     logwarden.yaml:3: inputs.tail.paths: expected a list of paths, got a number (3)
 *
 * The tree does not know the schema: a section's reader lists its keys with lw_conf_check_keys(),
 * which refuses unknown ones (with a "did you mean" for near misses). Scalars are kept as text;
 * the getters parse them (strict booleans, ranged numbers, durations, sizes).
 *
 * A tree is built and read on one thread; it is immutable after lw_conf_load*() and may then be
 * read from any thread. Everything it returns (nodes, strings) lives until lw_conf_destroy().
 */
#ifndef LW_CONF_H
#define LW_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits that keep a hostile or broken file from taking the daemon's memory. */
#define LW_CONF_MAX_FILE_BYTES ((size_t)4 << 20) /* 4 MiB of YAML */
#define LW_CONF_MAX_DEPTH 32u                    /* nested maps and lists */
#define LW_CONF_MAX_NODES 100000u                /* maps, lists and scalars together */
#define LW_CONF_MAX_SCALAR_BYTES ((size_t)64 << 10)
#define LW_CONF_MAX_MAP_KEYS 1024u               /* keys of one map (duplicates are looked for) */

enum lw_conf_type {
    LW_CONF_MAP,
    LW_CONF_SEQ,
    LW_CONF_SCALAR,
};

struct lw_conf_node {
    enum lw_conf_type type;
    const char *key;               /* the key in the parent map; NULL for list items, root */
    const char *path;              /* dotted path from the root: "inputs.tail", "x.y[2]" */
    const char *value;             /* scalars: the text ("" for an empty value) */
    bool plain;                    /* scalars: written without quotes (null, numbers, words) */
    unsigned line;                 /* 1-based, where the value starts */
    unsigned col;                  /* 1-based */
    size_t n_children;             /* map entries or list items */
    struct lw_conf_node *child;    /* the first entry or item, in file order */
    struct lw_conf_node *next;     /* the next sibling */
};

struct lw_conf;

/* An error, formatted "FILE:LINE: key.path: what is wrong". */
struct lw_conf_err {
    char msg[512];
};

/*
 * Reads @path into a new tree. Returns LW_OK and *@out (free with lw_conf_destroy()), or a
 * negative LW_E* code with @err filled (a file that cannot be read, a YAML syntax error with its
 * line and column, a file over a limit). An empty file gives a tree whose root is NULL.
 */
int lw_conf_load_file(const char *path, struct lw_conf **out, struct lw_conf_err *err);
/* The same from memory; @name stands for the file name in messages. @buf is only read. */
int lw_conf_load_buf(const char *name, const void *buf, size_t len, struct lw_conf **out,
                     struct lw_conf_err *err);
void lw_conf_destroy(struct lw_conf *c);

/* The top map (NULL for an empty file) and the file name used in messages. */
const struct lw_conf_node *lw_conf_root(const struct lw_conf *c);
const char *lw_conf_file(const struct lw_conf *c);

/*
 * Fills @err with "FILE:LINE: PATH: " and the printf-formatted text, about @n (a node of @c).
 * Returns LW_EINVAL, so that readers can `return lw_conf_errf(...)`.
 */
__attribute__((format(printf, 4, 5))) int lw_conf_errf(const struct lw_conf *c,
                                                       const struct lw_conf_node *n,
                                                       struct lw_conf_err *err,
                                                       const char *fmt, ...);
/* "FILE:LINE: PATH: 'VALUE' is not WANT" for a scalar, or "expected WANT, got a list". */
int lw_conf_bad(const struct lw_conf *c, const struct lw_conf_node *n, struct lw_conf_err *err,
                const char *want);

/* The value of @key in the map @map, or NULL when @map is NULL, not a map or has no @key. */
const struct lw_conf_node *lw_conf_get(const struct lw_conf_node *map, const char *key);
/* Whether @n is a plain null scalar (`key:`, `key: ~`, `key: null`). */
bool lw_conf_is_null(const struct lw_conf_node *n);

/*
 * Refuses keys of @map that are not in @known (NULL-terminated): "FILE:LINE: PATH: unknown key
 * 'pahts' (did you mean 'paths'?)". LW_OK when all are known.
 */
int lw_conf_check_keys(const struct lw_conf *c, const struct lw_conf_node *map,
                       const char *const *known, struct lw_conf_err *err);

/*
 * Typed getters for @key of @map. Each returns 0 when the key is absent (or a null value), 1
 * when it has read the value into *@out, and LW_EINVAL with @err filled when the value is of the
 * wrong kind or out of range (*@out is then unchanged).
 */
/* A section: a map (a null value counts as absent). */
int lw_conf_map(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                const struct lw_conf_node **out, struct lw_conf_err *err);
/* A list of at most @max scalars; @what names it in messages ("a list of paths"). */
int lw_conf_list(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                 size_t max, const char *what, const struct lw_conf_node **out,
                 struct lw_conf_err *err);
/*
 * lw_conf_list() as an array of the items' text in *@out and their number in *@n. The array is
 * allocated from @c and lives until lw_conf_destroy(); this is the one reader that allocates, so
 * call it from the thread that reads the tree. LW_ENOMEM when that fails.
 */
int lw_conf_strlist(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                    size_t max, const char *what, const char *const **out, size_t *n,
                    struct lw_conf_err *err);
/* A scalar as text, borrowed from the tree. */
int lw_conf_str(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                const char **out, struct lw_conf_err *err);
/* true/yes/on/1 or false/no/off/0, in any case; any other word is an error. */
int lw_conf_bool(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                 bool *out, struct lw_conf_err *err);
/* A whole number in [@lo, @hi], no sign. */
int lw_conf_uint(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                 uint64_t lo, uint64_t hi, uint64_t *out, struct lw_conf_err *err);
/* lw_conf_uint() into a size_t. */
int lw_conf_usize(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                  uint64_t lo, uint64_t hi, size_t *out, struct lw_conf_err *err);
/* A duration ("250ms", "10s", "5m", "7d"; a bare number is seconds) of at least @min_ns. */
int lw_conf_duration(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                     int64_t min_ns, int64_t *out, struct lw_conf_err *err);
/* A size ("65536", "64KiB", "16MB") in bytes, at least 1. */
int lw_conf_size(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                 size_t *out, struct lw_conf_err *err);
/* A finite number in [@lo, @hi], or (@lo, @hi] when @lo_open; @want names the range. */
int lw_conf_number(const struct lw_conf *c, const struct lw_conf_node *map, const char *key,
                   double lo, bool lo_open, double hi, const char *want, double *out,
                   struct lw_conf_err *err);

/* "10s", "250ms", "7d", "1h" -> nanoseconds; returns -1 when malformed. */
int64_t lw_parse_duration_ns(const char *s);
/* "64KiB", "16MB", "1024" -> bytes; returns -1 when malformed. */
int64_t lw_parse_size(const char *s);

#endif
