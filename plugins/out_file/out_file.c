/*
 * out_file: alerts appended to a JSONL file, one JSON object per line (alert_json.h: the same
 * object the webhook's json format posts). Each alert is flushed and fdatasync'd before the
 * next: alerts are rate-limited, so durability costs little. When the path is renamed or
 * deleted under it (logrotate), the next alert reopens the path.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert/alert_json.h"
#include "lw/lw_alert.h"
#include "file_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"

struct out_file {
    const struct lw_sink_conf *conf;
    FILE *f;
    dev_t dev;                     /* of the open file, to notice a rotation */
    ino_t ino;
};

static int file_open(struct out_file *o)
{
    struct stat sb;

    o->f = fopen(o->conf->path, "a");
    if (o->f == NULL) {
        return LW_EIO;
    }
    if (fstat(fileno(o->f), &sb) == 0) {
        o->dev = sb.st_dev;
        o->ino = sb.st_ino;
    }
    return LW_OK;
}

static void *file_init(const struct lw_sink_conf *conf, const struct lw_sink_env *env, char *err,
                       size_t err_len)
{
    struct out_file *o = lw_calloc(1, sizeof(*o));

    (void)env;
    if (o == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    o->conf = conf;
    if (file_open(o) < 0) {
        snprintf(err, err_len, "%s: %s", conf->path, strerror(errno));
        lw_free(o);
        return NULL;
    }
    return o;
}

/* Reopens the path when the open file is no longer it (rotated away, deleted). */
static int file_check_rotation(struct out_file *o)
{
    struct stat sb;

    if (o->f != NULL && stat(o->conf->path, &sb) == 0 && sb.st_dev == o->dev &&
        sb.st_ino == o->ino) {
        return LW_OK;
    }
    if (o->f != NULL) {
        fclose(o->f);
        o->f = NULL;
    }
    return file_open(o);
}

static int file_deliver(void *ctx, const struct lw_alert_msg *m)
{
    struct out_file *o = ctx;
    size_t len = 0;
    char *line;
    int rc = LW_OK;

    if (file_check_rotation(o) < 0) {
        return LW_EIO;
    }
    line = lw__alert_json(m, &len);
    if (line == NULL) {
        return LW_ENOMEM;
    }
    if (fwrite(line, 1, len, o->f) != len || fputc('\n', o->f) == EOF || fflush(o->f) != 0 ||
        fdatasync(fileno(o->f)) != 0) {
        rc = LW_EIO;
        /* Start over on a fresh stream rather than keep a failed one's buffer. */
        fclose(o->f);
        o->f = NULL;
    }
    lw_free(line);
    return rc;
}

static void file_exit(void *ctx)
{
    struct out_file *o = ctx;

    if (o == NULL) {
        return;
    }
    if (o->f != NULL) {
        fclose(o->f);
    }
    lw_free(o);
}

const struct lw_sink_plugin out_file_plugin = {
    .abi = LW_SINK_ABI,
    .name = "file",
    .kind = LW_SINK_FILE,
    .init = file_init,
    .deliver = file_deliver,
    .exit = file_exit,
    .conf_keys = file_conf_keys,
    .conf = file_conf_read,
};
