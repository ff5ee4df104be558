/*
 * JSON renderings of an alert (alert_json.h), built with jansson. The detector hands over its
 * explanation and samples as JSON text; they are parsed here so that a sink's output nests them
 * as real JSON values instead of strings inside strings. Text that does not parse is kept as a
 * string: a detector bug must not lose an alert.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "alert/alert_json.h"
#include "alert/alert_text.h"
#include "lw/lw_mem.h"

#define NS_PER_S 1000000000LL

void lw__alert_rfc3339(int64_t ns, char *buf, size_t len)
{
    struct tm tm;
    time_t s;
    int64_t ms;
    char day[24];

    /* Floor division so that times before 1970 still print a valid instant. */
    s = (time_t)(ns / NS_PER_S);
    ms = (ns % NS_PER_S) / 1000000;
    if (ms < 0) {
        ms += 1000;
        s -= 1;
    }
    if (gmtime_r(&s, &tm) == NULL) {
        snprintf(buf, len, "1970-01-01T00:00:00.000Z");
        return;
    }
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", day, (int)ms);
}

int64_t lw__alert_event_ns(const struct lw_alert_msg *m)
{
    int64_t ts = m->anomaly != NULL ? m->anomaly->ts_ns : 0;

    return ts != 0 && ts != INT64_MIN ? ts : m->created_ns;
}

/*
 * A JSON string of @s: bytes that are not valid UTF-8 become U+FFFD (jansson refuses them, and
 * an alert must not be lost to a stray byte in a log line). Control characters need nothing
 * here: jansson escapes them. NULL when out of memory.
 */
static json_t *jstr(const char *s)
{
    char *fixed = lw__alert_utf8_fix(s, NULL);
    json_t *v = json_string(fixed != NULL ? fixed : s);

    lw_free(fixed);
    return v;
}

/* @ns as a rounded human duration: "45 s", "5 min", "3 h", "2 d". */
static void duration(int64_t ns, char *buf, size_t len)
{
    int64_t s = (ns + NS_PER_S / 2) / NS_PER_S;

    if (s < 120) {
        snprintf(buf, len, "%" PRId64 " s", s);
    }
    else if (s < 120 * 60) {
        snprintf(buf, len, "%" PRId64 " min", (s + 30) / 60);
    }
    else if (s < 48 * 3600) {
        snprintf(buf, len, "%" PRId64 " h", (s + 1800) / 3600);
    }
    else {
        snprintf(buf, len, "%" PRId64 " d", (s + 43200) / 86400);
    }
}

const char *lw__alert_held_back(const struct lw_alert_msg *m, char *buf, size_t len)
{
    char span[32];
    int n = 0;

    if (len == 0) {
        return buf;
    }
    buf[0] = '\0';
    if (m->suppressed_since_last > 0) {
        duration(m->suppressed_span_ns, span, sizeof(span));
        n = snprintf(buf, len, "%" PRIu64 " more like this suppressed in the last %s",
                     m->suppressed_since_last, span);
    }
    if (m->limited_since_last > 0 && n >= 0 && (size_t)n < len) {
        snprintf(buf + n, len - (size_t)n,
                 "%s%" PRIu64 " finding%s limited since the previous alert", n > 0 ? "; " : "",
                 m->limited_since_last, m->limited_since_last == 1 ? "" : "s");
    }
    return buf;
}

/* A string value, or JSON null for NULL. */
static json_t *str_or_null(const char *s)
{
    return s != NULL ? jstr(s) : json_null();
}

/* Parses @text as JSON; text that does not parse stays a string, NULL becomes null. */
static json_t *embedded(const char *text)
{
    json_t *v;

    if (text == NULL) {
        return json_null();
    }
    v = json_loads(text, JSON_DECODE_ANY, NULL);
    return v != NULL ? v : jstr(text);
}

/* json_dumpb into an lw_malloc'd, NUL-ended buffer (so the caller frees with lw_free). */
static char *dump(json_t *v, size_t *len)
{
    size_t need;
    char *out;
    const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10);

    need = json_dumpb(v, NULL, 0, flags);
    if (need == 0) {
        return NULL;
    }
    out = lw_malloc(need + 1);
    if (out == NULL) {
        return NULL;
    }
    if (json_dumpb(v, out, need, flags) != need) {
        lw_free(out);
        return NULL;
    }
    out[need] = '\0';
    if (len != NULL) {
        *len = need;
    }
    return out;
}

char *lw__alert_json(const struct lw_alert_msg *m, size_t *len)
{
    const struct lw_anomaly *a = m->anomaly;
    char created[40];
    char ts[40];
    json_t *o;
    char *out;

    lw__alert_rfc3339(m->created_ns, created, sizeof(created));
    lw__alert_rfc3339(a->ts_ns, ts, sizeof(ts));
    o = json_object();
    if (o == NULL) {
        return NULL;
    }
    /* json_object_set_new() takes the reference even on failure, so no value leaks. */
    json_object_set_new(o, "alert_seq", json_integer((json_int_t)m->alert_seq));
    json_object_set_new(o, "incident", str_or_null(m->incident));
    json_object_set_new(o, "severity", str_or_null(m->severity));
    json_object_set_new(o, "created", json_string(created));
    json_object_set_new(o, "created_ns", json_integer(m->created_ns));
    json_object_set_new(o, "detector", str_or_null(a->detector));
    json_object_set_new(o, "kind", str_or_null(a->kind));
    json_object_set_new(o, "score", json_real(a->score));
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "ts_ns", json_integer(a->ts_ns));
    json_object_set_new(o, "arrival_ns", json_integer(a->arrival_ns));
    json_object_set_new(o, "template_id", json_integer(a->template_id));
    json_object_set_new(o, "source", str_or_null(a->source));
    json_object_set_new(o, "key", str_or_null(a->key));
    json_object_set_new(o, "summary", str_or_null(a->summary));
    json_object_set_new(o, "explanation", embedded(a->explanation_json));
    json_object_set_new(o, "samples", embedded(a->samples_json));
    json_object_set_new(o, "suppressed_since_last",
                        json_integer((json_int_t)m->suppressed_since_last));
    json_object_set_new(o, "limited_since_last", json_integer((json_int_t)m->limited_since_last));
    out = dump(o, len);
    json_decref(o);
    return out;
}

/* Alertmanager drops labels with empty values, so absent fields are simply left out. */
static void label(json_t *labels, const char *name, const char *value)
{
    if (value != NULL && value[0] != '\0') {
        json_object_set_new(labels, name, jstr(value));
    }
}

char *lw__alert_am_json(const struct lw_alert_msg *m, size_t *len)
{
    const struct lw_anomaly *a = m->anomaly;
    char starts[40];
    char created[40];
    char tpl[16];
    char score[32];
    char held[160];
    char n_sup[24];
    char n_lim[24];
    json_t *arr;
    json_t *alert;
    json_t *labels;
    json_t *ann;
    char *desc;
    char *out;

    arr = json_array();
    alert = json_object();
    labels = json_object();
    ann = json_object();
    if (arr == NULL || alert == NULL || labels == NULL || ann == NULL) {
        json_decref(arr);
        json_decref(alert);
        json_decref(labels);
        json_decref(ann);
        return NULL;
    }
    /* Event time: a replayed finding starts when it happened, not when it was replayed. */
    lw__alert_rfc3339(lw__alert_event_ns(m), starts, sizeof(starts));
    lw__alert_rfc3339(m->created_ns, created, sizeof(created));
    snprintf(tpl, sizeof(tpl), "%" PRIu32, a->template_id);
    snprintf(score, sizeof(score), "%.6f", a->score);

    /* One alertname for every logwarden alert: routes match on it, detector/kind refine. */
    label(labels, "alertname", "LogwardenAnomaly");
    label(labels, "detector", a->detector);
    label(labels, "kind", a->kind);
    label(labels, "severity", m->severity);
    if (a->template_id != 0) {
        label(labels, "template_id", tpl);
    }
    label(labels, "source", a->source);
    label(labels, "key", a->key);
    label(labels, "incident", m->incident);

    desc = a->explanation_json != NULL ? lw__alert_json_compact(a->explanation_json) : NULL;
    label(ann, "summary", a->summary);
    label(ann, "description", desc);
    label(ann, "score", score);
    label(ann, "created", created);
    /* Only when something was held back (empty annotations are dropped anyway). */
    if (m->suppressed_since_last > 0) {
        snprintf(n_sup, sizeof(n_sup), "%" PRIu64, m->suppressed_since_last);
        label(ann, "suppressed_since_last", n_sup);
    }
    if (m->limited_since_last > 0) {
        snprintf(n_lim, sizeof(n_lim), "%" PRIu64, m->limited_since_last);
        label(ann, "limited_since_last", n_lim);
    }
    label(ann, "held_back", lw__alert_held_back(m, held, sizeof(held)));
    lw_free(desc);

    json_object_set_new(alert, "labels", labels);
    json_object_set_new(alert, "annotations", ann);
    json_object_set_new(alert, "startsAt", json_string(starts));
    json_array_append_new(arr, alert);
    out = dump(arr, len);
    json_decref(arr);
    return out;
}

char *lw__alert_json_compact(const char *json)
{
    json_t *v;
    char *out;

    v = json_loads(json, JSON_DECODE_ANY, NULL);
    if (v == NULL) {
        return lw_strdup(json);
    }
    out = dump(v, NULL);
    json_decref(v);
    return out;
}
