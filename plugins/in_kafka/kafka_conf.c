/* in_kafka's configuration section, inputs.kafka (docs/kafka.md, docs/config.md). */
#include <ctype.h>
#include <string.h>

#include "lw/lw_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_plugin.h"
#include "kafka_conf.h"

#define MAX_TOPICS 64
#define MAX_PROPS 64

const char *const kafka_conf_keys[] = {
    "enabled", "brokers", "topics", "group", "client_id", "format", "key_as_host",
    "max_poll_records", "max_buffered", "offset_reset", "revoke_wait", "properties", NULL,
};

/* Kafka's own rule for topic names: 1-249 of [a-zA-Z0-9._-]. */
static bool topic_ok(const char *t)
{
    size_t i;

    for (i = 0; t[i] != '\0'; i++) {
        if (!isalnum((unsigned char)t[i]) && strchr("._-", t[i]) == NULL) {
            return false;
        }
    }
    return i > 0 && i <= 249;
}

/* The n-th item of the list at @key (it exists: lw_conf_strlist() has read it). */
static const struct lw_conf_node *item(const struct lw_conf_node *sec, const char *key, size_t n)
{
    const struct lw_conf_node *it = lw_conf_get(sec, key)->child;

    while (n-- > 0) {
        it = it->next;
    }
    return it;
}

int kafka_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                    struct lw_input_conf *conf, struct lw_conf_err *err)
{
    struct lw_in_kafka_conf *k = &conf->kafka;
    const char *const *list = NULL;
    const char *s = NULL;
    bool en = true;
    int64_t d = 0;
    size_t n = 0;
    size_t i;
    int rc;

    rc = lw_conf_bool(c, sec, "enabled", &en, err);
    if (rc < 0 || !en) {
        return rc < 0 ? rc : LW_OK; /* off: the other keys are not read */
    }
    if ((rc = lw_conf_str(c, sec, "brokers", &k->brokers, err)) < 0) {
        return rc;
    }
    rc = lw_conf_strlist(c, sec, "topics", MAX_TOPICS, "a list of topic names", &list, &n, err);
    if (rc < 0) {
        return rc;
    }
    for (i = 0; rc == 1 && i < n; i++) {
        if (!topic_ok(list[i])) {
            return lw_conf_bad(c, item(sec, "topics", i), err,
                               "a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)");
        }
    }
    if (rc == 1) {
        k->topics = list;
        k->n_topics = n;
    }
    if ((rc = lw_conf_str(c, sec, "group", &k->group, err)) < 0 ||
        (rc = lw_conf_str(c, sec, "client_id", &k->client_id, err)) < 0 ||
        (rc = lw_conf_str(c, sec, "format", &s, err)) < 0) {
        return rc;
    }
    if (rc == 1) {
        if (strcmp(s, "json") != 0 && strcmp(s, "text") != 0) {
            return lw_conf_bad(c, lw_conf_get(sec, "format"), err, "'text' or 'json'");
        }
        k->json = strcmp(s, "json") == 0;
    }
    if ((rc = lw_conf_bool(c, sec, "key_as_host", &k->key_as_host, err)) < 0 ||
        (rc = lw_conf_usize(c, sec, "max_poll_records", 1, 100000, &k->max_poll_records,
                            err)) < 0 ||
        (rc = lw_conf_size(c, sec, "max_buffered", &k->max_buffered_bytes, err)) < 0) {
        return rc;
    }
    if (rc == 1 && (k->max_buffered_bytes < 1024 || k->max_buffered_bytes > ((size_t)2 << 30))) {
        return lw_conf_bad(c, lw_conf_get(sec, "max_buffered"), err, "a size from 1KiB to 2GiB");
    }
    s = NULL;
    if ((rc = lw_conf_str(c, sec, "offset_reset", &s, err)) < 0) {
        return rc;
    }
    if (rc == 1) {
        if (strcmp(s, "earliest") != 0 && strcmp(s, "latest") != 0) {
            return lw_conf_bad(c, lw_conf_get(sec, "offset_reset"), err,
                               "'earliest' or 'latest'");
        }
        k->offset_reset = s;
    }
    if ((rc = lw_conf_duration(c, sec, "revoke_wait", 1, &d, err)) < 0) {
        return rc;
    }
    if (rc == 1) {
        if (d < 1000000 || d / 1000000 > 3600000) {
            return lw_conf_bad(c, lw_conf_get(sec, "revoke_wait"), err,
                               "a duration from 1ms to 1h");
        }
        k->revoke_wait_ms = (unsigned)(d / 1000000);
    }
    rc = lw_conf_strlist(c, sec, "properties", MAX_PROPS, "a list of name=value settings",
                         &list, &n, err);
    if (rc < 0) {
        return rc;
    }
    for (i = 0; rc == 1 && i < n; i++) {
        const char *eq = strchr(list[i], '=');

        if (eq == NULL || eq == list[i]) {
            return lw_conf_bad(c, item(sec, "properties", i), err,
                               "a librdkafka setting as name=value");
        }
    }
    if (rc == 1) {
        k->properties = list;
        k->n_properties = n;
    }
    return LW_OK;
}
