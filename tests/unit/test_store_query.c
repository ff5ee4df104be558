/*
 * Unit tests for the SQLite store's query block that schema step 5 changed: the incidents
 * table kept by triggers (counts, severity, muted alerts, feedback rules resolving and
 * reopening, keyset pages, retention), its backfill when a version 4 store is migrated, the
 * context lines stored with an anomaly, and the overview totals computed from the small tables
 * (lines from the level counts, sources by skip-scan) agreeing with the big ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "lw/lw_err.h"
#include "lw/lw_store.h"

#include "store_fixture.h"

#define NS 1000000000LL
#define T0 (1767225600LL * NS) /* 2026-01-01T00:00:00Z */

static int setup(void **state)
{
    return fixture_setup(state, "/tmp/lw-sq-XXXXXX");
}

static struct lw_store *open_ok(const struct fixture *f)
{
    char err[256] = "";
    struct lw_store_conf conf;
    struct lw_store *s;

    memset(&conf, 0, sizeof(conf));
    conf.retention_s = 86400;
    s = lw_store_open(f->dir, &conf, err, sizeof(err));
    if (s == NULL) {
        fail_msg("lw_store_open: %s", err);
    }
    return s;
}

static void raw_exec(const struct fixture *f, const char *sql)
{
    char path[256];
    sqlite3 *db = NULL;
    char *msg = NULL;

    snprintf(path, sizeof(path), "%s/%s", f->dir, LW_STORE_DB_NAME);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fail_msg("%s: %s", sql, msg);
    }
    sqlite3_close(db);
}

/* An anomaly at T0 + @t_s with one alert of @incident; returns the anomaly id. */
static int64_t add(struct lw_store *s, int t_s, const char *incident, const char *severity,
                   const char *state, uint32_t tid, const char *context)
{
    struct lw_store_anomaly a;
    struct lw_store_alert al;
    int64_t id = 0;

    memset(&a, 0, sizeof(a));
    a.ts_ns = T0 + (int64_t)t_s * NS;
    a.detector = "volume";
    a.score = 1;
    a.template_id = tid;
    a.source = "web-1";
    a.summary = "spike";
    a.context_json = context;
    assert_int_equal(lw_store_insert_anomaly(s, &a, &id), LW_OK);
    memset(&al, 0, sizeof(al));
    al.anomaly_id = id;
    al.incident = incident;
    al.severity = severity;
    al.state = state;
    al.created_ns = a.ts_ns;
    assert_int_equal(lw_store_insert_alert(s, &al, NULL), LW_OK);
    return id;
}

#define MAX_ROWS 8

struct inc_list {
    size_t n;
    char id[MAX_ROWS][32];
    int64_t first[MAX_ROWS], last[MAX_ROWS];
    uint64_t n_alerts[MAX_ROWS], n_anom[MAX_ROWS];
    char sev[MAX_ROWS][16];
    int64_t rule[MAX_ROWS];
    char summary[MAX_ROWS][32];
};

static int inc_cb(void *opaque, const struct lw_store_incident_row *r)
{
    struct inc_list *l = opaque;

    assert_true(l->n < MAX_ROWS);
    snprintf(l->id[l->n], sizeof(l->id[0]), "%s", r->incident);
    l->first[l->n] = r->first_ns;
    l->last[l->n] = r->last_ns;
    l->n_alerts[l->n] = r->n_alerts;
    l->n_anom[l->n] = r->n_anomalies;
    snprintf(l->sev[l->n], sizeof(l->sev[0]), "%s", r->severity);
    l->rule[l->n] = r->rule_id;
    snprintf(l->summary[l->n], sizeof(l->summary[0]), "%s", r->summary ? r->summary : "");
    l->n++;
    return 0;
}

static void list(struct lw_store *s, const char *state, struct inc_list *l)
{
    struct lw_store_filter f;

    memset(&f, 0, sizeof(f));
    memset(l, 0, sizeof(*l));
    f.from_ns = T0;
    f.to_ns = T0 + 86400 * NS;
    f.state = state;
    f.limit = 100;
    assert_int_equal(lw_store_list_incidents(s, &f, inc_cb, l), LW_OK);
}

static void fill(struct lw_store *s)
{
    struct lw_store_alert al;
    int64_t id;

    assert_int_equal(lw_store_begin(s), LW_OK);
    add(s, 10, "inc-a", "warning", "sent", 1, NULL);
    id = add(s, 30, "inc-a", "critical", "sent", 1, NULL);
    /* A second alert of the same anomaly counts as an alert, not as another anomaly. */
    memset(&al, 0, sizeof(al));
    al.anomaly_id = id;
    al.incident = "inc-a";
    al.severity = "warning";
    al.state = "sent";
    al.created_ns = T0;
    assert_int_equal(lw_store_insert_alert(s, &al, NULL), LW_OK);
    add(s, 20, "inc-b", "warning", "sent", 2, NULL);
    /* Muted alerts belong to no incident. */
    add(s, 40, "inc-c", "warning", "muted", 3, NULL);
    assert_int_equal(lw_store_commit(s), LW_OK);
}

static void check_filled(struct inc_list *l)
{
    assert_int_equal(l->n, 2);
    /* Newest last anomaly first. */
    assert_string_equal(l->id[0], "inc-a");
    assert_int_equal(l->first[0], T0 + 10 * NS);
    assert_int_equal(l->last[0], T0 + 30 * NS);
    assert_int_equal(l->n_alerts[0], 3);
    assert_int_equal(l->n_anom[0], 2);
    assert_string_equal(l->sev[0], "critical");
    assert_string_equal(l->summary[0], "spike");
    assert_string_equal(l->id[1], "inc-b");
    assert_int_equal(l->n_alerts[1], 1);
    assert_string_equal(l->sev[1], "warning");
}

static void test_incidents_kept(void **state)
{
    struct fixture *f = *state;
    struct lw_store_rule r;
    struct lw_store_totals t;
    struct lw_store_filter fl;
    struct inc_list l;
    struct lw_store *s = open_ok(f);
    int64_t rid = 0;

    fill(s);
    list(s, NULL, &l);
    check_filled(&l);

    /* Keyset: the page after inc-a holds inc-b only. */
    memset(&fl, 0, sizeof(fl));
    memset(&l, 0, sizeof(l));
    fl.from_ns = T0;
    fl.to_ns = T0 + 86400 * NS;
    fl.limit = 100;
    fl.has_after = 1;
    fl.after_ts = T0 + 30 * NS;
    fl.after_key = "inc-a";
    assert_int_equal(lw_store_list_incidents(s, &fl, inc_cb, &l), LW_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.id[0], "inc-b");

    /* A range that ends before inc-a began does not list it; one that meets its span does. */
    fl.has_after = 0;
    fl.to_ns = T0 + 15 * NS;
    memset(&l, 0, sizeof(l));
    assert_int_equal(lw_store_list_incidents(s, &fl, inc_cb, &l), LW_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.id[0], "inc-a");

    assert_int_equal(lw_store_totals(s, T0, T0 + 86400 * NS, &t), LW_OK);
    assert_int_equal(t.open_incidents, 2);
    assert_int_equal(t.anomalies, 4);

    /* A feedback rule made from inc-b resolves it; deleting the rule opens it again. */
    memset(&r, 0, sizeof(r));
    r.kind = "false_positive";
    r.template_id = 2;
    r.incident = "inc-b";
    r.created_ns = T0;
    assert_int_equal(lw_store_add_rule(s, &r, &rid), LW_OK);
    list(s, "open", &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.id[0], "inc-a");
    list(s, "resolved", &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.id[0], "inc-b");
    assert_int_equal(l.rule[0], rid);
    assert_int_equal(lw_store_totals(s, T0, T0 + 86400 * NS, &t), LW_OK);
    assert_int_equal(t.open_incidents, 1);
    assert_int_equal(lw_store_delete_rule(s, rid), LW_OK);
    list(s, "open", &l);
    assert_int_equal(l.n, 2);

    /* Retention deletes an incident whose last anomaly is older than the cut. */
    assert_int_equal(lw_store_prune(s, T0 + 86400 * NS + 25 * NS, NULL), LW_OK);
    list(s, NULL, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.id[0], "inc-a");
    lw_store_close(s);
}

/* What schema step 7 added, so that a test can make an older store. */
#define SCHEMA7_DROP                                                                    \
    "DROP TRIGGER templates_fts_insert; DROP TRIGGER templates_fts_update;"            \
    "DROP TRIGGER templates_fts_delete; DROP TABLE templates_fts;"                      \
    "DROP TABLE sources; DROP TABLE source_hours; DROP TABLE source_templates;"           \
    "DROP TABLE min5_level_counts; DROP TRIGGER anomaly_buckets_insert;"                 \
    "DROP TRIGGER anomaly_buckets_delete; DROP TABLE anomaly_buckets;"                  \
    "DROP INDEX IF EXISTS incidents_open;"

/* A store of schema 5 (no incidents table) gets its incidents from its alerts when migrated. */
static void test_incidents_backfilled(void **state)
{
    struct fixture *f = *state;
    struct inc_list l;
    struct lw_store *s = open_ok(f);

    fill(s);
    lw_store_close(s);
    raw_exec(f, "DROP TRIGGER incidents_on_alert; DROP TRIGGER incidents_on_rule;"
                "DROP TRIGGER incidents_on_rule_delete; DROP TABLE incidents;"
                "DROP TABLE hour_counts; DROP TABLE hour_level_counts;"
                "DROP TABLE hour_source_counts;"
                "ALTER TABLE anomalies DROP COLUMN context;"
                SCHEMA7_DROP
                "UPDATE meta SET value = 5 WHERE key = 'schema_version'");
    s = open_ok(f);
    list(s, NULL, &l);
    check_filled(&l);
    lw_store_close(s);
}

struct ctx_seen {
    char json[256];
    int n;
};

static int anomaly_cb(void *opaque, const struct lw_store_anomaly_row *r)
{
    struct ctx_seen *c = opaque;

    snprintf(c->json, sizeof(c->json), "%s", r->context_json ? r->context_json : "(null)");
    c->n++;
    return 0;
}

static void test_context_round_trip(void **state)
{
    struct fixture *f = *state;
    struct lw_store *s = open_ok(f);
    struct ctx_seen c;
    const char *ctx = "[{\"time\":1,\"line\":\"a\"},{\"time\":2,\"line\":\"b\"}]";
    int64_t with, without;

    with = add(s, 1, "inc-x", "warning", "sent", 1, ctx);
    without = add(s, 2, "inc-x", "warning", "sent", 1, NULL);
    memset(&c, 0, sizeof(c));
    assert_int_equal(lw_store_get_anomaly(s, with, anomaly_cb, &c), LW_OK);
    assert_string_equal(c.json, ctx);
    assert_int_equal(lw_store_get_anomaly(s, without, anomaly_cb, &c), LW_OK);
    assert_string_equal(c.json, "(null)");
    lw_store_close(s);
}

static void test_totals_from_small_tables(void **state)
{
    struct fixture *f = *state;
    struct lw_store *s = open_ok(f);
    struct lw_store_totals t;
    char src[16];
    int i;

    assert_int_equal(lw_store_begin(s), LW_OK);
    for (i = 0; i < 30; i++) {
        int64_t w = T0 + (int64_t)i * 10 * NS;

        snprintf(src, sizeof(src), "s%02d", i % 7);
        assert_int_equal(lw_store_add_window_count(s, w, 1 + (uint32_t)(i % 3), 5), LW_OK);
        assert_int_equal(lw_store_add_source_count(s, w, 1 + (uint32_t)(i % 3), src, 5), LW_OK);
        assert_int_equal(lw_store_add_level_count(s, w, 2, 4), LW_OK);
        assert_int_equal(lw_store_add_level_count(s, w, 5, 1), LW_OK);
    }
    assert_int_equal(lw_store_commit(s), LW_OK);
    assert_int_equal(lw_store_totals(s, T0, T0 + 300 * NS, &t), LW_OK);
    assert_int_equal(t.lines, 150);
    assert_int_equal(t.sources, 7);
    /* Windows 10..14 (100 s .. 150 s): sources s03..s06 and s00. */
    assert_int_equal(lw_store_totals(s, T0 + 100 * NS, T0 + 150 * NS, &t), LW_OK);
    assert_int_equal(t.lines, 25);
    assert_int_equal(t.sources, 5);
    assert_int_equal(lw_store_totals(s, T0 + 1000 * NS, T0 + 2000 * NS, &t), LW_OK);
    assert_int_equal(t.lines, 0);
    assert_int_equal(t.sources, 0);
    lw_store_close(s);
}

struct pts {
    size_t n;
    int64_t b[64];
    uint64_t c[64];
};

static int pt_cb(void *opaque, int64_t key, int64_t bucket_ns, uint64_t count)
{
    struct pts *p = opaque;

    (void)key;
    assert_true(p->n < 64);
    p->b[p->n] = bucket_ns;
    p->c[p->n] = count;
    p->n++;
    return 0;
}

/* Series with whole-hour steps read the hourly rollups and agree with the windows. */
static void test_hour_rollups(void **state)
{
    struct fixture *f = *state;
    struct lw_store *s = open_ok(f);
    struct lw_store_series_q q;
    struct lw_store_totals t;
    struct pts p;
    int64_t w;
    int i;

    assert_int_equal(lw_store_begin(s), LW_OK);
    /* Six hours, one window every minute: 2 lines of template 1, 1 of template 2 from "a". */
    for (i = 0; i < 6 * 60; i++) {
        w = T0 + (int64_t)i * 60 * NS;
        assert_int_equal(lw_store_add_window_count(s, w, 1, 2), LW_OK);
        assert_int_equal(lw_store_add_window_count(s, w, 2, 1), LW_OK);
        assert_int_equal(lw_store_add_source_count(s, w, 1, "a", 2), LW_OK);
        assert_int_equal(lw_store_add_source_count(s, w, 2, "a", 1), LW_OK);
        assert_int_equal(lw_store_add_level_count(s, w, 2, 3), LW_OK);
    }
    assert_int_equal(lw_store_commit(s), LW_OK);
    /* Rolls the five complete hours before the newest window's hour. */
    assert_int_equal(lw_store_prune(s, T0 + 6 * 3600 * NS, NULL), LW_OK);
    /* The rollup now holds hour 4 of template 1 in full; a late line changes the window only. */
    assert_int_equal(lw_store_add_window_count(s, T0 + 4 * 3600 * NS, 1, 1000), LW_OK);

    memset(&q, 0, sizeof(q));
    q.level = -1;
    q.template_id = 1;
    q.from_ns = T0 + 1800 * NS; /* mid-hour: the first half hour comes from the windows */
    q.to_ns = T0 + 6 * 3600 * NS;
    q.step_ns = 3600 * NS;
    memset(&p, 0, sizeof(p));
    assert_int_equal(lw_store_series(s, &q, pt_cb, &p), LW_OK);
    assert_int_equal(p.n, 6);
    assert_int_equal(p.b[0], T0);
    assert_int_equal(p.c[0], 60);
    assert_int_equal(p.c[1], 120);
    assert_int_equal(p.c[2], 120);
    /* Hour 4 is served from the rollup, rolled before the late line; hour 5 from the windows. */
    assert_int_equal(p.c[4], 120);
    assert_int_equal(p.c[5], 120);
    /* A step that is not whole hours reads the windows: the late line is there. */
    q.step_ns = 1800 * NS;
    memset(&p, 0, sizeof(p));
    assert_int_equal(lw_store_series(s, &q, pt_cb, &p), LW_OK);
    assert_int_equal(p.n, 11);
    assert_int_equal(p.b[7], T0 + 4 * 3600 * NS);
    assert_int_equal(p.c[7], 1060);
    /* The next prune rolls the last hours again and picks the late line up. */
    assert_int_equal(lw_store_prune(s, T0 + 6 * 3600 * NS, NULL), LW_OK);
    q.step_ns = 3600 * NS;
    memset(&p, 0, sizeof(p));
    assert_int_equal(lw_store_series(s, &q, pt_cb, &p), LW_OK);
    assert_int_equal(p.c[4], 1120);
    /* Totals and the all-lines series agree with the level windows. */
    assert_int_equal(lw_store_totals(s, T0 + 1800 * NS, T0 + 6 * 3600 * NS, &t), LW_OK);
    assert_int_equal(t.lines, (6 * 60 - 30) * 3);
    q.template_id = 0;
    memset(&p, 0, sizeof(p));
    assert_int_equal(lw_store_series(s, &q, pt_cb, &p), LW_OK);
    assert_int_equal(p.c[0], 90);
    assert_int_equal(p.c[3], 180);
    q.source = "a";
    memset(&p, 0, sizeof(p));
    assert_int_equal(lw_store_series(s, &q, pt_cb, &p), LW_OK);
    assert_int_equal(p.c[0], 90);
    assert_int_equal(p.c[4], 180);
    /*
     * Levels by 30 minutes: the 5-minute rollups for the rolled hours, the windows after; a
     * line that comes late for a rolled hour is in the windows, not in the rollups.
     */
    assert_int_equal(lw_store_add_level_count(s, T0 + 4 * 3600 * NS, 2, 1000), LW_OK);
    assert_int_equal(lw_store_add_level_count(s, T0 + 5 * 3600 * NS, 2, 1000), LW_OK);
    q.source = NULL;
    q.step_ns = 1800 * NS;
    memset(&p, 0, sizeof(p));
    assert_int_equal(lw_store_series_levels(s, &q, pt_cb, &p), LW_OK);
    assert_int_equal(p.n, 11);
    assert_int_equal(p.b[0], T0 + 1800 * NS);
    assert_int_equal(p.c[0], 90);
    assert_int_equal(p.c[7], 90);   /* T0 + 4 h: rolled */
    assert_int_equal(p.c[9], 1090); /* T0 + 5 h: not rolled, from the windows */
    assert_int_equal(p.c[10], 90);
    lw_store_close(s);
}

static int tpl_cb(void *opaque, const struct lw_store_template_row *r)
{
    (void)r;
    (*(int *)opaque)++;
    return 0;
}

/* Search is a case-insensitive substring: '%', '_' and '\\' in it are plain characters. */
static void test_template_search(void **state)
{
    struct fixture *f = *state;
    struct lw_store *s = open_ok(f);
    struct lw_store_filter fl;
    uint64_t total = 0;
    int n = 0;

    assert_int_equal(lw_store_begin(s), LW_OK);
    assert_int_equal(lw_store_upsert_template(s, 1, "Disk 100% full on <*>", T0, T0, 1), LW_OK);
    assert_int_equal(lw_store_upsert_template(s, 2, "disk 1000 blocks free", T0, T0, 1), LW_OK);
    assert_int_equal(lw_store_upsert_template(s, 3, "user_id <*> in C:\\tmp", T0, T0, 1), LW_OK);
    assert_int_equal(lw_store_upsert_template(s, 4, "userXid <*>", T0, T0, 1), LW_OK);
    assert_int_equal(lw_store_commit(s), LW_OK);
    memset(&fl, 0, sizeof(fl));
    fl.limit = 10;
    assert_int_equal(lw_store_list_templates(s, "DISK", LW_STORE_TSORT_ID, 0, &fl, tpl_cb, &n,
                                             &total), LW_OK);
    assert_int_equal(n, 2);
    assert_int_equal(total, 2);
    n = 0;
    assert_int_equal(lw_store_list_templates(s, "100%", LW_STORE_TSORT_ID, 0, &fl, tpl_cb, &n,
                                             &total), LW_OK);
    assert_int_equal(n, 1);
    assert_int_equal(total, 1);
    n = 0;
    assert_int_equal(lw_store_list_templates(s, "user_", LW_STORE_TSORT_ID, 0, &fl, tpl_cb, &n,
                                             &total), LW_OK);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(lw_store_list_templates(s, "c:\\TMP", LW_STORE_TSORT_ID, 0, &fl, tpl_cb,
                                             &n, &total), LW_OK);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(lw_store_list_templates(s, NULL, LW_STORE_TSORT_ID, 0, &fl, tpl_cb, &n,
                                             &total), LW_OK);
    assert_int_equal(n, 4);
    assert_int_equal(total, 4);
    /* A template whose text changes is found by its new text only (the index follows). */
    assert_int_equal(lw_store_begin(s), LW_OK);
    assert_int_equal(lw_store_upsert_template(s, 2, "volume 1000 blocks free", T0, T0, 1),
                     LW_OK);
    assert_int_equal(lw_store_commit(s), LW_OK);
    n = 0;
    assert_int_equal(lw_store_list_templates(s, "disk", LW_STORE_TSORT_ID, 0, &fl, tpl_cb, &n,
                                             &total), LW_OK);
    assert_int_equal(n, 1);
    assert_int_equal(total, 1);
    n = 0;
    assert_int_equal(lw_store_list_templates(s, "VOLUME", LW_STORE_TSORT_ID, 0, &fl, tpl_cb, &n,
                                             &total), LW_OK);
    assert_int_equal(n, 1);
    lw_store_close(s);
}

/*
 * The anomaly chart and total read 5-minute buckets (kept by triggers) for whole 5 minutes and
 * the anomalies themselves at the ends; retention counts deleted anomalies out of the buckets.
 */
static void test_anomaly_buckets(void **state)
{
    struct fixture *f = *state;
    struct lw_store *s = open_ok(f);
    struct lw_store_series_q q;
    struct lw_store_totals t;
    struct pts p;
    static const int at_s[] = {10, 299, 300, 301, 650, 900, 1190, 1199, 1200, 2000};
    size_t i;

    assert_int_equal(lw_store_begin(s), LW_OK);
    for (i = 0; i < sizeof(at_s) / sizeof(at_s[0]); i++) {
        add(s, at_s[i], "inc-a", "warning", "sent", 1, NULL);
    }
    assert_int_equal(lw_store_commit(s), LW_OK);
    memset(&q, 0, sizeof(q));
    q.level = -1;
    q.from_ns = T0 + 200 * NS; /* buckets [300, 1200) whole, the rest from the anomalies */
    q.to_ns = T0 + 1250 * NS;
    q.step_ns = 600 * NS;
    memset(&p, 0, sizeof(p));
    assert_int_equal(lw_store_series_anomalies(s, &q, pt_cb, &p), LW_OK);
    /* [0, 600): 299 300 301; [600, 1200): 650 900 1190 1199; [1200, 1800): 1200. */
    assert_int_equal(p.n, 3);
    assert_int_equal(p.b[0], T0);
    assert_int_equal(p.c[0], 3);
    assert_int_equal(p.c[1], 4);
    assert_int_equal(p.b[2], T0 + 1200 * NS);
    assert_int_equal(p.c[2], 1);
    assert_int_equal(lw_store_totals(s, q.from_ns, q.to_ns, &t), LW_OK);
    assert_int_equal(t.anomalies, 8);
    /* A step that is not whole 5 minutes reads the anomalies alone, with the same answer. */
    q.step_ns = 90 * NS;
    memset(&p, 0, sizeof(p));
    assert_int_equal(lw_store_series_anomalies(s, &q, pt_cb, &p), LW_OK);
    assert_int_equal(p.n, 4); /* 270 s: 3, 630 s: 1, 900 s: 1, 1170 s: 3 */
    assert_int_equal(p.c[0], 3);
    assert_int_equal(p.c[3], 3);
    /* Retention at 301 s takes 10, 299 and 300 out of their buckets. */
    assert_int_equal(lw_store_prune(s, T0 + 301 * NS + lw_store_retention_s(s) * NS, NULL),
                     LW_OK);
    assert_int_equal(lw_store_totals(s, T0, T0 + 3600 * NS, &t), LW_OK);
    assert_int_equal(t.anomalies, 7);
    q.from_ns = T0;
    q.to_ns = T0 + 3600 * NS;
    q.step_ns = 3600 * NS;
    memset(&p, 0, sizeof(p));
    assert_int_equal(lw_store_series_anomalies(s, &q, pt_cb, &p), LW_OK);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.c[0], 7);
    lw_store_close(s);
}

struct src_seen {
    int n;
    char name[8][16];
    uint64_t lines[8];
    uint64_t templates[8];
    int64_t last[8];
};

static int src_cb(void *opaque, const struct lw_store_source_row *r)
{
    struct src_seen *c = opaque;

    if (c->n < 8) {
        snprintf(c->name[c->n], sizeof(c->name[0]), "%s", r->source);
        c->lines[c->n] = r->lines;
        c->templates[c->n] = r->templates;
        c->last[c->n] = r->last_ns;
    }
    c->n++;
    return 0;
}

/* Sources over [T0 + 30 min, T0 + 150 min): whole hour 1 and the partial hours 0 and 2. */
static void check_sources(struct lw_store *s)
{
    struct lw_store_filter fl;
    struct src_seen c;
    int64_t h = 3600 * NS;

    memset(&fl, 0, sizeof(fl));
    memset(&c, 0, sizeof(c));
    fl.from_ns = T0 + h / 2;
    fl.to_ns = T0 + 2 * h + h / 2;
    fl.limit = 10;
    assert_int_equal(lw_store_list_sources(s, &fl, src_cb, &c), LW_OK);
    assert_int_equal(c.n, 2);
    /* "a": 3 lines at +40 min (tpl 1), 4 at +70 min (tpl 2), 5 at +140 min (tpl 1). */
    assert_string_equal(c.name[0], "a");
    assert_int_equal(c.lines[0], 12);
    assert_int_equal(c.templates[0], 2);
    assert_int_equal(c.last[0], T0 + 140 * 60 * NS);
    /* "b": 2 lines at +90 min; its lines at +10 min and +160 min are outside. */
    assert_string_equal(c.name[1], "b");
    assert_int_equal(c.lines[1], 2);
    assert_int_equal(c.templates[1], 1);
    assert_int_equal(c.last[1], T0 + 90 * 60 * NS);
    /* "c" was seen only before the range; a cursor after "a" gives "b" alone. */
    memset(&c, 0, sizeof(c));
    fl.has_after = 1;
    fl.after_key = "a";
    assert_int_equal(lw_store_list_sources(s, &fl, src_cb, &c), LW_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.name[0], "b");
    /* From +5 min: the first hour is its row less its first 5 minutes. */
    memset(&c, 0, sizeof(c));
    fl.has_after = 0;
    fl.from_ns = T0 + h / 12;
    assert_int_equal(lw_store_list_sources(s, &fl, src_cb, &c), LW_OK);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.lines[0], 12);
    assert_string_equal(c.name[1], "b");
    assert_int_equal(c.lines[1], 11);
    assert_int_equal(c.last[1], T0 + 90 * 60 * NS);
    assert_string_equal(c.name[2], "c");
    assert_int_equal(c.lines[2], 1);
    assert_int_equal(c.last[2], T0 + 20 * 60 * NS);
    /* Within one hour: its windows alone. */
    memset(&c, 0, sizeof(c));
    fl.from_ns = T0 + 15 * 60 * NS;
    fl.to_ns = T0 + 45 * 60 * NS;
    assert_int_equal(lw_store_list_sources(s, &fl, src_cb, &c), LW_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.name[0], "a");
    assert_int_equal(c.lines[0], 3);
    assert_string_equal(c.name[1], "c");
}

static void test_sources_summaries(void **state)
{
    struct fixture *f = *state;
    struct lw_store *s = open_ok(f);
    int64_t m = 60 * NS;

    /* Several transactions, one count outside any (each statement commits by itself). */
    assert_int_equal(lw_store_begin(s), LW_OK);
    assert_int_equal(lw_store_add_source_count(s, T0 + 10 * m, 1, "b", 9), LW_OK);
    assert_int_equal(lw_store_add_source_count(s, T0 + 20 * m, 3, "c", 1), LW_OK);
    assert_int_equal(lw_store_add_source_count(s, T0 + 40 * m, 1, "a", 1), LW_OK);
    assert_int_equal(lw_store_add_source_count(s, T0 + 40 * m, 1, "a", 2), LW_OK);
    assert_int_equal(lw_store_commit(s), LW_OK);
    assert_int_equal(lw_store_add_source_count(s, T0 + 70 * m, 2, "a", 4), LW_OK);
    /* A rolled-back transaction leaves nothing. */
    assert_int_equal(lw_store_begin(s), LW_OK);
    assert_int_equal(lw_store_add_source_count(s, T0 + 80 * m, 5, "a", 100), LW_OK);
    assert_int_equal(lw_store_rollback(s), LW_OK);
    assert_int_equal(lw_store_begin(s), LW_OK);
    assert_int_equal(lw_store_add_source_count(s, T0 + 90 * m, 1, "b", 2), LW_OK);
    assert_int_equal(lw_store_add_source_count(s, T0 + 140 * m, 1, "a", 5), LW_OK);
    assert_int_equal(lw_store_add_source_count(s, T0 + 160 * m, 1, "b", 7), LW_OK);
    assert_int_equal(lw_store_commit(s), LW_OK);
    check_sources(s);
    lw_store_close(s);
    /* A store of schema 6 gets the same summaries from its windows when migrated. */
    raw_exec(f, SCHEMA7_DROP "UPDATE meta SET value = 6 WHERE key = 'schema_version'");
    s = open_ok(f);
    check_sources(s);
    lw_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_incidents_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incidents_backfilled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_totals_from_small_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hour_rollups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_template_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sources_summaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anomaly_buckets, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
