/*
 * The contract between inputs (file tail, syslog, HTTP, stdin) and the pipeline that consumes
 * their lines. An input frames what it receives into lines and hands them over in groups with
 * lw_ingest_fn; the consumer copies what it keeps before returning (nothing it is given is
 * retained), and says LW_EAGAIN when it is full: the input must then stop reading (a file tail
 * waits, a TCP socket is no longer polled, HTTP answers 503 with Retry-After) and offer the same
 * group again later. This is how backpressure reaches the source.
 */
#ifndef LW_INGEST_H
#define LW_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a group of lines came from; also the unit of per-source counting. */
struct lw_ingest_source {
    const char *input;   /* input instance name: "tail", "syslog", "http", "stdin" */
    const char *name;    /* file path, sender address "10.0.0.1:514", client address, "-" */
    const char *host;    /* host name when the protocol carries one (syslog HOSTNAME), or NULL */
    /*
     * The input's checkpoints name shards of work that a group of instances shares and hands
     * around (Kafka partitions, docs/cluster.md), not files of this instance. A group with such
     * a checkpoint holds one shard's lines: the pipeline analyses them with the shard's model
     * state and the template vocabulary the group shares, and remembers each shard's last
     * durable checkpoint for the input to poll (lw_input_ctx.durable). Constant per input.
     */
    bool shared_shards;
    /*
     * @name is a network peer, "address:port" ("[v6]:port"): its lines count under the address
     * alone, so that one host's connections are one source, and a line that names no host is
     * that peer's (syslog, HTTP). Constant per input.
     */
    bool peer_address;
};

/*
 * The position after the last line of a group, for inputs that can resume (file tail). A
 * consumer makes it durable only together with the effects of the lines before it.
 */
struct lw_ingest_checkpoint {
    const char *path;      /* the file's path when the group was read */
    uint64_t dev;          /* st_dev */
    uint64_t ino;          /* st_ino */
    uint64_t fingerprint;  /* XXH64 of the file's first min(offset, 1 KiB) bytes; 0 only in
                              checkpoints written before short files had one */
    uint64_t offset;       /* byte offset just after the group's last line */
};

struct lw_ingest_line {
    const char *data;   /* the line without its terminator; borrowed for the call only */
    size_t len;
    uint32_t flags;     /* LW_LINE_* of lw_frame.h (truncated, invalid) */
    int64_t ts_ns;      /* a time the transport supplied (HTTP "time" field), or LW_TS_UNKNOWN */
    int level;          /* an enum lw_level the transport supplied (HTTP "level"), or 0 (unknown);
                         * used when the line's own header names none */
};

/*
 * A group of lines. Usually every line comes from @source. A transport that names a host per
 * line (HTTP NDJSON's "host" field) sets @hosts instead of splitting the group at every change
 * of host: a group of many sources is one batch for the pipeline, not one per run of lines.
 * Producers must zero the struct (or use a designated initializer) so that fields added later
 * read as "absent".
 */
struct lw_ingest_group {
    const struct lw_ingest_source *source;
    const struct lw_ingest_line *lines;
    size_t n_lines;
    const struct lw_ingest_checkpoint *checkpoint;  /* NULL for inputs that cannot resume */
    const char *const *hosts;  /* NULL, or n_lines entries: line i's host (NUL-ended), which
                                * overrides source->host for that line; an entry that is NULL
                                * or "" means the group's source. Borrowed for the call only. */
    uint32_t flags;            /* LW_INGEST_CLAIM / LW_INGEST_RELEASE, 0 for ordinary groups */
};

/*
 * Groups without lines that mark where an input's shard of work (a Kafka partition, named by
 * checkpoint->path, its owner epoch in checkpoint->dev) begins and ends, in order with the
 * lines around them (docs/cluster.md, "Model state follows partitions"):
 *   LW_INGEST_CLAIM    this instance owns the shard from here on; its checkpoint is stored like
 *                      any other (the fence's claim). Model state saved for the shard is loaded
 *                      before the lines that follow are analysed.
 *   LW_INGEST_RELEASE  every line of the shard was handed before; the state learned from them
 *                      is saved for the next owner and forgotten here. The checkpoint only names
 *                      the shard: it is not stored. The input learns that the release was
 *                      processed from lw_ingest.released.
 */
#define LW_INGEST_CLAIM 1u
#define LW_INGEST_RELEASE 2u

/*
 * Consumes a group. Returns LW_OK (all lines taken), LW_EAGAIN (none taken: the pipeline is
 * full, offer the group again later), or another negative LW_E* code (none taken; the input
 * logs it and drops the group, counting it). Never takes part of a group. May be called from
 * any thread; an input calls it from its own thread.
 */
typedef int (*lw_ingest_fn)(void *opaque, const struct lw_ingest_group *g);

/*
 * Whether the LW_INGEST_RELEASE group of shard @path under owner epoch @epoch has been
 * processed (its state saved, or given up with a logged reason): 1 yes, 0 not yet. Any thread.
 */
typedef int (*lw_ingest_released_fn)(void *opaque, const char *path, uint64_t epoch);

struct lw_ingest {
    lw_ingest_fn fn;
    void *opaque;
    lw_ingest_released_fn released;  /* NULL: the consumer keeps no per-shard state */
};

#endif
