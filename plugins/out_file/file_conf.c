/* out_file's keys in an entry of alerts.sinks (docs/config.md): the file to append to. */
#include "lw/lw_alert.h"
#include "lw/lw_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"
#include "file_conf.h"

const char *const file_conf_keys[] = {"path", NULL};

int file_conf_read(const struct lw_conf *c, const struct lw_conf_node *entry,
                   struct lw_sink_conf *out, struct lw_conf_err *err)
{
    const char *path = NULL;
    int rc = lw_conf_str(c, entry, "path", &path, err);

    if (rc < 0) {
        return rc;
    }
    if (path == NULL || path[0] == '\0') {
        return lw_conf_errf(c, entry, err, "a file sink needs a path");
    }
    out->path = lw_strdup(path);
    return out->path != NULL ? LW_OK : lw_conf_errf(c, entry, err, "out of memory");
}
