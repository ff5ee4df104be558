/*
 * The file tail input: follows the files that match a set of glob patterns and hands their new
 * lines to the pipeline through the ingest contract (lw_ingest.h), with a checkpoint after every
 * group so that a restart resumes exactly where the pipeline's durable state ends.
 *
 * How it works. One thread per tail. Every poll_ms it runs glob(3) over the patterns, fstat()s
 * every open file and reads what is new with pread(2) in blocks of read_bytes. Polling was chosen
 * over inotify on purpose: it is one code path that also works on NFS, bind mounts and overlay
 * file systems, it sees renames, truncations and deletions the same way, and at the default 250 ms
 * it costs one glob plus one fstat per file per poll. The price is up to poll_ms of latency.
 *
 * Identity. A tailed file is identified by (st_dev, st_ino). Once it holds at least 1024 bytes it
 * also gets a fingerprint, XXH64 (seed 0) of its first 1024 bytes; while it is shorter the
 * fingerprint is 0 and (dev, ino) alone identifies it. The fingerprint is what tells a resumed
 * checkpoint that the inode was not reused by another file, and it also catches a file that was
 * truncated and refilled past its old size between two polls (its first KiB changed).
 *
 * Lines. LF ends a line; a CR before it is stripped. A line longer than max_line_bytes is
 * delivered once, cut to max_line_bytes (at a UTF-8 boundary when possible) and flagged
 * LW_LINE_TRUNCATED; the rest of it is skipped. Lines with invalid UTF-8 or NUL bytes are
 * delivered flagged LW_LINE_INVALID, so a binary file is read like any other. A last line
 * without LF is never delivered while the file is still followed, however old it is: a writer
 * may be between two write(2) calls, and half lines would become fake records. It is delivered
 * only when the file is closed for good (renamed out of the patterns or deleted, and read to its
 * end), because then no more bytes can arrive.
 *
 * Groups and checkpoints. Lines go out in groups of at most batch_lines, all from one file, with
 * source {"tail", path} and a checkpoint {path, dev, ino, fingerprint, offset} whose offset is the
 * byte just after the group's last line (after its LF). On LW_EAGAIN the same group is offered
 * again every few milliseconds and nothing more is read meanwhile (backpressure). Other errors
 * drop the group, count it in errors and log it. A file with a large backlog is read 16 blocks
 * at a time, then the other files get their turn before it goes on (without sleeping).
 *
 * Rotation.
 *  - Rename (x.log -> x.log.1, a new x.log created): when the path no longer leads to the open
 *    file, the old file is read to its end; once it has not grown for one full poll it is closed.
 *    Only then is the new x.log read, from offset 0, so the lines (and checkpoints) of one path
 *    stay in order and the newest checkpoint for a path is always the current file's. If the new
 *    name still matches a pattern, the file simply goes on being followed under that name, and
 *    its checkpoints carry that name.
 *  - Truncation and copytruncate: a size below the read offset (or a changed fingerprint) means
 *    the file was truncated; reading starts again at 0 and it is logged and counted. Lines
 *    written between the copy and the truncation are lost: that is inherent to copytruncate,
 *    which no reader can avoid. If the file is refilled past its old size between two polls and
 *    keeps the same first KiB (or is still under 1 KiB), the truncation is not seen.
 *  - Deletion: the open file is read to its end and closed like a renamed one.
 *
 * Resume. Whenever a file is found that is not followed yet, resume() is asked for the last
 * checkpoint stored for its path. When the checkpoint's dev/ino match and its fingerprint matches
 * (or the checkpoint has fingerprint 0 and its offset is not beyond the file's size), reading
 * continues at checkpoint.offset. When it names another file, the current file is read from 0;
 * and if the file the checkpoint names is found in the same directory under another name (for
 * example x.log.1 after a rotation while logwarden was down), that file is read from the
 * checkpoint's offset to its end and closed, unless it matches a pattern itself, in which case it
 * is followed from that offset. Files without a checkpoint start at their end when start_at_end
 * is set and they are present at start (when the file does not end with LF, the rest of the
 * line being written is skipped, so no half line is delivered); otherwise, and always for files
 * that appear later, at 0.
 */
#ifndef LW_TAIL_H
#define LW_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lw/lw_ingest.h"

/*
 * Returns 1 and fills @out with the checkpoint last made durable for @path, or 0 when there is
 * none. out->path may be left NULL; it is not used. Called from the tail's thread.
 */
typedef int (*lw_tail_resume_cb)(void *opaque, const char *path, struct lw_ingest_checkpoint *out);

struct lw_tail_conf {
    const char *const *patterns; /* glob(3) patterns (say, every "*.log" in /var/log); copied */
    size_t n_patterns;           /* at least 1 */
    bool start_at_end;           /* files present at start begin at their end (default: at 0) */
    unsigned poll_ms;            /* 0: default 250 */
    size_t max_line_bytes;       /* 0: default 65536; at most 1 GiB */
    size_t read_bytes;           /* bytes per read(2); 0: default 1 MiB */
    size_t batch_lines;          /* lines per group at most; 0: default 4096 */
    size_t max_files;            /* files followed at once at most; 0: default 1024 */
    lw_tail_resume_cb resume;    /* NULL: no checkpoints are looked up */
    void *resume_opaque;
};

/* Counters, read without locks (each is atomic on its own). */
struct lw_tail_stats {
    uint64_t files_open;  /* files open now */
    uint64_t lines;       /* lines the pipeline took */
    uint64_t bytes;       /* bytes read from files */
    uint64_t truncated;   /* lines cut at max_line_bytes */
    uint64_t rotations;   /* files closed after a rename or deletion */
    uint64_t truncations; /* files read again from 0 after a truncation */
    uint64_t errors;      /* open/read errors and groups the pipeline refused */
};

struct lw_tail;

/*
 * Checks @conf, copies it and starts the tail's thread, which calls @ingest.fn from that thread
 * only. Returns NULL and writes a message into @err (capacity @err_len) on a bad configuration or
 * when the thread can not be started; @ingest is then never called. Files that do not exist yet
 * are not an error: they are picked up when they appear.
 */
struct lw_tail *lw_tail_start(const struct lw_tail_conf *conf, struct lw_ingest ingest, char *err,
                              size_t err_len);

/*
 * Stops the thread and frees everything, closing the files. A call to ingest in progress returns
 * first; a group that the pipeline keeps refusing with LW_EAGAIN is given up at stop (it was
 * never acknowledged, so its checkpoint was never passed on and a resume reads it again).
 * @t may be NULL. Call from any thread but the tail's, once.
 */
void lw_tail_stop(struct lw_tail *t);

/* Asks the thread to glob again now (for SIGHUP) and to retry files it could not open. */
void lw_tail_reopen(struct lw_tail *t);

/* Fills @out with the current counters. Any thread. */
void lw_tail_stats(const struct lw_tail *t, struct lw_tail_stats *out);

#endif
