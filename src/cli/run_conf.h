/*
 * Configuration of `logwarden run`: defaults, the YAML file (--config) and the command line,
 * in that order of precedence (flags win). Every key is documented in docs/config.md.
 */
#ifndef LW_RUN_CONF_H
#define LW_RUN_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lw/lw_alert.h"
#include "lw/lw_conf.h" /* lw_parse_duration_ns(), lw_parse_size() */
#include "lw/lw_detect.h"
#include "lw/lw_frame.h"

#define LW_RUN_MAX_TAIL 64
#define LW_RUN_MAX_ROTATE 16
#define LW_RUN_MAX_MULTILINE_LINES 100000u
#define LW_RUN_MAX_KAFKA_TOPICS 64
#define LW_RUN_MAX_KAFKA_PROPS 64

/* One input's joining: inputs.<name>.multiline, multiline_regex and max_multiline_lines. */
struct lw_run_multiline {
    enum lw_multiline_mode mode;
    char *regex;                /* owned; NULL unless mode is regex or start */
    size_t max_lines;           /* 0: the reader's default (500) */
};

struct lw_run_conf {
    char *config_path;
    char *data_dir;
    char *data_dir_json;        /* data_dir escaped for a JSON string */
    char *format;               /* NULL: automatic */
    char *log_level;
    /* Inputs. */
    char *tail[LW_RUN_MAX_TAIL];
    size_t n_tail;
    bool tail_from_end;
    unsigned tail_poll_ms;
    char *tail_rotate[LW_RUN_MAX_ROTATE];  /* inputs.tail.rotate_patterns, owned */
    size_t n_tail_rotate;
    bool tail_rotate_set;       /* the key was given: the list replaces the tail's defaults */
    bool tail_skip_gzip;
    unsigned tail_rotate_wait_ms;  /* 0: the tail's default */
    struct lw_run_multiline tail_ml;
    char *syslog_addr;          /* NULL: off */
    bool syslog_udp;
    bool syslog_tcp;
    size_t syslog_max_connections;
    unsigned syslog_idle_timeout_s;
    size_t syslog_udp_rcvbuf;   /* 0: the server's default */
    char *http_addr;            /* NULL: off */
    char *http_token;
    char *api_read_token;       /* api.read_token / LOGWARDEN_API_READ_TOKEN: GET-only access */
    int examples_per_template;  /* store.examples_per_template; 0: the store's default */
    size_t http_max_body;
    size_t http_max_buffered;   /* all request bodies in memory at once; 0: the server's 64 MiB */
    size_t http_max_connections;         /* open connections at once; 0: the server's 1024 */
    size_t http_max_connections_per_ip;  /* from one client address; 0: the server's 64 */
    unsigned http_idle_timeout_s;        /* silent connections are closed; 0: the server's 30 s */
    bool dashboard;             /* api.dashboard: the web dashboard at / (default true) */
    bool use_stdin;
    /* inputs.kafka (docs/kafka.md); strings owned. */
    char *kafka_brokers;        /* NULL: off */
    char *kafka_topics[LW_RUN_MAX_KAFKA_TOPICS];
    size_t n_kafka_topics;
    char *kafka_group;
    char *kafka_client_id;
    bool kafka_json;
    bool kafka_key_as_host;
    size_t kafka_max_poll_records;   /* 0: the input's default */
    size_t kafka_max_buffered;       /* 0: the input's default */
    char *kafka_offset_reset;
    unsigned kafka_revoke_wait_ms;   /* 0: the input's default */
    char *kafka_props[LW_RUN_MAX_KAFKA_PROPS];  /* "name=value" */
    size_t n_kafka_props;
    bool kafka_flag_seen;       /* a --kafka flag was given (later ones add topics) */
    size_t max_line_bytes;
    /*
     * Multi-line joining, auto by default: stdin, HTTP text bodies, the file tail (tail_ml
     * above), and the files of `train --from` (no configuration section; only the flags set
     * it). --multiline and its companions override all four.
     */
    struct lw_run_multiline stdin_ml;
    struct lw_run_multiline http_ml;
    struct lw_run_multiline files_ml;
    /* Pipeline and store. */
    size_t workers;
    size_t memory_limit;
    size_t max_templates;
    int64_t window_ns;
    int64_t lateness_ns;         /* the one allowed lateness (counting and detection) */
    int64_t max_jump_ns;         /* pipeline.max_time_jump */
    int64_t idle_ns;             /* pipeline.source_idle */
    int64_t max_lag_ns;          /* pipeline.max_lag */
    int64_t flush_ns;            /* pipeline.flush_interval; 0: by backend (200 ms, 1 s) */
    int64_t retention_s;
    /* store.backend and store.clickhouse.* (docs/config.md); strings owned. */
    int store_backend;           /* enum lw_store_backend */
    char *ch_url;
    char *ch_database;
    char *ch_user;
    char *ch_password;           /* from the file, the password_file or the environment */
    char *ch_password_file;      /* made absolute, recorded for `status` */
    char *ch_writer_id;
    int64_t ch_timeout_ns;       /* 0: the backend's 10 s */
    size_t ch_batch_rows;        /* 0: the backend's 100000 */
    /* Detection and alerts (YAML `detect:` and `alerts:`; docs/config.md, docs/detectors.md). */
    bool detect_enabled;
    struct lw_detect_conf detect;
    struct lw_alert_conf alerts;
};

/*
 * Fills @rc from defaults, the --config file and the flags. Returns 0 to run, 1 when --help was
 * printed, 2 on a usage or configuration error (already reported on stderr); on 1 and 2 @rc has
 * been finalized already. On 0 the caller owns @rc and frees it with lw_run_conf_fini(); then
 * rc->alerts has at least one sink (stdout when none was configured), rc->alerts.data_dir
 * borrows rc->data_dir, and rc->detect.volume.window_ns is the pipeline window unless
 * detect.volume.window was set. Not thread-safe (getopt).
 */
int lw_run_conf_parse(int argc, char **argv, struct lw_run_conf *rc);
void lw_run_conf_fini(struct lw_run_conf *rc);

struct lw_engine_conf;
struct lw_input_conf;
struct lw_store;
struct lw_store_conf;
/* The store's and the engine's settings from @rc (run and train open both the same way). */
void lw_run_conf_store(const struct lw_run_conf *rc, struct lw_store_conf *sc);
void lw_run_conf_engine(const struct lw_run_conf *rc, struct lw_store *store,
                        struct lw_engine_conf *ec);
/*
 * Each input's configuration section from @rc (lw_plugin.h); it borrows @rc's strings and its
 * tail array, so fill it again after @rc changes (SIGHUP).
 */
void lw_run_conf_inputs(const struct lw_run_conf *rc, struct lw_input_conf *ic);
/* @m as a reader's setting; @out borrows @m's regex. */
void lw_run_conf_multiline(const struct lw_run_multiline *m, struct lw_multiline_conf *out);

#endif
