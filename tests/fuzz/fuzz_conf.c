/*
 * libFuzzer target for the configuration loader (lw_conf.h): the YAML file is outside data. The
 * input is loaded as a tree; a failed load must leave a message that starts with the file name.
 * A loaded tree is walked (every node has a path and a line, counts match, nesting stays within
 * LW_CONF_MAX_DEPTH), every scalar goes through every typed getter, and each plugin's section
 * reader (inputs.<name>, detect.<name>, each alerts.sinks entry, and the store's) reads its
 * section, as the daemon would. Seeds: tests/data/fuzz/conf/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lw/lw_alert.h"
#include "lw/lw_conf.h"
#include "lw/lw_detect.h"
#include "lw/lw_plugin.h"
#include "lw/lw_store.h"

static void check(int ok)
{
    if (!ok) {
        abort();
    }
}

static void walk(const struct lw_conf *c, const struct lw_conf_node *n, unsigned depth)
{
    const struct lw_conf_node *k;
    struct lw_conf_err err;
    const char *s;
    uint64_t u;
    int64_t d;
    size_t z;
    double x;
    bool b;
    size_t count = 0;

    check(depth <= LW_CONF_MAX_DEPTH + 1);
    check(n->path != NULL && n->line >= 1 && n->col >= 1);
    check(n->type != LW_CONF_SCALAR || n->value != NULL);
    for (k = n->child; k != NULL; k = k->next) {
        count++;
        check(n->type != LW_CONF_MAP || (k->key != NULL && lw_conf_get(n, k->key) == k));
        if (n->type == LW_CONF_MAP) {
            /* Each getter either reads, finds nothing, or explains with the file's name. */
            err.msg[0] = '\0';
            if (lw_conf_str(c, n, k->key, &s, &err) < 0 ||
                lw_conf_bool(c, n, k->key, &b, &err) < 0 ||
                lw_conf_uint(c, n, k->key, 1, 1000, &u, &err) < 0 ||
                lw_conf_duration(c, n, k->key, 0, &d, &err) < 0 ||
                lw_conf_size(c, n, k->key, &z, &err) < 0 ||
                lw_conf_number(c, n, k->key, 0, true, 1, "p", &x, &err) < 0) {
                check(strncmp(err.msg, "fuzz.yaml:", 10) == 0);
            }
        }
        walk(c, k, depth + 1);
    }
    check(count == n->n_children);
}

static void sections(const struct lw_conf *c)
{
    const struct lw_conf_node *root = lw_conf_root(c);
    const struct lw_conf_node *sec;
    const struct lw_conf_node *it;
    struct lw_input_conf ic;
    struct lw_detect_conf dc;
    struct lw_alert_conf ac;
    struct lw_conf_err err;
    size_t i;

    memset(&ic, 0, sizeof(ic));
    for (i = 0; lw_input_plugins[i] != NULL; i++) {
        sec = NULL;
        if (lw_input_plugins[i]->conf != NULL &&
            lw_conf_map(c, lw_conf_get(root, "inputs"), lw_input_plugins[i]->name, &sec,
                        &err) == 1) {
            (void)lw_conf_check_keys(c, sec, lw_input_plugins[i]->conf_keys, &err);
            (void)lw_input_plugins[i]->conf(c, sec, &ic, &err);
        }
    }
    lw_detect_conf_defaults(&dc, 10000000000LL);
    for (i = 0; lw_detector_plugins[i] != NULL; i++) {
        sec = NULL;
        if (lw_detector_plugins[i]->conf != NULL &&
            lw_conf_map(c, lw_conf_get(root, "detect"), lw_detector_plugins[i]->name, &sec,
                        &err) == 1) {
            (void)lw_detector_plugins[i]->conf(c, sec, &dc, &err);
        }
    }
    lw_detect_conf_fini(&dc);
    {
        struct lw_store_conf sc;

        memset(&sc, 0, sizeof(sc));
        sec = NULL;
        if (lw_conf_map(c, root, "store", &sec, &err) == 1) {
            (void)lw_store_conf_read(c, sec, &sc, &err);
        }
    }
    lw_alert_conf_defaults(&ac);
    sec = lw_conf_get(lw_conf_get(root, "alerts"), "sinks");
    for (it = sec != NULL && sec->type == LW_CONF_SEQ ? sec->child : NULL;
         it != NULL && ac.n_sinks < LW_ALERT_MAX_SINKS; it = it->next) {
        for (i = 0; lw_sink_plugins[i] != NULL; i++) {
            struct lw_sink_conf *s = &ac.sinks[ac.n_sinks];

            if (lw_sink_plugins[i]->conf == NULL || it->type != LW_CONF_MAP) {
                continue;
            }
            memset(s, 0, sizeof(*s));
            s->kind = lw_sink_plugins[i]->kind;
            ac.n_sinks++;
            (void)lw_sink_plugins[i]->conf(c, it, s, &err);
            break;
        }
    }
    lw_alert_conf_fini(&ac);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lw_conf_err err;
    struct lw_conf *c = NULL;

    if (lw_conf_load_buf("fuzz.yaml", data, size, &c, &err) < 0) {
        check(c == NULL && strncmp(err.msg, "fuzz.yaml", 9) == 0);
        return 0;
    }
    if (lw_conf_root(c) != NULL) {
        walk(c, lw_conf_root(c), 0);
        sections(c);
    }
    lw_conf_destroy(c);
    return 0;
}
