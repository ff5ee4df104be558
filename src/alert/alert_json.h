/*
 * The JSON shapes of an alert, shared by the sinks (plugins/out_*): the generic object written
 * by the file sink and the webhook's "json" format, and the Prometheus Alertmanager v2 body.
 * Internal to the alert manager and its plugins, hence the lw__ prefix.
 */
#ifndef LW_ALERT_JSON_H
#define LW_ALERT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "lw/lw_alert.h"

/* Writes @ns (epoch nanoseconds, UTC) as "2026-01-01T00:00:00.000Z" into @buf (>= 32 bytes). */
void lw__alert_rfc3339(int64_t ns, char *buf, size_t len);

/*
 * The time an alert is about: the finding's event time (anomaly->ts_ns), or the alert's
 * wall-clock created_ns when the finding has none (0 or INT64_MIN).
 */
int64_t lw__alert_event_ns(const struct lw_alert_msg *m);

/*
 * What was held back before @m, for people: "12 more like this suppressed in the last 5 min;
 * 59 findings limited since the previous alert" (either part alone), or "" when nothing was.
 * Writes at most @len bytes (NUL included) into @buf and returns @buf.
 */
const char *lw__alert_held_back(const struct lw_alert_msg *m, char *buf, size_t len);

/*
 * One alert as a compact JSON object on one line: alert_seq, incident, severity, created (RFC
 * 3339), created_ns, detector, kind, score, ts, ts_ns, arrival_ns, template_id, source, key,
 * summary, explanation (the detector's JSON object, or its text when it does not parse),
 * samples (an array, or null), suppressed_since_last and limited_since_last (lw_alert_msg).
 * Every string is valid UTF-8 (bad bytes become U+FFFD). Returns an lw_malloc'd string (the
 * caller lw_frees it) with its length in *@len, or NULL when out of memory.
 */
char *lw__alert_json(const struct lw_alert_msg *m, size_t *len);

/*
 * The body of a POST to Alertmanager's /api/v2/alerts: a JSON array of one alert with labels
 * (alertname, detector, kind, severity, template_id, source, key, incident), annotations
 * (summary, description = the explanation, score, created = the alert's wall-clock time) and
 * startsAt (the finding's event time). Same ownership as above.
 */
char *lw__alert_am_json(const struct lw_alert_msg *m, size_t *len);

/* @json compacted onto one line (an lw_malloc'd string), or a copy of it when it does not parse. */
char *lw__alert_json_compact(const char *json);

#endif
