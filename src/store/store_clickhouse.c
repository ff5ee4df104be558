/*
 * The ClickHouse backend of the store (lw/lw_store.h), over ClickHouse's HTTP interface with
 * libcurl (store_clickhouse_http.c); the tables are in store_clickhouse_schema.c and
 * docs/store.md ("ClickHouse") explains the design. It is reached only through the interface.
 *
 * Transactions. ClickHouse has no multi-table transaction, so lw_store_begin() .. commit()
 * buffers the rows of each table in memory (TabSeparated text, values escaped for the format)
 * and commit sends one INSERT per table, then one row into `commits` LAST. Every row carries
 * (writer, seq, attempt): this instance's id, the number of the transaction, and the attempt at
 * committing it (a new one at each begin). Readers see a row only when its (writer, seq) has a
 * commit row and its attempt is the highest committed one of that seq (the *_v views). Hence:
 *  - a crash or an HTTP error between the first INSERT and the commit row leaves rows that no
 *    reader ever sees; their lines are re-read (the checkpoint was not committed either) and
 *    counted by a later transaction: no double count;
 *  - a failed commit is retried by the engine with the same pending data plus what came since
 *    (a superset), under the same seq and a new attempt: if the failed attempt's commit row did
 *    reach the server after all (a lost reply), the retry replaces it, it does not add to it;
 *  - at open, the next seq is one above the highest committed (or folded) seq of this writer,
 *    so rows left by a crashed attempt (no commit row) never become visible later.
 * Folding (fold(), at open and every prune) keeps `commits` small: a writer deletes its rows
 * of old seqs that no reader sees, then records in `commit_folds` that every row of its left
 * through seq W is committed (the views accept those rows by that record), then deletes its
 * commit rows through W.
 *
 * Kafka checkpoints are shared. Checkpoints of input "kafka" (path "topic/partition") are read
 * across writers: the largest committed offset of any instance, and the largest epoch (carried
 * in the dev column: the number of the partition's owner since the first, docs/cluster.md).
 * Before the commit row of a transaction that moves a partition, fence_check() refuses to
 * commit when a later owner (a larger epoch) has claimed that partition meanwhile: a late
 * commit of the previous owner never becomes visible next to the new owner's counts. File
 * checkpoints stay per writer.
 *
 * Ids. Anomaly and alert ids are 63-bit numbers built like snowflake ids (milliseconds since
 * 2020 in the high bits, 22 random bits below), increasing within an instance and unique across
 * instances with overwhelming probability, never SQLite row ids.
 *
 * No value from outside ever enters a query text: INSERT rows travel in the request body in
 * TabSeparated form; a string a query filters on is written as unhex('<hex>'); identifiers (the
 * database) are checked against [A-Za-z0-9_].
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "lw/lw_err.h"
#include "lw/lw_mem.h"
#include "lw/lw_store.h"
#include "store/store_clickhouse_int.h"
#include "store/store_int.h"

#define CH_DEFAULT_URL "http://127.0.0.1:8123"
#define CH_DEFAULT_DB "logwarden"
#define CH_DEFAULT_BATCH_ROWS 100000
#define CH_WRITER_FILE "writer_id"
#define NS 1000000000LL
/*
 * The input whose checkpoints are shared by every writer. The engine learns that an input's
 * checkpoints are shared shards from its sources (lw_ingest_source.shared_shards), but the
 * store cannot: what decides is the stored rows, which carry only the input's name, and a
 * reader (lw_store_get_checkpoint() when an input starts) or the fence's query has nothing
 * else to go by. A flag through the store interface would have to agree with the rows already
 * written under this name; so the name, which is persisted data, stays the key here.
 */
#define LW_CH_KAFKA_INPUT "kafka"

enum ch_table {
    T_COUNTS,
    T_SOURCE,
    T_LEVEL,
    T_TEMPLATES,
    T_CHECKPOINTS,
    T_BLOBS,
    T_NOTES,
    T_ANOMALIES,
    T_ALERTS,
    T_ALERT_STATES,
    T_ALIASES,
    T_EXAMPLES,
    T_N
};

static const char *const table_name[T_N] = {
    "window_counts", "window_source_counts", "window_level_counts", "templates", "checkpoints",
    "blobs", "notes", "anomalies", "alerts", "alert_states", "template_aliases",
    "template_examples",
};

/* A fence check that took longer than this is made again before the commit row. */
#define FENCE_FRESH_MS 1000

/* A Kafka partition's checkpoint in the open transaction and the epoch it was written under. */
struct ch_fence {
    char *path;
    uint64_t epoch;
};

struct ch_store {
    struct lw_store base;
    struct lw__ch_conn conn;
    char db[65];
    char writer[65];
    int read_only;
    int rules_ok;            /* read-only, but feedback rules may be added and deleted */
    int64_t window_s;
    int64_t retention_s;
    size_t batch_rows;
    int in_tx;
    uint64_t seq;            /* the open transaction's, or the next one's */
    uint64_t attempt;        /* the open transaction's */
    uint64_t last_attempt;   /* attempts only grow within a process */
    uint64_t ord;            /* row number within the transaction (later rows win) */
    uint64_t tx_lines;       /* lw_store_add_stored_lines() of the open transaction */
    int tx_sent;             /* rows of the open transaction went out early (batch_rows) */
    int64_t last_id;         /* the last anomaly or alert id handed out */
    int examples;            /* examples_per_template after defaults */
    void *qstate;            /* the query block's (store_clickhouse_query.c) */
    uint64_t n_commit_calls; /* for the test hooks */
    long test_kill_at;       /* LW_TEST_CH_KILL_AT_COMMIT: SIGKILL before the commit row */
    long test_fail_at;       /* LW_TEST_CH_FAIL_AT_COMMIT: fail before the commit row */
    long test_lose_at;       /* LW_TEST_CH_LOSE_REPLY_AT_COMMIT: commit row sent, report failure */
    long test_fold_kill_at;  /* LW_TEST_CH_KILL_AT_FOLD: SIGKILL at that step of fold() */
    int64_t fold_age_s;      /* only transactions committed longer ago than this are folded */
    struct ch_fence *fences; /* Kafka partitions the open transaction moves (fence_check) */
    size_t n_fences;
    size_t cap_fences;
    struct lw__ch_buf rows[T_N];
    struct lw__ch_buf q;     /* the query being built */
    struct lw__ch_buf out;   /* the last answer */
    char err[1024];
};

static int64_t real_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static int valid_ident(const char *s, size_t max, int extra)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        char c = s[n];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (extra && (c == '.' || c == ':' || c == '-')))) {
            return 0;
        }
    }
    return n > 0 && n <= max;
}

static int fail(struct ch_store *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Leaves a message in s->err and returns @rc. */
static int fail(struct ch_store *s, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
    return rc;
}

/* Runs the query in s->q; the answer is in s->out. */
static int exec_q(struct ch_store *s)
{
    if (s->q.p == NULL) {
        return LW_ENOMEM;
    }
    return lw__ch_exec(&s->conn, s->q.p, NULL, 0, &s->out, s->err, sizeof(s->err));
}

/* INSERTs the TabSeparated rows in @rows into @table of this database. */
static int insert_rows(struct ch_store *s, const char *table, const struct lw__ch_buf *rows)
{
    return lw__ch_insert(&s->conn, s->db, table, rows, s->err, sizeof(s->err));
}

/*
 * Runs the query in s->q and hands back a copy of its answer in *@copy (NULL when the answer is
 * empty; the caller frees it), to walk with next_line() while the handle runs other queries.
 */
static int exec_copy(struct ch_store *s, char **copy)
{
    int rc = exec_q(s);

    *copy = NULL;
    if (rc != LW_OK || s->out.len == 0) {
        return rc;
    }
    *copy = lw_strdup(s->out.p);
    return *copy != NULL ? LW_OK : fail(s, LW_ENOMEM, "%s", "out of memory");
}

/* The next line of an answer copy, NUL-ended in place; NULL after the last. */
static char *next_line(char **cur)
{
    char *line = *cur;
    char *nl;

    if (line == NULL || *line == '\0') {
        return NULL;
    }
    nl = strchr(line, '\n');
    *cur = nl != NULL ? nl + 1 : NULL;
    if (nl != NULL) {
        *nl = '\0';
    }
    return line;
}

/* Starts a query text in s->q with a printf format (constants and integers only). */
static int q_start(struct ch_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int q_start(struct ch_store *s, const char *fmt, ...)
{
    va_list ap;
    int rc;

    lw__ch_buf_reset(&s->q);
    va_start(ap, fmt);
    rc = lw__ch_buf_vprintf(&s->q, fmt, ap);
    va_end(ap);
    return rc != LW_OK ? fail(s, rc, "%s", "out of memory building a ClickHouse query") : LW_OK;
}

/* Appends " AND writer = unhex(...)"-style filters: @col = the string @v. */
static int q_eq(struct ch_store *s, const char *col, const char *v)
{
    int rc = lw__ch_buf_printf(&s->q, " AND %s = ", col);

    return rc ? rc : lw__ch_buf_unhex(&s->q, v, strlen(v));
}

/* The fields of the line at @p, split on tabs in place. Returns how many (at most @max). */
static size_t split_fields(char *p, char **f, size_t max)
{
    size_t n = 0;

    while (n < max) {
        f[n++] = p;
        while (*p != '\0' && *p != '\t' && *p != '\n') {
            p++;
        }
        if (*p != '\t') {
            *p = '\0';
            break;
        }
        *p++ = '\0';
    }
    return n;
}

/* The fields of the first line of s->out (see split_fields); 0 when the answer is empty. */
static size_t fields(struct ch_store *s, char **f, size_t max)
{
    if (s->out.p == NULL || s->out.len == 0) {
        return 0;
    }
    return split_fields(s->out.p, f, max);
}

static uint64_t u64(const char *p)
{
    return strtoull(p, NULL, 10);
}

/* Runs s->q and reads one unsigned number from the answer. */
static int query_u64(struct ch_store *s, uint64_t *out)
{
    char *f[1];
    int rc = exec_q(s);

    if (rc != LW_OK) {
        return rc;
    }
    *out = fields(s, f, 1) == 1 ? u64(f[0]) : 0;
    return LW_OK;
}

/* ---- writing rows ---- */

/* The columns every transactional row ends with: writer, seq, attempt (and ord). */
static int row_end(struct ch_store *s, struct lw__ch_buf *b, int with_ord)
{
    int rc = lw__ch_buf_put(b, "\t", 1);

    rc = rc ? rc : lw__ch_buf_tsv(b, s->writer, strlen(s->writer));
    rc = rc ? rc
            : lw__ch_buf_printf(b, "\t%llu\t%llu", (unsigned long long)s->seq,
                                (unsigned long long)s->attempt);
    if (rc == LW_OK && with_ord) {
        rc = lw__ch_buf_printf(b, "\t%llu", (unsigned long long)s->ord++);
    }
    rc = rc ? rc : lw__ch_buf_put(b, "\n", 1);
    if (rc == LW_OK) {
        b->rows++;
    }
    return rc;
}

/* A string field (NULL is '' unless @nullable, when it is \N) followed by a tab. */
static int put_str(struct lw__ch_buf *b, const char *v, int nullable)
{
    int rc;

    if (v == NULL) {
        rc = lw__ch_buf_puts(b, nullable ? "\\N" : "");
    }
    else {
        rc = lw__ch_buf_tsv(b, v, strlen(v));
    }
    return rc ? rc : lw__ch_buf_put(b, "\t", 1);
}

/* DateTime holds seconds from 1970 to 2106: times outside are clamped, not refused. */
static long long dt_s(int64_t ns)
{
    int64_t sec = ns / NS - (ns % NS < 0 ? 1 : 0);

    if (sec < 0) {
        return 0;
    }
    if (sec > (int64_t)UINT32_MAX) {
        return (long long)UINT32_MAX;
    }
    return (long long)sec;
}

static int send_table(struct ch_store *s, enum ch_table t)
{
    int rc;

    if (s->rows[t].rows == 0) {
        return LW_OK;
    }
    rc = insert_rows(s, table_name[t], &s->rows[t]);
    if (rc == LW_OK) {
        lw__ch_buf_reset(&s->rows[t]);
        s->tx_sent = 1;
    }
    return rc;
}

/* After a row: a table over batch_rows goes out now (still invisible until the commit row). */
static int row_done(struct ch_store *s, enum ch_table t, int rc)
{
    if (rc != LW_OK) {
        return fail(s, rc, "%s", "out of memory buffering rows for ClickHouse");
    }
    if (s->rows[t].rows >= s->batch_rows) {
        return send_table(s, t);
    }
    return LW_OK;
}

static void tx_clear(struct ch_store *s)
{
    size_t i;

    for (i = 0; i < T_N; i++) {
        lw__ch_buf_reset(&s->rows[i]);
        /* Give back what a big transaction took; keep a small buffer for the next one. */
        if (s->rows[i].cap > ((size_t)4 << 20)) {
            lw__ch_buf_free(&s->rows[i]);
        }
    }
    for (i = 0; i < s->n_fences; i++) {
        lw_free(s->fences[i].path);
    }
    s->n_fences = 0;
    s->in_tx = 0;
    s->tx_lines = 0;
    s->tx_sent = 0;
}

static int ch_begin(struct lw_store *base)
{
    struct ch_store *s = (struct ch_store *)base;
    uint64_t now = (uint64_t)real_ns();

    if (s->in_tx) {
        return fail(s, LW_EINVAL, "%s", "a transaction is already open");
    }
    if (s->read_only) {
        return fail(s, LW_EIO, "%s", "the store handle is read-only");
    }
    tx_clear(s);
    s->in_tx = 1;
    s->attempt = now > s->last_attempt ? now : s->last_attempt + 1;
    s->last_attempt = s->attempt;
    s->ord = 0;
    return LW_OK;
}

static long env_long(const char *name)
{
    const char *v = getenv(name);

    return v != NULL ? strtol(v, NULL, 10) : 0;
}

static int fence_check(struct ch_store *s);

static int ch_commit(struct lw_store *base)
{
    struct ch_store *s = (struct ch_store *)base;
    struct lw__ch_buf marker = {0};
    int any = 0;
    size_t i;
    int rc = LW_OK;

    if (!s->in_tx) {
        return fail(s, LW_EINVAL, "%s", "no transaction is open");
    }
    s->n_commit_calls++;
    for (i = 0; i < T_N && rc == LW_OK; i++) {
        any |= s->rows[i].rows > 0;
        rc = send_table(s, (enum ch_table)i);
    }
    if (rc != LW_OK) {
        goto out;
    }
    if (!any && !s->tx_sent && s->tx_lines == 0) {
        goto out; /* nothing to make visible: no commit row, the seq stays free */
    }
    /*
     * Test hooks (the integration tests set them): a crash or an error at the worst moment, at
     * the first commit from call N on that gets this far (an earlier one may have failed or
     * had nothing to write), once each.
     */
    if (s->test_kill_at > 0 && s->n_commit_calls >= (uint64_t)s->test_kill_at) {
        raise(SIGKILL);
    }
    if (s->test_fail_at > 0 && s->n_commit_calls >= (uint64_t)s->test_fail_at) {
        s->test_fail_at = 0;
        rc = fail(s, LW_EIO, "%s", "injected failure before the commit row (test)");
        goto out;
    }
    /*
     * A check that took long (this process was stopped or stalled, and most of a stall falls on
     * a wait for ClickHouse's answer) may describe the partitions as they were before a new
     * owner claimed them: it is made again, so that the commit row follows a fresh one.
     */
    for (i = 0; i < 5; i++) {
        struct timespec a, z;

        clock_gettime(CLOCK_MONOTONIC, &a);
        rc = fence_check(s);
        clock_gettime(CLOCK_MONOTONIC, &z);
        if (rc != LW_OK || (z.tv_sec - a.tv_sec) * 1000 + (z.tv_nsec - a.tv_nsec) / 1000000 <
                               FENCE_FRESH_MS) {
            break;
        }
    }
    if (rc != LW_OK) {
        goto out;
    }
    rc = lw__ch_buf_tsv(&marker, s->writer, strlen(s->writer));
    rc = rc ? rc
            : lw__ch_buf_printf(&marker, "\t%llu\t%llu\t%llu\t%lld\n",
                                (unsigned long long)s->seq, (unsigned long long)s->attempt,
                                (unsigned long long)s->tx_lines, dt_s(real_ns()));
    if (rc != LW_OK) {
        rc = fail(s, rc, "%s", "out of memory");
        goto out;
    }
    rc = insert_rows(s, "commits", &marker);
    if (rc == LW_OK && s->test_lose_at > 0 && s->n_commit_calls >= (uint64_t)s->test_lose_at) {
        s->test_lose_at = 0;
        rc = fail(s, LW_EIO, "%s", "injected loss of the commit row's reply (test)");
        goto out;
    }
    if (rc == LW_OK) {
        s->seq++;
    }
out:
    /* On failure the seq stays: the engine's retry is a new attempt of the same transaction. */
    lw__ch_buf_free(&marker);
    tx_clear(s);
    return rc;
}

static int ch_rollback(struct lw_store *base)
{
    struct ch_store *s = (struct ch_store *)base;

    /* Rows sent early stay without a commit row: no reader ever sees them. */
    tx_clear(s);
    return LW_OK;
}

static int ch_in_transaction(const struct lw_store *base)
{
    return ((const struct ch_store *)base)->in_tx;
}

/* Wraps a write made outside a transaction into one of its own. */
#define AUTO_BEGIN(s, own)                                                                     \
    do {                                                                                       \
        (own) = !(s)->in_tx;                                                                   \
        if ((own)) {                                                                           \
            int brc_ = ch_begin(&(s)->base);                                                   \
            if (brc_ != LW_OK) {                                                               \
                return brc_;                                                                   \
            }                                                                                  \
        }                                                                                      \
    } while (0)

static int auto_end(struct ch_store *s, int own, int rc)
{
    if (!own) {
        return rc;
    }
    if (rc != LW_OK) {
        tx_clear(s);
        return rc;
    }
    return ch_commit(&s->base);
}

static int ch_add_window_count(struct lw_store *base, int64_t window_start_ns,
                               uint32_t template_id, uint64_t count)
{
    struct ch_store *s = (struct ch_store *)base;
    struct lw__ch_buf *b = &s->rows[T_COUNTS];
    int own;
    int rc;

    AUTO_BEGIN(s, own);
    rc = lw__ch_buf_printf(b, "%lld\t%u\t%llu", dt_s(window_start_ns), template_id,
                           (unsigned long long)count);
    rc = rc ? rc : row_end(s, b, 0);
    return auto_end(s, own, row_done(s, T_COUNTS, rc));
}

static int ch_add_source_count(struct lw_store *base, int64_t window_start_ns,
                               uint32_t template_id, const char *source, uint64_t count)
{
    struct ch_store *s = (struct ch_store *)base;
    struct lw__ch_buf *b = &s->rows[T_SOURCE];
    int own;
    int rc;

    if (source == NULL) {
        return fail(s, LW_EINVAL, "%s", "no source");
    }
    AUTO_BEGIN(s, own);
    rc = lw__ch_buf_printf(b, "%lld\t%u\t", dt_s(window_start_ns), template_id);
    rc = rc ? rc : put_str(b, source, 0);
    rc = rc ? rc : lw__ch_buf_printf(b, "%llu", (unsigned long long)count);
    rc = rc ? rc : row_end(s, b, 0);
    return auto_end(s, own, row_done(s, T_SOURCE, rc));
}

static int ch_add_level_count(struct lw_store *base, int64_t window_start_ns, int level,
                              uint64_t count)
{
    struct ch_store *s = (struct ch_store *)base;
    struct lw__ch_buf *b = &s->rows[T_LEVEL];
    int own;
    int rc;

    if (level < 0 || level > 255) {
        return fail(s, LW_EINVAL, "%s", "level out of range");
    }
    AUTO_BEGIN(s, own);
    rc = lw__ch_buf_printf(b, "%lld\t%d\t%llu", dt_s(window_start_ns), level,
                           (unsigned long long)count);
    rc = rc ? rc : row_end(s, b, 0);
    return auto_end(s, own, row_done(s, T_LEVEL, rc));
}

/*
 * An alias row: old id @from resolves to @to (0: no more) in this writer's view. Instances
 * that saw other lines may alias one old id to different templates; queries take the rows of
 * the template asked for (docs/store.md, "Template ids and aliases").
 */
static int ch_set_template_alias(struct lw_store *base, uint32_t from, uint32_t to)
{
    struct ch_store *s = (struct ch_store *)base;
    struct lw__ch_buf *b = &s->rows[T_ALIASES];
    int own;
    int rc;

    AUTO_BEGIN(s, own);
    rc = lw__ch_buf_printf(b, "%u\t%u", from, to);
    rc = rc ? rc : row_end(s, b, 0);
    return auto_end(s, own, row_done(s, T_ALIASES, rc));
}

static int ch_upsert_template(struct lw_store *base, uint32_t id, const char *text,
                              int64_t first_ns, int64_t last_ns, uint64_t count_delta)
{
    struct ch_store *s = (struct ch_store *)base;
    struct lw__ch_buf *b = &s->rows[T_TEMPLATES];
    int own;
    int rc;

    AUTO_BEGIN(s, own);
    rc = lw__ch_buf_printf(b, "%u\t%d\t", id, text != NULL);
    rc = rc ? rc : put_str(b, text, 0);
    rc = rc ? rc
            : lw__ch_buf_printf(b, "%lld\t%lld\t%llu", (long long)first_ns, (long long)last_ns,
                                (unsigned long long)count_delta);
    rc = rc ? rc : row_end(s, b, 1);
    return auto_end(s, own, row_done(s, T_TEMPLATES, rc));
}

/* Remembers that the open transaction moves Kafka partition @path under @epoch. */
static int fence_add(struct ch_store *s, const char *path, uint64_t epoch)
{
    size_t i;

    for (i = 0; i < s->n_fences; i++) {
        if (strcmp(s->fences[i].path, path) == 0) {
            if (epoch > s->fences[i].epoch) {
                s->fences[i].epoch = epoch;
            }
            return LW_OK;
        }
    }
    if (s->n_fences == s->cap_fences) {
        size_t cap = s->cap_fences ? s->cap_fences * 2 : 16;
        struct ch_fence *nv = lw_realloc(s->fences, cap * sizeof(*nv));

        if (nv == NULL) {
            return LW_ENOMEM;
        }
        s->fences = nv;
        s->cap_fences = cap;
    }
    s->fences[s->n_fences].path = lw_strdup(path);
    if (s->fences[s->n_fences].path == NULL) {
        return LW_ENOMEM;
    }
    s->fences[s->n_fences].epoch = epoch;
    s->n_fences++;
    return LW_OK;
}

/*
 * The fence, run just before the commit row: refuses (LW_EIO, the transaction stays invisible)
 * when another owner has committed a larger epoch for a partition this transaction moves. The
 * previous owner of a partition can commit late (it was cut off from the group and does not
 * know yet, or gave the partition up before its last lines were stored); its lines are read
 * again by the new owner from the checkpoint the new owner claimed, so they must not count
 * twice. docs/cluster.md argues why a check here suffices.
 */
static int fence_check(struct ch_store *s)
{
    char *copy;
    char *line;
    char *cur;
    size_t i;
    int rc;

    if (s->n_fences == 0) {
        return LW_OK;
    }
    rc = q_start(s, "SELECT hex(path), max(dev) FROM %s.checkpoints_v WHERE 1", s->db);
    rc = rc ? rc : q_eq(s, "input", LW_CH_KAFKA_INPUT);
    rc = rc ? rc : lw__ch_buf_puts(&s->q, " AND path IN (");
    for (i = 0; i < s->n_fences && rc == LW_OK; i++) {
        rc = i > 0 ? lw__ch_buf_puts(&s->q, ", ") : LW_OK;
        rc = rc ? rc : lw__ch_buf_unhex(&s->q, s->fences[i].path, strlen(s->fences[i].path));
    }
    rc = rc ? rc : lw__ch_buf_puts(&s->q, ") GROUP BY path");
    rc = rc ? rc : exec_copy(s, &copy); /* the walk may use the handle */
    if (rc != LW_OK || copy == NULL) {
        return rc;
    }
    for (cur = copy; rc == LW_OK && (line = next_line(&cur)) != NULL;) {
        char *tab = strchr(line, '\t');
        char *path = NULL;
        size_t len = 0;
        if (tab == NULL) {
            continue;
        }
        *tab = '\0';
        if (lw__ch_unhex(line, strlen(line), &path, &len) != LW_OK) {
            continue;
        }
        for (i = 0; i < s->n_fences; i++) {
            if (strcmp(s->fences[i].path, path) == 0 && u64(tab + 1) > s->fences[i].epoch) {
                rc = fail(s, LW_EFENCED,
                          "Kafka partition %s was taken over by another instance (epoch %llu,"
                          " ours %llu): this transaction is fenced and never committed; its"
                          " lines are counted by the new owner",
                          path, (unsigned long long)u64(tab + 1),
                          (unsigned long long)s->fences[i].epoch);
                break;
            }
        }
        lw_free(path);
    }
    lw_free(copy);
    return rc;
}

static int checkpoint_row(struct ch_store *s, const char *input, const char *path, uint64_t dev,
                          uint64_t ino, uint64_t fp, uint64_t offset, int deleted)
{
    struct lw__ch_buf *b = &s->rows[T_CHECKPOINTS];
    int own;
    int rc;

    if (input == NULL || path == NULL) {
        return fail(s, LW_EINVAL, "%s", "no input or path");
    }
    AUTO_BEGIN(s, own);
    rc = !deleted && strcmp(input, LW_CH_KAFKA_INPUT) == 0 ? fence_add(s, path, dev) : LW_OK;
    rc = rc ? rc : put_str(b, s->writer, 0);
    rc = rc ? rc : put_str(b, input, 0);
    rc = rc ? rc : put_str(b, path, 0);
    rc = rc ? rc
            : lw__ch_buf_printf(b, "%llu\t%llu\t%llu\t%llu\t%d", (unsigned long long)dev,
                                (unsigned long long)ino, (unsigned long long)fp,
                                (unsigned long long)offset, deleted);
    /* This table starts with the writer column; row_end() adds it again at the end: no. */
    if (rc == LW_OK) {
        rc = lw__ch_buf_printf(b, "\t%llu\t%llu\t%llu\n", (unsigned long long)s->seq,
                               (unsigned long long)s->attempt, (unsigned long long)s->ord++);
        b->rows++;
    }
    return auto_end(s, own, row_done(s, T_CHECKPOINTS, rc));
}

static int ch_set_checkpoint(struct lw_store *base, const struct lw_ingest_checkpoint *ck,
                             const char *input)
{
    struct ch_store *s = (struct ch_store *)base;

    if (ck == NULL) {
        return fail(s, LW_EINVAL, "%s", "no checkpoint");
    }
    return checkpoint_row(s, input, ck->path, ck->dev, ck->ino, ck->fingerprint, ck->offset, 0);
}

static int ch_delete_checkpoint(struct lw_store *base, const char *input, const char *path)
{
    return checkpoint_row((struct ch_store *)base, input, path, 0, 0, 0, 0, 1);
}

static int ch_add_stored_lines(struct lw_store *base, uint64_t n)
{
    struct ch_store *s = (struct ch_store *)base;
    int own;

    AUTO_BEGIN(s, own);
    s->tx_lines += n;
    return auto_end(s, own, LW_OK);
}

/* Rows of tables that start with writer: writer, fields..., seq, attempt, ord. */
static int writer_row_end(struct ch_store *s, struct lw__ch_buf *b, int rc)
{
    if (rc == LW_OK) {
        rc = lw__ch_buf_printf(b, "%llu\t%llu\t%llu\n", (unsigned long long)s->seq,
                               (unsigned long long)s->attempt, (unsigned long long)s->ord++);
    }
    if (rc == LW_OK) {
        b->rows++;
    }
    return rc;
}

static int save_blob(struct ch_store *s, const char *kind, const void *blob, size_t len,
                     int with_checksum)
{
    struct lw__ch_buf *b = &s->rows[T_BLOBS];
    int own;
    int rc;

    if (blob == NULL && len > 0) {
        return fail(s, LW_EINVAL, "%s", "no blob");
    }
    AUTO_BEGIN(s, own);
    rc = put_str(b, s->writer, 0);
    rc = rc ? rc : put_str(b, kind, 0);
    rc = rc ? rc : lw__ch_buf_tsv(b, blob != NULL ? blob : "", len);
    rc = rc ? rc
            : lw__ch_buf_printf(b, "\t%llu\t%d\t",
                                with_checksum ? (unsigned long long)XXH64(blob, len, 0) : 0ULL,
                                with_checksum);
    rc = writer_row_end(s, b, rc);
    return auto_end(s, own, row_done(s, T_BLOBS, rc));
}

static int ch_save_miner(struct lw_store *base, const void *blob, size_t len)
{
    return save_blob((struct ch_store *)base, "miner", blob, len, 0);
}

static int ch_save_models(struct lw_store *base, const void *blob, size_t len)
{
    return save_blob((struct ch_store *)base, "models", blob, len, 1);
}

/*
 * Shard state is a blob of kind "shard:<key>". Unlike the miner and the models it is read back
 * across writers (the shard's next owner is another instance), each writer's latest row.
 */
#define SHARD_KIND_MAX 512

static int shard_kind(struct ch_store *s, const char *key, char *kind)
{
    if (key == NULL || strlen(key) + 7 > SHARD_KIND_MAX) {
        return fail(s, LW_EINVAL, "%s", "shard state: no key, or a key too long");
    }
    snprintf(kind, SHARD_KIND_MAX, "shard:%s", key);
    return LW_OK;
}

static int ch_save_shard_state(struct lw_store *base, const char *key, const void *blob,
                               size_t len)
{
    struct ch_store *s = (struct ch_store *)base;
    char kind[SHARD_KIND_MAX];
    int rc = shard_kind(s, key, kind);

    return rc ? rc : save_blob(s, kind, blob, len, 1);
}

static int ch_foreach_shard_state(struct lw_store *base, const char *key, lw_store_blob_cb cb,
                                  void *opaque)
{
    struct ch_store *s = (struct ch_store *)base;
    char kind[SHARD_KIND_MAX];
    char *copy;
    char *line;
    char *cur;
    int rc = shard_kind(s, key, kind);

    /*
     * A row per save stays (every minute per partition): the latest of each writer is found on
     * the small columns first, so that only those rows' data is read.
     */
    rc = rc ? rc
            : q_start(s,
                      "SELECT hex(argMax(data, ord)), argMax(checksum, ord),"
                      " argMax(has_checksum, ord) FROM %s.blobs_v WHERE 1",
                      s->db);
    rc = rc ? rc : q_eq(s, "kind", kind);
    rc = rc ? rc
            : lw__ch_buf_printf(&s->q,
                                " AND (writer, seq) IN (SELECT writer, max(seq) FROM %s.blobs_v"
                                " WHERE 1",
                                s->db);
    rc = rc ? rc : q_eq(s, "kind", kind);
    rc = rc ? rc : lw__ch_buf_puts(&s->q, " GROUP BY writer) GROUP BY writer");
    rc = rc ? rc : exec_copy(s, &copy); /* the walk may use the handle */
    if (rc != LW_OK || copy == NULL) {
        return rc;
    }
    for (cur = copy; rc == LW_OK && (line = next_line(&cur)) != NULL;) {
        char *f[3];
        char *data = NULL;
        size_t n = 0;
        if (split_fields(line, f, 3) != 3 ||
            lw__ch_unhex(f[0], strlen(f[0]), &data, &n) != LW_OK) {
            continue;
        }
        /* A row that does not match its checksum is skipped: another writer's may do. */
        if (u64(f[2]) == 0 || XXH64(data, n, 0) == u64(f[1])) {
            rc = cb(opaque, data, n);
        }
        lw_free(data);
    }
    lw_free(copy);
    return rc;
}

static int ch_foreach_shared_template(struct lw_store *base, size_t max, lw_store_id_cb cb,
                                      void *opaque)
{
    struct ch_store *s = (struct ch_store *)base;
    char *copy;
    char *line;
    char *cur;
    /*
     * The table, not its view: the view's join with the commits costs more than the few ids of
     * uncommitted rows (a template another writer mined, whose transaction failed) could mislead.
     * One UInt32 column of a table that grows with every transaction.
     */
    int rc = q_start(s, "SELECT DISTINCT id FROM %s.templates LIMIT %zu", s->db, max);

    rc = rc ? rc : exec_copy(s, &copy); /* the walk may use the handle */
    if (rc != LW_OK || copy == NULL) {
        return rc;
    }
    for (cur = copy; rc == LW_OK && (line = next_line(&cur)) != NULL;) {
        if (*line >= '0' && *line <= '9') {
            rc = cb(opaque, (uint32_t)u64(line));
        }
    }
    lw_free(copy);
    return rc;
}

static int ch_set_note(struct lw_store *base, const char *key, const char *text)
{
    struct ch_store *s = (struct ch_store *)base;
    struct lw__ch_buf *b = &s->rows[T_NOTES];
    int own;
    int rc;

    if (key == NULL || text == NULL) {
        return fail(s, LW_EINVAL, "%s", "no note key or text");
    }
    AUTO_BEGIN(s, own);
    rc = put_str(b, s->writer, 0);
    rc = rc ? rc : put_str(b, key, 0);
    rc = rc ? rc : put_str(b, text, 0);
    rc = writer_row_end(s, b, rc);
    return auto_end(s, own, row_done(s, T_NOTES, rc));
}

/*
 * A new id: milliseconds since 2020-01-01 in bits 22..62, 22 random bits below, and always
 * above the last one of this handle.
 */
static int64_t new_id(struct ch_store *s)
{
    const int64_t epoch_ms = 1577836800000LL;
    uint32_t r = 0;
    int64_t id;

    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
        r = (uint32_t)XXH64(&s->last_id, sizeof(s->last_id), (uint64_t)real_ns());
    }
    id = ((real_ns() / 1000000 - epoch_ms) << 22) | (int64_t)(r & 0x3FFFFF);
    if (id <= s->last_id) {
        id = s->last_id + 1;
    }
    s->last_id = id;
    return id;
}

static int ch_insert_anomaly(struct lw_store *base, const struct lw_store_anomaly *a,
                             int64_t *id_out)
{
    struct ch_store *s = (struct ch_store *)base;
    struct lw__ch_buf *b = &s->rows[T_ANOMALIES];
    int64_t id;
    int own;
    int rc;

    if (a == NULL || a->detector == NULL) {
        return fail(s, LW_EINVAL, "%s", "no anomaly or detector");
    }
    AUTO_BEGIN(s, own);
    id = new_id(s);
    rc = lw__ch_buf_printf(b, "%lld\t%lld\t%lld\t", (long long)id, dt_s(a->ts_ns),
                           (long long)a->ts_ns);
    rc = rc ? rc : put_str(b, a->detector, 0);
    rc = rc ? rc : lw__ch_buf_printf(b, "%.17g\t%u\t", a->score, a->template_id);
    rc = rc ? rc : put_str(b, a->source, 1);
    rc = rc ? rc : put_str(b, a->summary, 0);
    rc = rc ? rc : put_str(b, a->explanation_json, 1);
    rc = rc ? rc : put_str(b, a->samples_json, 1);
    rc = rc ? rc : put_str(b, a->kind, 1);
    if (rc == LW_OK) {
        /* The last string column; row_end() adds the tab before writer. */
        rc = a->key != NULL ? lw__ch_buf_tsv(b, a->key, strlen(a->key))
                            : lw__ch_buf_puts(b, "\\N");
    }
    rc = rc ? rc : row_end(s, b, 0);
    rc = row_done(s, T_ANOMALIES, rc);
    if (rc == LW_OK && id_out != NULL) {
        *id_out = id;
    }
    return auto_end(s, own, rc);
}

static int ch_insert_alert(struct lw_store *base, const struct lw_store_alert *a,
                           int64_t *id_out)
{
    struct ch_store *s = (struct ch_store *)base;
    struct lw__ch_buf *b = &s->rows[T_ALERTS];
    int64_t id;
    int own;
    int rc;

    if (a == NULL || a->state == NULL) {
        return fail(s, LW_EINVAL, "%s", "no alert or state");
    }
    AUTO_BEGIN(s, own);
    id = new_id(s);
    rc = lw__ch_buf_printf(b, "%lld\t%lld\t", (long long)id, (long long)a->anomaly_id);
    rc = rc ? rc : put_str(b, a->incident, 0);
    rc = rc ? rc : put_str(b, a->severity, 0);
    rc = rc ? rc : put_str(b, a->state, 0);
    rc = rc ? rc
            : lw__ch_buf_printf(b, "%lld\t%lld\t%lld\t", dt_s(a->created_ns),
                                (long long)a->created_ns, (long long)a->sent_ns);
    if (rc == LW_OK) {
        rc = a->sink != NULL ? lw__ch_buf_tsv(b, a->sink, strlen(a->sink))
                             : lw__ch_buf_puts(b, "\\N");
    }
    rc = rc ? rc : row_end(s, b, 0);
    rc = row_done(s, T_ALERTS, rc);
    if (rc == LW_OK && id_out != NULL) {
        *id_out = id;
    }
    return auto_end(s, own, rc);
}

/*
 * Appends a state row; the latest visible one wins. It does not look the alert up (that would
 * cost a query per update), so it never returns LW_ENOENT; a state for an unknown id is never
 * read, since reads start from the alerts.
 */
static int ch_set_alert_state(struct lw_store *base, int64_t id, const char *state,
                              int64_t sent_ns)
{
    struct ch_store *s = (struct ch_store *)base;
    struct lw__ch_buf *b = &s->rows[T_ALERT_STATES];
    int own;
    int rc;

    if (state == NULL) {
        return fail(s, LW_EINVAL, "%s", "no state");
    }
    AUTO_BEGIN(s, own);
    rc = lw__ch_buf_printf(b, "%lld\t", (long long)id);
    rc = rc ? rc : put_str(b, state, 0);
    rc = rc ? rc : lw__ch_buf_printf(b, "%lld\t%lld", (long long)sent_ns, dt_s(real_ns()));
    rc = rc ? rc : row_end(s, b, 1);
    return auto_end(s, own, row_done(s, T_ALERT_STATES, rc));
}

/*
 * Retention by whole days: drops the daily partitions that end before now - retention (so up
 * to a day more than the retention is kept). Counts, anomalies, alerts and alert states go;
 * templates, checkpoints, models and commit rows stay (later state refers to them).
 */
/*
 * Compaction of the tables whose readers take the latest committed row per key (blobs: models
 * and miner every minute, shard states; checkpoints: a row per input per transaction; notes):
 * this writer's rows that a later committed row of the same key supersedes are deleted, so
 * that these tables and the reads of them stay the size of their keys instead of growing with
 * every transaction (checkpoints: ~1.7M rows a day for 4 partitions at 5 transactions/s). One
 * ALTER ... DELETE (a mutation, which ClickHouse runs in the background) per table and round,
 * for the COMPACT_KEYS keys with the most rows. Rows of other writers are never touched.
 */
#define COMPACT_KEYS 256

static int compact_table(struct ch_store *s, const char *table, const char *const *keys,
                         size_t n_keys)
{
    struct lw__ch_buf cond = {0};
    char *copy;
    char *line;
    char *cur;
    size_t i;
    size_t n = 0;
    int rc;

    rc = q_start(s, "SELECT ");
    for (i = 0; i < n_keys && rc == LW_OK; i++) {
        rc = lw__ch_buf_printf(&s->q, "hex(%s), ", keys[i]);
    }
    rc = rc ? rc : lw__ch_buf_printf(&s->q, "max(seq), count() AS n FROM %s.%s_v WHERE 1", s->db,
                                     table);
    rc = rc ? rc : q_eq(s, "writer", s->writer);
    rc = rc ? rc : lw__ch_buf_puts(&s->q, " GROUP BY ");
    for (i = 0; i < n_keys && rc == LW_OK; i++) {
        rc = lw__ch_buf_printf(&s->q, "%s%s", i > 0 ? ", " : "", keys[i]);
    }
    rc = rc ? rc : lw__ch_buf_printf(&s->q, " HAVING n > 1 ORDER BY n DESC LIMIT %d",
                                     COMPACT_KEYS);
    rc = rc ? rc : exec_copy(s, &copy); /* the walk may use the handle */
    if (rc != LW_OK || copy == NULL) {
        return rc;
    }
    rc = lw__ch_buf_puts(&cond, "writer = ");
    rc = rc ? rc : lw__ch_buf_unhex(&cond, s->writer, strlen(s->writer));
    rc = rc ? rc : lw__ch_buf_puts(&cond, " AND (");
    for (cur = copy; rc == LW_OK && (line = next_line(&cur)) != NULL;) {
        char *f[4];
        if (split_fields(line, f, 4) != n_keys + 2) {
            continue;
        }
        rc = lw__ch_buf_puts(&cond, n > 0 ? " OR (" : "(");
        for (i = 0; i < n_keys && rc == LW_OK; i++) {
            /* The server's hex of our own rows' keys: hex digits only reach the query. */
            if (strspn(f[i], "0123456789ABCDEF") != strlen(f[i])) {
                rc = fail(s, LW_EIO, "compacting %s: a key that is not hex", table);
                break;
            }
            rc = lw__ch_buf_printf(&cond, "%s = unhex('%s') AND ", keys[i], f[i]);
        }
        rc = rc ? rc : lw__ch_buf_printf(&cond, "seq < %llu)", (unsigned long long)u64(f[n_keys]));
        n++;
    }
    rc = rc ? rc : lw__ch_buf_puts(&cond, ")");
    lw_free(copy);
    if (rc == LW_OK && n > 0) {
        rc = q_start(s, "ALTER TABLE %s.%s DELETE WHERE ", s->db, table);
        rc = rc ? rc : lw__ch_buf_put(&s->q, cond.p, cond.len);
        rc = rc ? rc : exec_q(s);
    }
    lw__ch_buf_free(&cond);
    return rc;
}

/*
 * Folding: the compaction of `commits` (and of `templates`, below). Without it `commits` gains a
 * row per transaction (86,400 a day per instance at the default 1 s flush), and every read of a
 * *_v view, every fence check and lw_store_stored_lines() (after each commit) reads all of it.
 * A writer folds its decided past, seqs (oldW, W]: W is below the seq it writes now and every
 * seq up to W was committed more than fold_age_s ago, so no attempt of it is still in flight.
 * The steps, each safe to be cut after (a crash, an error: the next round starts over):
 *  1. delete this writer's rows of (oldW, W] that no reader sees: attempts that are not the
 *     highest committed one of their seq, seqs without commit row (a mutation per table that
 *     holds any, found first by a query: ClickHouse 18.16 rewrites every part a mutation
 *     covers). Cut here: rows no reader saw are gone, nothing else changed;
 *  2. wait until the server has run them (system.mutations; 18.16 has no mutations_sync). Not
 *     done within FOLD_WAIT_MS: the next round (next prune) looks again;
 *  3. one INSERT into commit_folds: (writer, 'commits', W, lines through W). From here the
 *     views take every row of the writer with seq <= W (all of them committed winners now) and
 *     lw_store_stored_lines() takes the lines of W from it and skips commit rows <= W: the
 *     switch is this one row, and the views see the same rows before and after it. Cut here:
 *     commit rows <= W stay, counted by nobody, deleted by the next round;
 *  4. delete the writer's commit rows <= W (a mutation; not waited for: the views show the
 *     same rows with and without them).
 * The mutations name this writer's rows only. A row of seq <= W inserted after step 1 would be
 * visible without a commit; none is, because every attempt of those seqs ended (the writer
 * moved past them) more than fold_age_s ago, longer than any request of theirs may take.
 */
#define CH_FOLD_AGE_S 600
#define FOLD_WAIT_MS 10000
#define MERGED_ORD "9223372036854775808" /* the bit of ord that marks merged template rows */

static void fold_test_kill(struct ch_store *s, long step)
{
    if (s->test_fold_kill_at == step) {
        raise(SIGKILL);
    }
}

/* Waits until no mutation of this database is running (step 2); LW_EAGAIN after FOLD_WAIT_MS. */
static int wait_mutations(struct ch_store *s)
{
    uint64_t left = 1;
    int waited_ms = 0;
    int rc;

    for (;;) {
        rc = q_start(s, "SELECT count() FROM system.mutations WHERE database = '%s'"
                        " AND is_done = 0", s->db);
        rc = rc ? rc : query_u64(s, &left);
        if (rc != LW_OK || left == 0) {
            return rc;
        }
        if (waited_ms >= FOLD_WAIT_MS) {
            return fail(s, LW_EAGAIN,
                        "folding: %llu mutations still running after %d ms (retried at the"
                        " next prune)",
                        (unsigned long long)left, FOLD_WAIT_MS);
        }
        usleep(100 * 1000);
        waited_ms += 100;
    }
}

/* Appends " AND seq > @lo AND seq <= @hi" with this writer's filter. */
static int q_range(struct ch_store *s, uint64_t lo, uint64_t hi)
{
    int rc = q_eq(s, "writer", s->writer);

    return rc ? rc
              : lw__ch_buf_printf(&s->q, " AND seq > %llu AND seq <= %llu",
                                  (unsigned long long)lo, (unsigned long long)hi);
}

/* The commit winners of this writer in (lo, hi], as the subquery of an IN. */
static int q_winners(struct ch_store *s, uint64_t lo, uint64_t hi)
{
    int rc = lw__ch_buf_printf(&s->q, " AND (seq, attempt) NOT IN (SELECT seq, max(attempt)"
                                      " FROM %s.commits WHERE 1", s->db);

    rc = rc ? rc : q_range(s, lo, hi);
    return rc ? rc : lw__ch_buf_puts(&s->q, " GROUP BY seq)");
}

/* The latest fold of @kind of this writer: its upto (0: none), its lines and its attempt. */
static int fold_state(struct ch_store *s, const char *kind, uint64_t *upto, uint64_t *lines,
                      uint64_t *attempt)
{
    char *f[3];
    int rc = q_start(s,
                     "SELECT max(upto), argMax(lines, (upto, attempt)),"
                     " argMax(attempt, (upto, attempt)) FROM %s.commit_folds WHERE 1",
                     s->db);

    rc = rc ? rc : q_eq(s, "kind", kind);
    rc = rc ? rc : q_eq(s, "writer", s->writer);
    rc = rc ? rc : exec_q(s);
    *upto = *lines = *attempt = 0;
    if (rc == LW_OK && fields(s, f, 3) == 3) {
        *upto = u64(f[0]);
        *lines = u64(f[1]);
        *attempt = u64(f[2]);
    }
    return rc;
}

static int fold_insert(struct ch_store *s, const char *kind, uint64_t upto, uint64_t attempt,
                       uint64_t lines)
{
    struct lw__ch_buf b = {0};
    int rc = lw__ch_buf_tsv(&b, s->writer, strlen(s->writer));

    rc = rc ? rc
            : lw__ch_buf_printf(&b, "\t%s\t%llu\t%llu\t%llu\t%lld\n", kind,
                                (unsigned long long)upto, (unsigned long long)attempt,
                                (unsigned long long)lines, dt_s(real_ns()));
    if (rc != LW_OK) {
        lw__ch_buf_free(&b);
        return fail(s, rc, "%s", "out of memory");
    }
    rc = insert_rows(s, "commit_folds", &b);
    lw__ch_buf_free(&b);
    return rc;
}

static int fold_templates(struct ch_store *s, uint64_t upto);

static int fold(struct ch_store *s)
{
    uint64_t old_w = 0;
    uint64_t old_lines = 0;
    uint64_t unused = 0;
    uint64_t w = 0;
    uint64_t n = 0;
    uint64_t lines = 0;
    long long cutoff = dt_s(real_ns()) - (long long)s->fold_age_s;
    size_t i;
    int mutated = 0;
    int rc;

    rc = fold_state(s, "commits", &old_w, &old_lines, &unused);
    if (rc != LW_OK || s->seq <= 1) {
        return rc;
    }
    /* Seqs commit in order: all below the newest old enough one are older still. */
    rc = q_start(s, "SELECT max(seq) FROM %s.commits WHERE 1", s->db);
    rc = rc ? rc : q_range(s, old_w, s->seq - 1);
    rc = rc ? rc : lw__ch_buf_printf(&s->q, " AND committed <= toDateTime(%lld)",
                                     cutoff < 0 ? 0LL : cutoff);
    rc = rc ? rc : query_u64(s, &w);
    if (rc != LW_OK) {
        return rc;
    }
    if (w > old_w) {
        /* Step 1: the rows no reader sees, where there are any. */
        for (i = 0; i < T_N && rc == LW_OK; i++) {
            rc = q_start(s, "SELECT count() FROM %s.%s WHERE 1", s->db, table_name[i]);
            rc = rc ? rc : q_range(s, old_w, w);
            rc = rc ? rc : q_winners(s, old_w, w);
            rc = rc ? rc : query_u64(s, &n);
            if (rc == LW_OK && n > 0) {
                rc = q_start(s, "ALTER TABLE %s.%s DELETE WHERE 1", s->db, table_name[i]);
                rc = rc ? rc : q_range(s, old_w, w);
                rc = rc ? rc : q_winners(s, old_w, w);
                rc = rc ? rc : exec_q(s);
                mutated = 1;
            }
        }
        fold_test_kill(s, 1);
        /* Step 2. */
        rc = rc || !mutated ? rc : wait_mutations(s);
        fold_test_kill(s, 2);
        /* Step 3: the lines of (old_w, w], added to those through old_w. */
        rc = rc ? rc
                : q_start(s,
                          "SELECT sum(l) FROM (SELECT argMax(lines, attempt) AS l FROM"
                          " %s.commits WHERE 1",
                          s->db);
        rc = rc ? rc : q_range(s, old_w, w);
        rc = rc ? rc : lw__ch_buf_puts(&s->q, " GROUP BY seq)");
        rc = rc ? rc : query_u64(s, &lines);
        rc = rc ? rc : fold_insert(s, "commits", w, 0, old_lines + lines);
        if (rc != LW_OK) {
            return rc;
        }
        old_w = w;
        fold_test_kill(s, 3);
    }
    /* Step 4, also for what a cut round left. */
    rc = q_start(s, "SELECT count() FROM %s.commits WHERE seq <= %llu", s->db,
                 (unsigned long long)old_w);
    rc = rc ? rc : q_eq(s, "writer", s->writer);
    rc = rc ? rc : query_u64(s, &n);
    if (rc == LW_OK && n > 0) {
        rc = q_start(s, "ALTER TABLE %s.commits DELETE WHERE seq <= %llu", s->db,
                     (unsigned long long)old_w);
        rc = rc ? rc : q_eq(s, "writer", s->writer);
        rc = rc ? rc : exec_q(s);
        fold_test_kill(s, 4);
    }
    return rc ? rc : fold_templates(s, old_w);
}

/*
 * Templates hold a delta row per template per transaction, read summed (counts), min/max
 * (first and last seen) and latest (text). They are not superseded but added up, so folding
 * them is a merge: once the writer's past through T is folded (every row there committed),
 *  5. one INSERT ... SELECT writes a merged row per template of this writer: the sums of its
 *     visible rows with seq <= T, with seq T, a new attempt A and the MERGED_ORD bit in ord.
 *     Invisible: templates_v takes merged rows only when (T, A) is the writer's latest
 *     templates fold. Cut here: merged rows nobody reads, deleted by a later step 7;
 *  6. one INSERT into commit_folds: (writer, 'templates', T, A). The switch: from here
 *     templates_v takes the merged rows and no longer the deltas <= T (the same sums);
 *  7. delete the writer's template rows with seq <= T other than the merged rows of (T, A).
 */
static int fold_templates(struct ch_store *s, uint64_t upto)
{
    uint64_t old_t = 0;
    uint64_t old_a = 0;
    uint64_t unused = 0;
    uint64_t a;
    uint64_t n = 0;
    uint64_t now = (uint64_t)real_ns();
    int rc;

    rc = fold_state(s, "templates", &old_t, &unused, &old_a);
    if (rc != LW_OK || upto < old_t || upto == 0) {
        return rc;
    }
    if (upto > old_t) {
        a = now > s->last_attempt ? now : s->last_attempt + 1;
        s->last_attempt = a;
        /* Step 5. The columns in the table's order; unknown times stay the INT64_MIN marker. */
        rc = q_start(s,
                     "INSERT INTO %1$s.templates SELECT id, max(has_text),"
                     " argMaxIf(text, (seq, ord), has_text = 1),"
                     " if(countIf(first_ns != %2$s) > 0, minIf(first_ns, first_ns != %2$s), %2$s),"
                     " if(countIf(last_ns != %2$s) > 0, maxIf(last_ns, last_ns != %2$s), %2$s),"
                     " sum(count_delta), writer, toUInt64(%3$llu), toUInt64(%4$llu),"
                     " toUInt64(" MERGED_ORD ") FROM %1$s.templates_v WHERE seq <= %3$llu",
                     s->db, "-9223372036854775808", (unsigned long long)upto,
                     (unsigned long long)a);
        rc = rc ? rc : q_eq(s, "writer", s->writer);
        rc = rc ? rc : lw__ch_buf_puts(&s->q, " GROUP BY writer, id");
        rc = rc ? rc : exec_q(s);
        fold_test_kill(s, 5);
        /* Step 6. */
        rc = rc ? rc : fold_insert(s, "templates", upto, a, 0);
        if (rc != LW_OK) {
            return rc;
        }
        old_t = upto;
        old_a = a;
        fold_test_kill(s, 6);
    }
    /* Step 7, also for what a cut round left. */
    rc = q_start(s,
                 "SELECT count() FROM %s.templates WHERE seq <= %llu AND NOT (ord >= " MERGED_ORD
                 " AND seq = %llu AND attempt = %llu)",
                 s->db, (unsigned long long)old_t, (unsigned long long)old_t,
                 (unsigned long long)old_a);
    rc = rc ? rc : q_eq(s, "writer", s->writer);
    rc = rc ? rc : query_u64(s, &n);
    if (rc != LW_OK || n == 0) {
        return rc;
    }
    rc = q_start(s,
                 "ALTER TABLE %s.templates DELETE WHERE seq <= %llu AND NOT (ord >= " MERGED_ORD
                 " AND seq = %llu AND attempt = %llu)",
                 s->db, (unsigned long long)old_t, (unsigned long long)old_t,
                 (unsigned long long)old_a);
    rc = rc ? rc : q_eq(s, "writer", s->writer);
    return rc ? rc : exec_q(s);
}

static int compact(struct ch_store *s)
{
    static const char *const blob_keys[] = {"kind"};
    static const char *const ck_keys[] = {"input", "path"};
    static const char *const note_keys[] = {"key"};
    int rc = compact_table(s, "blobs", blob_keys, 1);

    rc = rc ? rc : compact_table(s, "checkpoints", ck_keys, 2);
    rc = rc ? rc : compact_table(s, "notes", note_keys, 1);
    return rc ? rc : fold(s);
}

static int ch_prune(struct lw_store *base, int64_t now_ns, uint64_t *n_deleted)
{
    struct ch_store *s = (struct ch_store *)base;
    long long cutoff = dt_s(now_ns) - (long long)s->retention_s;
    uint64_t total = 0;
    char *line;
    char *cur;
    char *copy = NULL;
    int crc;
    int rc;

    if (n_deleted != NULL) {
        *n_deleted = 0;
    }
    if (s->read_only) {
        return fail(s, LW_EIO, "%s", "the store handle is read-only");
    }
    /*
     * A compaction that fails (a mutation the server refuses, a timeout) must not hold back the
     * retention below, or old partitions pile up: its error is returned once that has run.
     */
    crc = compact(s);
    if (cutoff <= 0) {
        return crc;
    }
    rc = q_start(s,
                 "SELECT table, partition, sum(rows) FROM system.parts WHERE database = '%s'"
                 " AND active AND table IN ('window_counts', 'window_source_counts',"
                 " 'window_level_counts', 'anomalies', 'alerts', 'alert_states',"
                 " 'template_examples')"
                 " AND toUInt32OrZero(partition) < toYYYYMMDD(toDateTime(%lld))"
                 " GROUP BY table, partition ORDER BY table, partition",
                 s->db, cutoff);
    rc = rc ? rc : exec_copy(s, &copy); /* the walk may use the handle */
    if (rc != LW_OK || copy == NULL) {
        return rc != LW_OK ? rc : crc;
    }
    for (cur = copy; rc == LW_OK && (line = next_line(&cur)) != NULL;) {
        char *tab1;
        char *tab2;
        size_t i;
        tab1 = strchr(line, '\t');
        tab2 = tab1 != NULL ? strchr(tab1 + 1, '\t') : NULL;
        if (tab2 == NULL) {
            continue;
        }
        *tab1 = '\0';
        *tab2 = '\0';
        /* Both come from the server; still, only names of ours and digits reach the query. */
        for (i = 0; i < T_N && strcmp(table_name[i], line) != 0; i++) {
        }
        if (i == T_N || !valid_ident(tab1 + 1, 8, 0) ||
            strspn(tab1 + 1, "0123456789") != strlen(tab1 + 1)) {
            continue;
        }
        rc = q_start(s, "ALTER TABLE %s.%s DROP PARTITION %s", s->db, table_name[i], tab1 + 1);
        rc = rc ? rc : exec_q(s);
        if (rc == LW_OK) {
            total += u64(tab2 + 1);
        }
    }
    lw_free(copy);
    if (n_deleted != NULL) {
        *n_deleted = total;
    }
    return rc != LW_OK ? rc : crc;
}

int lw__ch_store_example_row(struct lw_store *base, uint32_t template_id, int64_t ts_ns,
                             const char *source, const char *line)
{
    struct ch_store *s = (struct ch_store *)base;
    struct lw__ch_buf *b = &s->rows[T_EXAMPLES];
    int own;
    int rc;

    if (line == NULL) {
        return fail(s, LW_EINVAL, "%s", "no example line");
    }
    AUTO_BEGIN(s, own);
    rc = lw__ch_buf_printf(b, "%u\t%lld\t%lld\t", template_id, dt_s(ts_ns), (long long)ts_ns);
    rc = rc ? rc : put_str(b, source, 1);
    rc = rc ? rc : lw__ch_buf_tsv(b, line, strlen(line));
    rc = rc ? rc : row_end(s, b, 1);
    return auto_end(s, own, row_done(s, T_EXAMPLES, rc));
}

void lw__ch_store_view(struct lw_store *base, struct lw__ch_view *v)
{
    struct ch_store *s = (struct ch_store *)base;

    v->conn = &s->conn;
    v->db = s->db;
    v->writer = s->writer;
    v->err = s->err;
    v->err_len = sizeof(s->err);
    v->read_only = s->read_only && !s->rules_ok;
    v->examples = s->examples;
    v->qstate = &s->qstate;
}

/* ---- readers ---- */

/* The visible rows of this writer in view @view: "SELECT ... FROM db.view_v WHERE writer = ". */
static int q_writer(struct ch_store *s, const char *select, const char *view)
{
    int rc = q_start(s, "SELECT %s FROM %s.%s_v WHERE 1", select, s->db, view);

    return rc ? rc : q_eq(s, "writer", s->writer);
}

/*
 * Starts the checkpoint query of @input: "SELECT @head dev, ino, fingerprint, offset, del @tail".
 * Kafka's are every writer's: the partition's position never goes back (offsets of committed
 * transactions only grow, fenced ones never commit) and its epoch is the latest owner's. The
 * others are this writer's latest row per path.
 */
static int q_checkpoints(struct ch_store *s, const char *input, const char *head,
                         const char *tail)
{
    int rc;

    if (strcmp(input, LW_CH_KAFKA_INPUT) == 0) {
        rc = q_start(s,
                     "SELECT %smax(dev), 0, 0, max(offset), 0 AS del%s FROM %s.checkpoints_v"
                     " WHERE deleted = 0",
                     head, tail, s->db);
    }
    else {
        rc = q_start(s,
                     "SELECT %sargMax(dev, (seq, ord)), argMax(ino, (seq, ord)),"
                     " argMax(fingerprint, (seq, ord)), argMax(offset, (seq, ord)),"
                     " argMax(deleted, (seq, ord)) AS del%s FROM %s.checkpoints_v WHERE 1",
                     head, tail, s->db);
        rc = rc ? rc : q_eq(s, "writer", s->writer);
    }
    return rc ? rc : q_eq(s, "input", input);
}

static int ch_get_checkpoint(struct lw_store *base, const char *input, const char *path,
                             struct lw_ingest_checkpoint *out)
{
    struct ch_store *s = (struct ch_store *)base;
    char *f[6];
    int rc;

    if (input == NULL || path == NULL || out == NULL) {
        return fail(s, LW_EINVAL, "%s", "no input, path or output");
    }
    rc = q_checkpoints(s, input, "", ", count()");
    rc = rc ? rc : q_eq(s, "path", path);
    rc = rc ? rc : exec_q(s);
    if (rc != LW_OK) {
        return rc;
    }
    if (fields(s, f, 6) != 6 || u64(f[5]) == 0 || u64(f[4]) != 0) {
        return LW_ENOENT;
    }
    memset(out, 0, sizeof(*out));
    out->path = path;
    out->dev = u64(f[0]);
    out->ino = u64(f[1]);
    out->fingerprint = u64(f[2]);
    out->offset = u64(f[3]);
    return LW_OK;
}

static int ch_foreach_checkpoint(struct lw_store *base, const char *input,
                                 lw_store_checkpoint_cb cb, void *opaque)
{
    struct ch_store *s = (struct ch_store *)base;
    char *copy;
    char *line;
    char *cur;
    int rc;

    if (input == NULL || cb == NULL) {
        return fail(s, LW_EINVAL, "%s", "no input or callback");
    }
    rc = q_checkpoints(s, input, "hex(path), ", "");
    rc = rc ? rc : lw__ch_buf_puts(&s->q, " GROUP BY path HAVING del = 0 ORDER BY path");
    rc = rc ? rc : exec_copy(s, &copy); /* the walk may use the handle */
    if (rc != LW_OK || copy == NULL) {
        return rc;
    }
    for (cur = copy; rc == LW_OK && (line = next_line(&cur)) != NULL;) {
        struct lw_ingest_checkpoint ck;
        char *f[6];
        char *path = NULL;
        size_t len;
        if (split_fields(line, f, 6) != 6 ||
            lw__ch_unhex(f[0], strlen(f[0]), &path, &len) != LW_OK) {
            continue;
        }
        memset(&ck, 0, sizeof(ck));
        ck.path = path;
        ck.dev = u64(f[1]);
        ck.ino = u64(f[2]);
        ck.fingerprint = u64(f[3]);
        ck.offset = u64(f[4]);
        rc = cb(opaque, &ck);
        lw_free(path);
    }
    lw_free(copy);
    return rc;
}

static int load_blob(struct ch_store *s, const char *kind, char **blob, size_t *len,
                     int *checked)
{
    char *f[4];
    char *data = NULL;
    size_t n = 0;
    int rc;

    rc = q_writer(s,
                  "hex(argMax(data, (seq, ord))), argMax(checksum, (seq, ord)),"
                  " argMax(has_checksum, (seq, ord)), count()",
                  "blobs");
    rc = rc ? rc : q_eq(s, "kind", kind);
    rc = rc ? rc : exec_q(s);
    if (rc != LW_OK) {
        return rc;
    }
    if (fields(s, f, 4) != 4 || u64(f[3]) == 0) {
        return LW_ENOENT;
    }
    rc = lw__ch_unhex(f[0], strlen(f[0]), &data, &n);
    if (rc != LW_OK) {
        return fail(s, rc == LW_ENOMEM ? rc : LW_ECORRUPT, "the saved %s does not read back",
                    kind);
    }
    if (u64(f[2]) != 0 && XXH64(data, n, 0) != u64(f[1])) {
        lw_free(data);
        return fail(s, LW_ECORRUPT, "the saved %s does not match its checksum", kind);
    }
    if (checked != NULL) {
        *checked = u64(f[2]) != 0;
    }
    *blob = data;
    *len = n;
    return LW_OK;
}

static int ch_load_miner(struct lw_store *base, char **blob, size_t *len)
{
    return load_blob((struct ch_store *)base, "miner", blob, len, NULL);
}

static int ch_load_models(struct lw_store *base, char **blob, size_t *len, int *checked)
{
    return load_blob((struct ch_store *)base, "models", blob, len, checked);
}

/*
 * Lines ever counted, by every writer: the committed attempt of each (writer, seq), and for a
 * writer that folded its past (fold()) the lines through its latest fold, with its commit rows
 * up to there (not deleted yet) skipped. The skip is a HAVING: ClickHouse 18.16 drops the
 * columns of a subquery that an outer WHERE names only inside a lambda ("Unknown identifier").
 */
static int ch_stored_lines(struct lw_store *base, uint64_t *out)
{
    struct ch_store *s = (struct ch_store *)base;
    int rc = q_start(s,
                     "SELECT (SELECT sum(l) FROM (SELECT writer, seq, argMax(lines, attempt) AS l"
                     " FROM %1$s.commits GROUP BY writer, seq HAVING NOT arrayExists(f -> f.1 ="
                     " writer AND seq <= f.2, (SELECT groupArray((writer, u)) FROM (SELECT"
                     " writer, max(upto) AS u FROM %1$s.commit_folds WHERE kind = 'commits'"
                     " GROUP BY writer))))) + (SELECT sum(t) FROM (SELECT argMax(lines, upto) AS t"
                     " FROM %1$s.commit_folds WHERE kind = 'commits' GROUP BY writer))",
                     s->db);

    return rc ? rc : query_u64(s, out);
}

static int ch_template_count(struct lw_store *base, uint64_t *out)
{
    struct ch_store *s = (struct ch_store *)base;
    int rc = q_start(s, "SELECT uniqExact(id) FROM %s.templates_v", s->db);

    return rc ? rc : query_u64(s, out);
}

static int ch_max_template_id(struct lw_store *base, uint32_t *out)
{
    struct ch_store *s = (struct ch_store *)base;
    uint64_t v = 0;
    int rc = q_start(s, "SELECT max(id) FROM %s.templates_v", s->db);

    rc = rc ? rc : query_u64(s, &v);
    if (rc == LW_OK) {
        *out = (uint32_t)v;
    }
    return rc;
}

static int ch_get_window_count(struct lw_store *base, int64_t window_start_ns,
                               uint32_t template_id, uint64_t *out)
{
    struct ch_store *s = (struct ch_store *)base;
    int rc = q_start(s,
                     "SELECT sum(count) FROM %s.window_counts_v WHERE window_start ="
                     " toDateTime(%lld) AND template_id = %u",
                     s->db, dt_s(window_start_ns), template_id);

    return rc ? rc : query_u64(s, out);
}

static int ch_get_source_count(struct lw_store *base, int64_t window_start_ns,
                               uint32_t template_id, const char *source, uint64_t *out)
{
    struct ch_store *s = (struct ch_store *)base;
    int rc;

    if (source == NULL) {
        return fail(s, LW_EINVAL, "%s", "no source");
    }
    rc = q_start(s,
                 "SELECT sum(count) FROM %s.window_source_counts_v WHERE window_start ="
                 " toDateTime(%lld) AND template_id = %u",
                 s->db, dt_s(window_start_ns), template_id);
    rc = rc ? rc : q_eq(s, "source", source);
    return rc ? rc : query_u64(s, out);
}

static int ch_get_level_count(struct lw_store *base, int64_t window_start_ns, int level,
                              uint64_t *out)
{
    struct ch_store *s = (struct ch_store *)base;
    int rc = q_start(s,
                     "SELECT sum(count) FROM %s.window_level_counts_v WHERE window_start ="
                     " toDateTime(%lld) AND level = %d",
                     s->db, dt_s(window_start_ns), level);

    return rc ? rc : query_u64(s, out);
}

static int alert_states(struct ch_store *s, struct lw_store_status *out)
{
    char *line;
    char *cur;
    int rc;

    rc = q_start(s,
                 "SELECT if(st2 != '', st2, state) AS st, count() FROM"
                 " (SELECT id, state FROM %1$s.alerts_v) ANY LEFT JOIN"
                 " (SELECT id, argMax(state, (seq, ord)) AS st2 FROM %1$s.alert_states_v"
                 " GROUP BY id) USING id GROUP BY st",
                 s->db);
    rc = rc ? rc : exec_q(s);
    for (cur = s->out.p; rc == LW_OK && (line = next_line(&cur)) != NULL;) {
        char *tab;
        uint64_t n;

        tab = strchr(line, '\t');
        if (tab == NULL) {
            continue;
        }
        *tab = '\0';
        n = u64(tab + 1);
        out->n_alerts += n;
        if (strcmp(line, "sent") == 0) {
            out->n_alerts_sent += n;
        }
        else if (strcmp(line, "failed") == 0) {
            out->n_alerts_failed += n;
        }
        else if (strcmp(line, "pending") == 0) {
            out->n_alerts_pending += n;
        }
        else if (strcmp(line, "suppressed") == 0) {
            out->n_suppressed += n;
        }
        else if (strcmp(line, "limited") == 0) {
            out->n_limited += n;
        }
    }
    return rc;
}

static int ch_stat(struct lw_store *base, struct lw_store_status *out)
{
    struct ch_store *s = (struct ch_store *)base;
    char *f[4];
    int version = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = lw__ch_schema_check(&s->conn, s->db, &version, s->err, sizeof(s->err));
    out->schema_version = version;
    rc = rc ? rc : ch_stored_lines(base, &out->stored_lines);
    rc = rc ? rc : ch_template_count(base, &out->n_templates);
    rc = rc ? rc
            : q_start(s,
                      "SELECT uniqExact(window_start), toUInt32(min(window_start)),"
                      " toUInt32(max(window_start)), count() FROM %s.window_counts_v",
                      s->db);
    rc = rc ? rc : exec_q(s);
    if (rc == LW_OK && fields(s, f, 4) == 4 && u64(f[3]) > 0) {
        out->n_windows = u64(f[0]);
        out->oldest_window_ns = (int64_t)u64(f[1]) * NS;
        out->newest_window_ns = (int64_t)u64(f[2]) * NS;
    }
    rc = rc ? rc
            : q_start(s,
                      "SELECT count() FROM (SELECT argMax(deleted, (seq, ord)) AS d FROM"
                      " %s.checkpoints_v GROUP BY writer, input, path) WHERE d = 0",
                      s->db);
    rc = rc ? rc : query_u64(s, &out->n_checkpoints);
    rc = rc ? rc : q_start(s, "SELECT count() FROM %s.anomalies_v", s->db);
    rc = rc ? rc : query_u64(s, &out->n_anomalies);
    rc = rc ? rc : alert_states(s, out);
    rc = rc ? rc
            : q_start(s,
                      "SELECT toInt64OrZero(argMaxIf(value, at_ns, key = 'window_s')),"
                      " toInt64OrZero(argMaxIf(value, at_ns, key = 'retention_s')) FROM %s.meta",
                      s->db);
    rc = rc ? rc : exec_q(s);
    if (rc == LW_OK && fields(s, f, 2) == 2) {
        out->window_s = strtoll(f[0], NULL, 10);
        out->retention_s = strtoll(f[1], NULL, 10);
    }
    rc = rc ? rc : q_writer(s, "hex(argMax(text, (seq, ord)))", "notes");
    rc = rc ? rc : q_eq(s, "key", "detectors");
    rc = rc ? rc : exec_q(s);
    if (rc == LW_OK && fields(s, f, 1) == 1) {
        char *text = NULL;
        size_t n = 0;

        if (lw__ch_unhex(f[0], strlen(f[0]), &text, &n) == LW_OK) {
            snprintf(out->detectors, sizeof(out->detectors), "%s", text);
            lw_free(text);
        }
    }
    rc = rc ? rc
            : q_start(s, "SELECT sum(bytes) FROM system.parts WHERE database = '%s' AND active",
                      s->db);
    rc = rc ? rc : query_u64(s, &out->db_bytes);
    return rc;
}

static int ch_integrity_check(struct lw_store *base, char *result, size_t cap)
{
    struct ch_store *s = (struct ch_store *)base;
    int version = 0;
    int rc = lw__ch_schema_check(&s->conn, s->db, &version, s->err, sizeof(s->err));

    /* The server checks its own parts; what is ours to check is that the schema is there. */
    snprintf(result, cap, "%s", rc == LW_OK ? "ok" : s->err);
    return rc == LW_OK || rc == LW_ENOENT || rc == LW_EVERSION ? LW_OK : rc;
}

static const char *ch_errmsg(const struct lw_store *base)
{
    return ((const struct ch_store *)base)->err;
}

static int64_t ch_window_s(const struct lw_store *base)
{
    return ((const struct ch_store *)base)->window_s;
}

static int64_t ch_retention_s(const struct lw_store *base)
{
    return ((const struct ch_store *)base)->retention_s;
}

static int64_t ch_window_start(const struct lw_store *base, int64_t ts_ns)
{
    const struct ch_store *s = (const struct ch_store *)base;
    int64_t w = s->window_s * NS;
    int64_t r = ts_ns % w;

    return r < 0 ? ts_ns - r - w : ts_ns - r;
}

/* ---- open, close, status ---- */

static void ch_close(struct lw_store *base)
{
    struct ch_store *s = (struct ch_store *)base;
    size_t i;

    tx_clear(s);
    lw_free(s->fences);
    for (i = 0; i < T_N; i++) {
        lw__ch_buf_free(&s->rows[i]);
    }
    lw__ch_buf_free(&s->q);
    lw__ch_buf_free(&s->out);
    lw__chq_free(s->qstate);
    lw__ch_conn_fini(&s->conn);
    lw_free(s);
}

/* Reads DIR/@name (one line, at most @cap - 1 bytes, trailing white space cut). */
static int read_small(const char *dir, const char *name, char *buf, size_t cap)
{
    char path[4096];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "re");
    if (f == NULL) {
        return errno == ENOENT ? LW_ENOENT : LW_EIO;
    }
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\r')) {
        buf[--n] = '\0';
    }
    return LW_OK;
}

/* Writes DIR/@name atomically (a temporary file renamed over it). */
static int write_small(const char *dir, const char *name, const char *text)
{
    char path[4096];
    char tmp[4200];
    size_t n = strlen(text);
    int fd;
    int ok;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return LW_EIO;
    }
    ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return LW_EIO;
    }
    return LW_OK;
}

/* This instance's writer id: configured, or kept in DIR/writer_id, or made once. */
static int writer_id(struct ch_store *s, const char *dir, const char *conf_id, int read_only,
                     char *err, size_t err_len)
{
    char buf[128];
    char host[64];
    uint32_t r = 0;
    size_t i;

    if (conf_id != NULL && *conf_id != '\0') {
        if (!valid_ident(conf_id, 64, 1)) {
            snprintf(err, err_len,
                     "store.clickhouse.writer_id '%s': use 1 to 64 letters, digits, '.', '_',"
                     " ':' or '-'",
                     conf_id);
            return LW_EINVAL;
        }
        snprintf(s->writer, sizeof(s->writer), "%s", conf_id);
        return LW_OK;
    }
    if (read_small(dir, CH_WRITER_FILE, buf, sizeof(buf)) == LW_OK && valid_ident(buf, 64, 1)) {
        memcpy(s->writer, buf, strlen(buf) + 1); /* valid_ident(): at most 64 bytes */
        return LW_OK;
    }
    if (read_only) {
        snprintf(err, err_len, "no logwarden store in %s (no %s/%s)", dir, dir, CH_WRITER_FILE);
        return LW_ENOENT;
    }
    /* The host name (cleaned) and 32 random bits: readable in queries, unique in a cluster. */
    if (gethostname(host, sizeof(host)) != 0) {
        snprintf(host, sizeof(host), "host");
    }
    host[sizeof(host) - 1] = '\0';
    host[40] = '\0';
    for (i = 0; host[i] != '\0'; i++) {
        if (!valid_ident((char[]){host[i], '\0'}, 1, 1)) {
            host[i] = '-';
        }
    }
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        r = (uint32_t)real_ns();
    }
    snprintf(s->writer, sizeof(s->writer), "%.40s-%08x", host[0] != '\0' ? host : "host", r);
    snprintf(buf, sizeof(buf), "%s\n", s->writer);
    if (write_small(dir, CH_WRITER_FILE, buf) != LW_OK) {
        snprintf(err, err_len, "cannot write %s/%s: %s", dir, CH_WRITER_FILE, strerror(errno));
        return LW_EIO;
    }
    return LW_OK;
}

/* The file `logwarden status --data-dir DIR` reads to find the store (no password in it). */
static int write_marker(const char *dir, const struct ch_store *s,
                        const struct lw_store_clickhouse_conf *c)
{
    char text[8192];

    snprintf(text, sizeof(text),
             "# Written by logwarden run: the ClickHouse store of this data directory.\n"
             "backend=clickhouse\nurl=%s\ndatabase=%s\nuser=%s\npassword_file=%s\n"
             "writer_id=%s\n",
             s->conn.url, s->db, c->user != NULL ? c->user : "",
             c->password_file != NULL ? c->password_file : "", s->writer);
    return write_small(dir, LW_STORE_CH_MARKER_NAME, text);
}

static int record_settings(struct ch_store *s)
{
    struct lw__ch_buf b = {0};
    int64_t now = real_ns();
    int rc;

    rc = lw__ch_buf_tsv(&b, s->writer, strlen(s->writer));
    rc = rc ? rc : lw__ch_buf_printf(&b, "\twindow_s\t%lld\t%lld\n", (long long)s->window_s,
                                     (long long)now);
    rc = rc ? rc : lw__ch_buf_tsv(&b, s->writer, strlen(s->writer));
    rc = rc ? rc : lw__ch_buf_printf(&b, "\tretention_s\t%lld\t%lld\n",
                                     (long long)s->retention_s, (long long)now);
    if (rc != LW_OK) {
        lw__ch_buf_free(&b);
        return fail(s, rc, "%s", "out of memory");
    }
    rc = insert_rows(s, "meta", &b);
    lw__ch_buf_free(&b);
    return rc;
}

static struct lw_store *ch_open(const char *dir, const struct lw_store_conf *conf, char *err,
                                size_t err_len)
{
    static const struct lw_store_conf zero;
    const struct lw_store_clickhouse_conf *c;
    struct ch_store *s;
    const char *db;
    int version = 0;
    uint64_t last = 0;
    int rc;

    conf = conf != NULL ? conf : &zero;
    c = &conf->clickhouse;
    db = c->database != NULL && *c->database != '\0' ? c->database : CH_DEFAULT_DB;
    if (!valid_ident(db, 64, 0)) {
        snprintf(err, err_len,
                 "store.clickhouse.database '%s': use 1 to 64 letters, digits or '_'", db);
        return NULL;
    }
    s = lw_calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    s->base.ops = &lw__store_clickhouse_ops;
    snprintf(s->db, sizeof(s->db), "%s", db);
    s->read_only = conf->read_only;
    s->window_s = conf->window_s > 0 ? conf->window_s : LW_STORE_DEFAULT_WINDOW_S;
    s->retention_s = conf->retention_s > 0 ? conf->retention_s : LW_STORE_DEFAULT_RETENTION_S;
    s->batch_rows = c->batch_rows > 0 ? c->batch_rows : CH_DEFAULT_BATCH_ROWS;
    s->examples = conf->examples_per_template > 0 ? conf->examples_per_template
                                                  : LW_STORE_DEFAULT_EXAMPLES;
    s->test_kill_at = env_long("LW_TEST_CH_KILL_AT_COMMIT");
    s->test_fail_at = env_long("LW_TEST_CH_FAIL_AT_COMMIT");
    s->test_lose_at = env_long("LW_TEST_CH_LOSE_REPLY_AT_COMMIT");
    s->test_fold_kill_at = env_long("LW_TEST_CH_KILL_AT_FOLD");
    /* Longer than any request may take (the HTTP timeout), so that no attempt is in flight. */
    s->fold_age_s = CH_FOLD_AGE_S;
    if (c->timeout_ms > 0 && (int64_t)c->timeout_ms / 1000 * 2 > s->fold_age_s) {
        s->fold_age_s = (int64_t)c->timeout_ms / 1000 * 2;
    }
    if (getenv("LW_TEST_CH_FOLD_AGE_S") != NULL) {
        s->fold_age_s = env_long("LW_TEST_CH_FOLD_AGE_S");
    }
    rc = lw__ch_conn_init(&s->conn, c->url != NULL && *c->url != '\0' ? c->url : CH_DEFAULT_URL,
                          c->user, c->password, (long)(c->timeout_ms > 0 ? c->timeout_ms : 0),
                          err, err_len);
    if (rc != LW_OK) {
        lw_free(s);
        return NULL;
    }
    if (!s->read_only && lw__store_mkdirs(dir, err, err_len) != LW_OK) {
        goto fail;
    }
    if (writer_id(s, dir, c->writer_id, s->read_only, err, err_len) != LW_OK) {
        goto fail;
    }
    /* One cheap request first, so that an unreachable server is named as such. */
    if (lw__ch_exec(&s->conn, "SELECT 1", NULL, 0, NULL, s->err, sizeof(s->err)) != LW_OK) {
        snprintf(err, err_len, "%s (is clickhouse-server running there? see store.clickhouse.url)",
                 s->err);
        goto fail;
    }
    if (s->read_only) {
        rc = lw__ch_schema_check(&s->conn, s->db, &version, s->err, sizeof(s->err));
    }
    else {
        rc = lw__ch_schema_create(&s->conn, s->db, s->writer, s->err, sizeof(s->err));
        rc = rc ? rc : record_settings(s);
    }
    if (rc != LW_OK) {
        snprintf(err, err_len, "%s", s->err);
        goto fail;
    }
    /*
     * The next transaction's seq: above every committed one of this writer, folded ones too
     * (their commit rows may be gone: a seq of them used again would be visible at once).
     */
    rc = q_start(s, "SELECT greatest((SELECT max(seq) FROM %s.commits WHERE 1", s->db);
    rc = rc ? rc : q_eq(s, "writer", s->writer);
    rc = rc ? rc
            : lw__ch_buf_printf(&s->q, "), (SELECT max(upto) FROM %s.commit_folds WHERE 1",
                                s->db);
    rc = rc ? rc : q_eq(s, "writer", s->writer);
    rc = rc ? rc : lw__ch_buf_puts(&s->q, "))");
    rc = rc ? rc : query_u64(s, &last);
    if (rc != LW_OK) {
        snprintf(err, err_len, "%s", s->err);
        goto fail;
    }
    s->seq = last + 1;
    /* What earlier runs of this writer left superseded; best effort (prune() does it again). */
    if (!s->read_only && !conf->short_lived) {
        (void)compact(s);
    }
    if (!s->read_only && write_marker(dir, s, c) != LW_OK) {
        snprintf(err, err_len, "cannot write %s/%s: %s", dir, LW_STORE_CH_MARKER_NAME,
                 strerror(errno));
        goto fail;
    }
    s->err[0] = '\0';
    return &s->base;
fail:
    ch_close(&s->base);
    return NULL;
}

/*
 * The store named by DIR's marker file (written by the daemon of DIR), opened read-only; with
 * @rules, feedback rules may be written through it (`logwarden feedback`).
 */
struct lw_store *lw__ch_open_marker(const char *dir, int rules, char *err, size_t err_len)
{
    char text[8192];
    char url[2048] = "";
    char db[128] = "";
    char user[256] = "";
    char pwfile[4096] = "";
    char pw[1024] = "";
    char writer[128] = "";
    struct lw_store_conf conf;
    struct lw_store *st;
    char *line;
    char *cur;
    const char *envpw = getenv("LOGWARDEN_CLICKHOUSE_PASSWORD");

    if (read_small(dir, LW_STORE_CH_MARKER_NAME, text, sizeof(text)) != LW_OK) {
        snprintf(err, err_len, "no logwarden store in %s", dir);
        return NULL;
    }
    for (cur = text; (line = next_line(&cur)) != NULL;) {
        if (strncmp(line, "url=", 4) == 0) {
            snprintf(url, sizeof(url), "%s", line + 4);
        }
        else if (strncmp(line, "database=", 9) == 0) {
            snprintf(db, sizeof(db), "%s", line + 9);
        }
        else if (strncmp(line, "user=", 5) == 0) {
            snprintf(user, sizeof(user), "%s", line + 5);
        }
        else if (strncmp(line, "password_file=", 14) == 0) {
            snprintf(pwfile, sizeof(pwfile), "%s", line + 14);
        }
        else if (strncmp(line, "writer_id=", 10) == 0) {
            snprintf(writer, sizeof(writer), "%s", line + 10);
        }
    }
    if (envpw != NULL) {
        snprintf(pw, sizeof(pw), "%s", envpw);
    }
    else if (pwfile[0] != '\0' &&
             read_small(pwfile[0] == '/' ? "" : ".", pwfile, pw, sizeof(pw)) != LW_OK) {
        snprintf(err, err_len, "cannot read the ClickHouse password file %s", pwfile);
        return NULL;
    }
    memset(&conf, 0, sizeof(conf));
    conf.read_only = 1;
    conf.backend = LW_STORE_BACKEND_CLICKHOUSE;
    conf.clickhouse.url = url;
    conf.clickhouse.database = db;
    conf.clickhouse.user = user[0] != '\0' ? user : NULL;
    conf.clickhouse.writer_id = writer[0] != '\0' ? writer : NULL;
    conf.clickhouse.password = pw[0] != '\0' || pwfile[0] != '\0' ? pw : NULL;
    conf.short_lived = 1;
    st = ch_open(dir, &conf, err, err_len);
    if (st == NULL && pw[0] == '\0' && pwfile[0] == '\0') {
        size_t n = strlen(err);

        /* The daemon's own password may have been written in its configuration file. */
        snprintf(err + n, err_len - n, " (the data directory names no password file: if the "
                                       "server wants a password, set "
                                       "LOGWARDEN_CLICKHOUSE_PASSWORD)");
    }
    memset(pw, 0, sizeof(pw));
    if (st != NULL) {
        ((struct ch_store *)st)->rules_ok = rules;
    }
    return st;
}

/* `logwarden status`: the store named by DIR's marker file, opened read-only. */
static int ch_status(const char *dir, struct lw_store_status *out, char *err, size_t err_len)
{
    struct lw_store *st = lw__ch_open_marker(dir, 0, err, err_len);
    int rc;

    if (st == NULL) {
        return strstr(err, "no logwarden store") != NULL ? LW_ENOENT : LW_EIO;
    }
    rc = ch_stat(st, out);
    if (rc != LW_OK) {
        snprintf(err, err_len, "%s", lw_store_errmsg(st));
    }
    lw_store_close(st);
    return rc;
}

const struct lw_store_ops lw__store_clickhouse_ops = {
    .name = "clickhouse",
    .open = ch_open,
    .close = ch_close,
    .errmsg = ch_errmsg,
    .window_s = ch_window_s,
    .retention_s = ch_retention_s,
    .window_start = ch_window_start,
    .begin = ch_begin,
    .commit = ch_commit,
    .rollback = ch_rollback,
    .in_transaction = ch_in_transaction,
    .add_window_count = ch_add_window_count,
    .add_source_count = ch_add_source_count,
    .add_level_count = ch_add_level_count,
    .upsert_template = ch_upsert_template,
    .set_template_alias = ch_set_template_alias,
    .set_checkpoint = ch_set_checkpoint,
    .delete_checkpoint = ch_delete_checkpoint,
    .add_stored_lines = ch_add_stored_lines,
    .save_miner = ch_save_miner,
    .save_models = ch_save_models,
    .set_note = ch_set_note,
    .insert_anomaly = ch_insert_anomaly,
    .insert_alert = ch_insert_alert,
    .set_alert_state = ch_set_alert_state,
    .prune = ch_prune,
    .get_checkpoint = ch_get_checkpoint,
    .foreach_checkpoint = ch_foreach_checkpoint,
    .load_miner = ch_load_miner,
    .load_models = ch_load_models,
    .save_shard_state = ch_save_shard_state,
    .foreach_shard_state = ch_foreach_shard_state,
    .foreach_shared_template = ch_foreach_shared_template,
    .stored_lines = ch_stored_lines,
    .template_count = ch_template_count,
    .max_template_id = ch_max_template_id,
    .get_window_count = ch_get_window_count,
    .get_source_count = ch_get_source_count,
    .get_level_count = ch_get_level_count,
    .stat = ch_stat,
    .status = ch_status,
    .integrity_check = ch_integrity_check,
    /* The query API block: store_clickhouse_query.c. */
    .series = lw__chq_series,
    .series_levels = lw__chq_series_levels,
    .series_anomalies = lw__chq_series_anomalies,
    .sparklines = lw__chq_sparklines,
    .totals = lw__chq_totals,
    .list_anomalies = lw__chq_list_anomalies,
    .get_anomaly = lw__chq_get_anomaly,
    .list_alerts = lw__chq_list_alerts,
    .list_incidents = lw__chq_list_incidents,
    .list_templates = lw__chq_list_templates,
    .list_sources = lw__chq_list_sources,
    .list_examples = lw__chq_list_examples,
    .add_example = lw__chq_add_example,
    .list_rules = lw__chq_list_rules,
    .get_rule = lw__chq_get_rule,
    .add_rule = lw__chq_add_rule,
    .delete_rule = lw__chq_delete_rule,
};
