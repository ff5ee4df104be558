/*
 * The store interface (lw/lw_store.h): every lw_store_* call goes through the handle's backend
 * functions (struct lw_store_ops), so callers never name a backend. lw_store_open() picks
 * SQLite (store_sqlite.c, the default) or ClickHouse (store_clickhouse.c) from conf.backend;
 * lw_store_status() picks ClickHouse when the data directory holds the marker a ClickHouse
 * daemon writes. The data directory lock (store_lock.c) belongs to no backend.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lw/lw_err.h"
#include "lw/lw_store.h"
#include "store/store_int.h"

/* The backend @conf names (SQLite when @conf is NULL or zeroed). */
static const struct lw_store_ops *backend_of(const struct lw_store_conf *conf)
{
    if (conf != NULL && conf->backend == LW_STORE_BACKEND_CLICKHOUSE) {
        return &lw__store_clickhouse_ops;
    }
    return &lw__store_sqlite_ops;
}

/*
 * A writer that opens SQLite on a directory that once named a ClickHouse store removes that
 * marker, so that `logwarden status` reads the store the daemon now writes.
 */
static void forget_marker(const char *dir)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/%s", dir, LW_STORE_CH_MARKER_NAME);
    /* A failure is harmless (status would read the old ClickHouse store): not reported. */
    (void)unlink(path);
}

struct lw_store *lw_store_open(const char *dir, const struct lw_store_conf *conf, char *err,
                               size_t err_len)
{
    const struct lw_store_ops *ops = backend_of(conf);
    struct lw_store *s = ops->open(dir, conf, err, err_len);

    if (s != NULL && ops == &lw__store_sqlite_ops && (conf == NULL || !conf->read_only)) {
        forget_marker(dir);
    }
    return s;
}

void lw_store_close(struct lw_store *s)
{
    if (s == NULL) {
        return;
    }
    s->ops->close(s);
}

const char *lw_store_errmsg(const struct lw_store *s)
{
    return s->ops->errmsg(s);
}

int64_t lw_store_window_s(const struct lw_store *s)
{
    return s->ops->window_s(s);
}

int64_t lw_store_retention_s(const struct lw_store *s)
{
    return s->ops->retention_s(s);
}

int64_t lw_store_window_start(const struct lw_store *s, int64_t ts_ns)
{
    return s->ops->window_start(s, ts_ns);
}

int lw_store_begin(struct lw_store *s)
{
    return s->ops->begin(s);
}

int lw_store_commit(struct lw_store *s)
{
    return s->ops->commit(s);
}

int lw_store_rollback(struct lw_store *s)
{
    return s->ops->rollback(s);
}

int lw_store_in_transaction(const struct lw_store *s)
{
    return s->ops->in_transaction(s);
}

int lw_store_add_window_count(struct lw_store *s, int64_t window_start_ns, uint32_t template_id,
                              uint64_t count)
{
    return s->ops->add_window_count(s, window_start_ns, template_id, count);
}

int lw_store_add_source_count(struct lw_store *s, int64_t window_start_ns, uint32_t template_id,
                              const char *source, uint64_t count)
{
    return s->ops->add_source_count(s, window_start_ns, template_id, source, count);
}

int lw_store_add_level_count(struct lw_store *s, int64_t window_start_ns, int level, uint64_t count)
{
    return s->ops->add_level_count(s, window_start_ns, level, count);
}

int lw_store_upsert_template(struct lw_store *s, uint32_t id, const char *text, int64_t first_ns,
                             int64_t last_ns, uint64_t count_delta)
{
    return s->ops->upsert_template(s, id, text, first_ns, last_ns, count_delta);
}

int lw_store_set_checkpoint(struct lw_store *s, const struct lw_ingest_checkpoint *ck,
                            const char *input)
{
    return s->ops->set_checkpoint(s, ck, input);
}

int lw_store_delete_checkpoint(struct lw_store *s, const char *input, const char *path)
{
    return s->ops->delete_checkpoint(s, input, path);
}

int lw_store_add_stored_lines(struct lw_store *s, uint64_t n)
{
    return s->ops->add_stored_lines(s, n);
}

int lw_store_save_miner(struct lw_store *s, const void *blob, size_t len)
{
    return s->ops->save_miner(s, blob, len);
}

int lw_store_save_models(struct lw_store *s, const void *blob, size_t len)
{
    return s->ops->save_models(s, blob, len);
}

int lw_store_save_shard_state(struct lw_store *s, const char *key, const void *blob, size_t len)
{
    return s->ops->save_shard_state != NULL ? s->ops->save_shard_state(s, key, blob, len)
                                            : LW_ENOTSUP;
}

int lw_store_foreach_shard_state(struct lw_store *s, const char *key, lw_store_blob_cb cb,
                                 void *opaque)
{
    return s->ops->foreach_shard_state != NULL ? s->ops->foreach_shard_state(s, key, cb, opaque)
                                               : LW_ENOTSUP;
}

int lw_store_foreach_shared_template(struct lw_store *s, size_t max, lw_store_id_cb cb,
                                     void *opaque)
{
    return s->ops->foreach_shared_template != NULL
               ? s->ops->foreach_shared_template(s, max, cb, opaque)
               : LW_ENOTSUP;
}

int lw_store_set_note(struct lw_store *s, const char *key, const char *text)
{
    return s->ops->set_note(s, key, text);
}

int lw_store_insert_anomaly(struct lw_store *s, const struct lw_store_anomaly *a, int64_t *id_out)
{
    return s->ops->insert_anomaly(s, a, id_out);
}

int lw_store_insert_alert(struct lw_store *s, const struct lw_store_alert *a, int64_t *id_out)
{
    return s->ops->insert_alert(s, a, id_out);
}

int lw_store_set_alert_state(struct lw_store *s, int64_t id, const char *state, int64_t sent_ns)
{
    return s->ops->set_alert_state(s, id, state, sent_ns);
}

int lw_store_prune(struct lw_store *s, int64_t now_ns, uint64_t *n_deleted)
{
    return s->ops->prune(s, now_ns, n_deleted);
}

int lw_store_get_checkpoint(struct lw_store *s, const char *input, const char *path,
                            struct lw_ingest_checkpoint *out)
{
    return s->ops->get_checkpoint(s, input, path, out);
}

int lw_store_foreach_checkpoint(struct lw_store *s, const char *input, lw_store_checkpoint_cb cb,
                                void *opaque)
{
    return s->ops->foreach_checkpoint(s, input, cb, opaque);
}

int lw_store_load_miner(struct lw_store *s, char **blob, size_t *len)
{
    return s->ops->load_miner(s, blob, len);
}

int lw_store_load_models(struct lw_store *s, char **blob, size_t *len, int *checked)
{
    return s->ops->load_models(s, blob, len, checked);
}

int lw_store_stored_lines(struct lw_store *s, uint64_t *out)
{
    return s->ops->stored_lines(s, out);
}

int lw_store_template_count(struct lw_store *s, uint64_t *out)
{
    return s->ops->template_count(s, out);
}

int lw_store_max_template_id(struct lw_store *s, uint32_t *out)
{
    return s->ops->max_template_id(s, out);
}

int lw_store_set_template_alias(struct lw_store *s, uint32_t from, uint32_t to)
{
    return s->ops->set_template_alias != NULL ? s->ops->set_template_alias(s, from, to)
                                              : LW_ENOTSUP;
}

int lw_store_resolve_template(struct lw_store *s, uint32_t id, uint32_t *out)
{
    if (s->ops->resolve_template == NULL) {
        *out = id;
        return LW_OK;
    }
    return s->ops->resolve_template(s, id, out);
}

int lw_store_get_window_count(struct lw_store *s, int64_t window_start_ns, uint32_t template_id,
                              uint64_t *out)
{
    return s->ops->get_window_count(s, window_start_ns, template_id, out);
}

int lw_store_get_source_count(struct lw_store *s, int64_t window_start_ns, uint32_t template_id,
                              const char *source, uint64_t *out)
{
    return s->ops->get_source_count(s, window_start_ns, template_id, source, out);
}

int lw_store_get_level_count(struct lw_store *s, int64_t window_start_ns, int level, uint64_t *out)
{
    return s->ops->get_level_count(s, window_start_ns, level, out);
}

int lw_store_stat(struct lw_store *s, struct lw_store_status *out)
{
    return s->ops->stat(s, out);
}

int lw_store_status(const char *dir, struct lw_store_status *out, char *err, size_t err_len)
{
    char path[4096];
    struct stat sb;

    /* A daemon that writes to ClickHouse leaves a marker in its data directory. */
    snprintf(path, sizeof(path), "%s/%s", dir, LW_STORE_CH_MARKER_NAME);
    if (stat(path, &sb) == 0) {
        return lw__store_clickhouse_ops.status(dir, out, err, err_len);
    }
    return lw__store_sqlite_ops.status(dir, out, err, err_len);
}

struct lw_store *lw_store_open_dir(const char *dir, int rules_writable, char *err,
                                   size_t err_len)
{
    struct lw_store_conf sc;
    char path[4096];
    struct stat sb;

    snprintf(path, sizeof(path), "%s/%s", dir, LW_STORE_CH_MARKER_NAME);
    if (stat(path, &sb) == 0) {
        return lw__ch_open_marker(dir, rules_writable, err, err_len);
    }
    memset(&sc, 0, sizeof(sc));
    sc.read_only = !rules_writable;
    return lw_store_open(dir, &sc, err, err_len);
}

int lw_store_integrity_check(struct lw_store *s, char *result, size_t cap)
{
    return s->ops->integrity_check(s, result, cap);
}

/* ---- Query API block: a backend without an operation answers LW_ENOTSUP. ---- */

#define LW_STORE_CALL(op, ...) ((s)->ops->op != NULL ? (s)->ops->op(__VA_ARGS__) : LW_ENOTSUP)

int lw_store_series(struct lw_store *s, const struct lw_store_series_q *q, lw_store_point_cb cb,
                    void *opaque)
{
    return LW_STORE_CALL(series, s, q, cb, opaque);
}

int lw_store_series_levels(struct lw_store *s, const struct lw_store_series_q *q,
                           lw_store_point_cb cb, void *opaque)
{
    return LW_STORE_CALL(series_levels, s, q, cb, opaque);
}

int lw_store_series_anomalies(struct lw_store *s, const struct lw_store_series_q *q,
                              lw_store_point_cb cb, void *opaque)
{
    return LW_STORE_CALL(series_anomalies, s, q, cb, opaque);
}

int lw_store_sparklines(struct lw_store *s, const int64_t *ids, size_t n_ids,
                        const struct lw_store_series_q *q, lw_store_point_cb cb, void *opaque)
{
    return LW_STORE_CALL(sparklines, s, ids, n_ids, q, cb, opaque);
}

int lw_store_totals(struct lw_store *s, int64_t from_ns, int64_t to_ns,
                    struct lw_store_totals *out)
{
    return LW_STORE_CALL(totals, s, from_ns, to_ns, out);
}

int lw_store_list_anomalies(struct lw_store *s, const struct lw_store_filter *f,
                            lw_store_anomaly_cb cb, void *opaque)
{
    return LW_STORE_CALL(list_anomalies, s, f, cb, opaque);
}

int lw_store_get_anomaly(struct lw_store *s, int64_t id, lw_store_anomaly_cb cb, void *opaque)
{
    return LW_STORE_CALL(get_anomaly, s, id, cb, opaque);
}

int lw_store_list_alerts(struct lw_store *s, const struct lw_store_filter *f, lw_store_alert_cb cb,
                         void *opaque)
{
    return LW_STORE_CALL(list_alerts, s, f, cb, opaque);
}

int lw_store_list_incidents(struct lw_store *s, const struct lw_store_filter *f,
                            lw_store_incident_cb cb, void *opaque)
{
    return LW_STORE_CALL(list_incidents, s, f, cb, opaque);
}

int lw_store_list_templates(struct lw_store *s, const char *q, enum lw_store_tsort sort, int desc,
                            const struct lw_store_filter *f, lw_store_template_cb cb,
                            void *opaque, uint64_t *total)
{
    return LW_STORE_CALL(list_templates, s, q, sort, desc, f, cb, opaque, total);
}

int lw_store_list_sources(struct lw_store *s, const struct lw_store_filter *f,
                          lw_store_source_cb cb, void *opaque)
{
    return LW_STORE_CALL(list_sources, s, f, cb, opaque);
}

int lw_store_list_examples(struct lw_store *s, int64_t template_id, lw_store_example_cb cb,
                           void *opaque)
{
    return LW_STORE_CALL(list_examples, s, template_id, cb, opaque);
}

int lw_store_add_example(struct lw_store *s, uint32_t template_id, int64_t ts_ns,
                         const char *source, const char *line)
{
    return LW_STORE_CALL(add_example, s, template_id, ts_ns, source, line);
}

int lw_store_list_rules(struct lw_store *s, lw_store_rule_cb cb, void *opaque)
{
    return LW_STORE_CALL(list_rules, s, cb, opaque);
}

int lw_store_get_rule(struct lw_store *s, int64_t id, lw_store_rule_cb cb, void *opaque)
{
    return LW_STORE_CALL(get_rule, s, id, cb, opaque);
}

int lw_store_add_rule(struct lw_store *s, const struct lw_store_rule *r, int64_t *id_out)
{
    return LW_STORE_CALL(add_rule, s, r, id_out);
}

int lw_store_delete_rule(struct lw_store *s, int64_t id)
{
    return LW_STORE_CALL(delete_rule, s, id);
}
