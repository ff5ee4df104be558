/*
 * Input plugins (STYLE.md §5): each input of the daemon is a const struct of function pointers in
 * plugins/in_<name>/in_<name>.c, registered by one line of CMake (lw_add_plugin(in_<name>)), which
 * writes the table lw_input_plugins[] into the generated lw_plugins.c. The daemon starts every
 * enabled plugin with an lw_input_ctx and knows nothing else about it: adding an input means one
 * new folder and one line in CMakeLists.txt.
 */
#ifndef LW_PLUGIN_H
#define LW_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lw/lw_conf.h"
#include "lw/lw_frame.h"
#include "lw/lw_ingest.h"
#include "lw/lw_metrics.h"

#define LW_PLUGIN_ABI 1u

/*
 * Each input's own configuration section. The daemon fills them from its configuration; an
 * input reads only its own. Strings and arrays are borrowed for the input's lifetime.
 */
struct lw_in_tail_conf {
    const char *const *patterns;        /* glob patterns; none: the input is off */
    size_t n_patterns;
    bool from_end;                      /* new files start at their end */
    unsigned poll_ms;
    size_t max_line_bytes;
    struct lw_multiline_conf multiline; /* continuation lines join the line they follow */
    const char *const *rotate_patterns; /* suffixes of rotated siblings; NULL: the default */
    size_t n_rotate_patterns;           /* 0 with a non-NULL list: no sibling discovery */
    bool skip_gzip;                     /* rotated siblings ending in .gz are ignored */
    unsigned rotate_wait_ms;            /* 0: the tail's default (5 s) */
};

struct lw_in_syslog_conf {
    const char *addr;                   /* NULL: the input is off */
    bool udp;
    bool tcp;
    size_t max_connections;
    unsigned idle_timeout_s;
    size_t max_line_bytes;
    size_t udp_rcvbuf_bytes;            /* the UDP socket's receive buffer; 0: default 8 MiB */
};

struct lw_in_http_conf {
    const char *addr;                   /* NULL: the input is off (the daemon serves no HTTP) */
    struct lw_multiline_conf multiline; /* text/plain bodies (NDJSON: one record per line) */
    /*
     * The rest of inputs.http configures the daemon's HTTP server, which the input registers
     * its routes on: the section is the input's, the server reads these from it.
     */
    const char *token;                  /* bearer token; NULL: none */
    size_t max_body_bytes;              /* 0: the server's 16 MiB */
    size_t max_buffered_bytes;          /* all bodies in memory at once; 0: from memory_limit */
    size_t max_connections;             /* 0: the server's 1024 */
    size_t max_connections_per_ip;      /* 0: the server's 64 */
    unsigned idle_timeout_s;            /* 0: the server's 30 s */
};

/* Counters of the HTTP ingest routes, kept by the server. */
struct lw_ingest_route_stats {
    uint64_t lines;                     /* lines taken by the ingest routes */
    uint64_t bytes;                     /* request body bytes as received (before gunzip) */
    uint64_t rejected_lines;            /* malformed lines skipped */
    uint64_t refused_503;               /* requests refused under backpressure */
};

/*
 * The daemon's HTTP server as an input sees it: an input registers routes, it does not own the
 * server. add_ingest() sends the lines of POST @path bodies (NDJSON or text) to @ingest, which
 * must stay valid until it is replaced; an ingest with fn NULL takes the route back (503).
 * @text_multiline says how text bodies join continuation lines (NULL: LW_MULTILINE_AUTO); the
 * struct is copied, its regex borrowed while the route is in place. It returns LW_OK or a
 * negative LW_E* code. Thread-safe.
 */
struct lw_ingest_routes {
    void *server;
    int (*add_ingest)(void *server, const char *path, struct lw_ingest ingest,
                      const struct lw_multiline_conf *text_multiline);
    void (*stats)(void *server, struct lw_ingest_route_stats *out);
};

struct lw_in_stdin_conf {
    bool enabled;
    size_t max_line_bytes;
    struct lw_multiline_conf multiline; /* continuation lines join the line they follow */
};

/* inputs.kafka (docs/kafka.md): a consumer group member, built when librdkafka is found. */
struct lw_in_kafka_conf {
    const char *brokers;                /* "host:port,host:port"; NULL: the input is off */
    const char *const *topics;          /* topics to subscribe to (at least one) */
    size_t n_topics;
    const char *group;                  /* group.id; NULL: "logwarden" */
    const char *client_id;              /* client.id; NULL: "logwarden" */
    bool json;                          /* values are JSON objects (the HTTP NDJSON fields) */
    bool key_as_host;                   /* the record key names the host when the value does not */
    size_t max_poll_records;            /* records per group handed over; 0: 2048 */
    size_t max_buffered_bytes;          /* librdkafka's prefetch queue; 0: 32 MiB */
    size_t max_line_bytes;              /* longer records are truncated and flagged */
    const char *offset_reset;           /* without a stored position: "earliest" (NULL) or "latest" */
    unsigned revoke_wait_ms;            /* on revocation, how long handed records may take to
                                           become durable; 0: 10 s */
    const char *const *properties;      /* "name=value" librdkafka settings, applied last */
    size_t n_properties;
};

struct lw_input_conf {
    struct lw_in_tail_conf tail;
    struct lw_in_syslog_conf syslog;
    struct lw_in_http_conf http;
    struct lw_in_stdin_conf in_stdin;   /* not "stdin", which <stdio.h> defines */
    struct lw_in_kafka_conf kafka;
};

/* What the daemon gives an input. Everything is borrowed for the input's lifetime. */
struct lw_input_ctx {
    struct lw_ingest ingest;            /* where lines go (backpressure: LW_EAGAIN) */
    const struct lw_input_conf *conf;   /* the inputs' configuration sections */
    /* The checkpoint stored for (input, path): 1 and *out filled, or 0 when there is none. */
    int (*resume)(void *opaque, const char *input, const char *path,
                  struct lw_ingest_checkpoint *out);
    /*
     * The checkpoint of (input, path) that this daemon committed last: 1 and *out filled, or 0
     * when it committed none yet or does not keep them for this input (then ask resume).
     * Answered from memory, for inputs whose sources are shared_shards (the Kafka input, which
     * polls how far the store has its lines). May be NULL.
     */
    int (*durable)(void *opaque, const char *input, const char *path,
                   struct lw_ingest_checkpoint *out);
    const struct lw_ingest_routes *routes;  /* the daemon's HTTP server, NULL when none */
    void *opaque;                       /* passed to resume and durable */
};

struct lw_input_stats {
    uint64_t lines;  /* lines handed to the pipeline */
    uint64_t bytes;  /* bytes read */
};

struct lw_input_plugin {
    uint32_t abi;             /* == LW_PLUGIN_ABI, checked at start */
    const char *name;         /* "tail" for plugins/in_tail/ */
    const char *description;
    /* Whether the configuration asks for this input. */
    bool (*enabled)(const struct lw_input_conf *conf);
    /* Starts the input's threads; returns its instance, or NULL with a message in @err. */
    void *(*start)(const struct lw_input_ctx *ctx, char *err, size_t err_len);
    /* Stops reading, hands over what it holds if it can, frees the instance. */
    void (*stop)(void *inst);
    void (*reopen)(void *inst);   /* SIGHUP: look for files again (optional) */
    bool (*done)(void *inst);     /* a finite input has reached its end (optional) */
    void (*stats)(void *inst, struct lw_input_stats *out);
    void (*metrics)(void *inst, struct lw_prom *p);  /* input-specific metrics (optional) */
    /*
     * The input's configuration section, inputs.<name> (optional: NULL when it takes no keys).
     * conf_keys lists its keys, NULL-terminated: the daemon refuses any other, naming it.
     * conf() reads @section, a map of @c, into its own part of @conf over the values already
     * there (the defaults and the settings shared by all inputs); strings and lists it stores
     * borrow from @c. LW_OK, or a negative LW_E* code with @err filled (lw_conf_errf()).
     */
    const char *const *conf_keys;
    int (*conf)(const struct lw_conf *c, const struct lw_conf_node *section,
                struct lw_input_conf *conf, struct lw_conf_err *err);
};

/*
 * The multi-line keys that tail, stdin and http share (multiline, multiline_regex,
 * max_multiline_lines; src/input/input_conf.c) from @section into @m; the regex borrows from @c.
 * Whether mode and pattern go together is checked once flags are in (the daemon does it).
 */
#define LW_INPUT_MAX_MULTILINE_LINES 100000u
int lw_input_conf_multiline(const struct lw_conf *c, const struct lw_conf_node *section,
                            struct lw_multiline_conf *m, struct lw_conf_err *err);

/* The registered input plugins, NULL-terminated (generated by CMake: lw_plugins.c). */
extern const struct lw_input_plugin *const lw_input_plugins[];

#endif
