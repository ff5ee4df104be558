/*
 * out_stdout: alerts for a person watching a terminal, two lines each and flushed at once:
 *
 *   2026-01-01T00:00:05.000Z CRITICAL volume/spike inc-1f2e... tpl=12 src=web1 score=0.99999: ...
 *     why: {"expected":12.5,"observed":480}
 *
 * The first line ends with what was held back since the previous alert, when something was:
 * "(12 more like this suppressed in the last 5 min; 59 findings limited since the previous
 * alert)".
 *
 * The leading time is the finding's event time (when it happened in the logs, so a backfill
 * reads like the history it replays); the wall-clock time of the alert is in the JSON sinks.
 * Every field is escaped (alert_text.h): whatever a log line holds, an alert is two lines.
 *
 * Only this sink's thread writes to stdout; the daemon's own diagnostics go to stderr.
 */
#include <stdio.h>
#include <string.h>

#include "alert/alert_json.h"
#include "alert/alert_text.h"
#include "lw/lw_alert.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

/* The sink has no state; a non-NULL context says it started. */
static int stdout_ctx;

static void *stdout_init(const struct lw_sink_conf *conf, const struct lw_sink_env *env,
                         char *err, size_t err_len)
{
    (void)conf;
    (void)env;
    (void)err;
    (void)err_len;
    return &stdout_ctx;
}

/* Writes " @label@value" when @value is set, escaped (alert_text.h). */
static void field(const char *label, const char *value)
{
    if (value != NULL && value[0] != '\0') {
        fputs(label, stdout);
        lw__alert_fputs_safe(value, stdout);
    }
}

static int stdout_deliver(void *ctx, const struct lw_alert_msg *m)
{
    const struct lw_anomaly *a = m->anomaly;
    char when[40];
    char held[160];
    char *why = NULL;
    int rc;

    (void)ctx;
    /*
     * Every field may come from a log line (a host name in NDJSON, a session key, a summary
     * quoting a line), so every one is escaped: a "\n" in it must not start a forged alert
     * line and an ESC must not reach the terminal.
     */
    lw__alert_rfc3339(lw__alert_event_ns(m), when, sizeof(when));
    printf("%s %s ", when,
           m->severity != NULL && strcmp(m->severity, "critical") == 0 ? "CRITICAL" : "WARNING");
    lw__alert_fputs_safe(a->detector != NULL ? a->detector : "?", stdout);
    fputc('/', stdout);
    lw__alert_fputs_safe(a->kind != NULL ? a->kind : "?", stdout);
    field(" ", m->incident);
    if (a->template_id != 0) {
        printf(" tpl=%u", (unsigned)a->template_id);
    }
    field(" src=", a->source);
    field(" key=", a->key);
    printf(" score=%.6f: ", a->score);
    lw__alert_fputs_safe(a->summary, stdout);
    if (lw__alert_held_back(m, held, sizeof(held))[0] != '\0') {
        printf(" (%s)", held);
    }
    fputc('\n', stdout);
    if (a->explanation_json != NULL) {
        why = lw__alert_json_compact(a->explanation_json);
        fputs("  why: ", stdout);
        lw__alert_fputs_safe(why != NULL ? why : a->explanation_json, stdout);
        fputc('\n', stdout);
        lw_free(why);
    }
    rc = fflush(stdout) == 0 && !ferror(stdout) ? LW_OK : LW_EIO;
    if (rc != LW_OK) {
        clearerr(stdout);
    }
    return rc;
}

static void stdout_exit(void *ctx)
{
    (void)ctx;
    fflush(stdout);
}

/* The stdout sink takes only the keys every sink has (type, name, queue). */
static const char *const stdout_conf_keys[] = {NULL};

const struct lw_sink_plugin out_stdout_plugin = {
    .abi = LW_SINK_ABI,
    .name = "stdout",
    .kind = LW_SINK_STDOUT,
    .init = stdout_init,
    .deliver = stdout_deliver,
    .exit = stdout_exit,
    .conf_keys = stdout_conf_keys,
};
