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
 * Streams and identity. A path a pattern matches is a stream: the file at that path plus its
 * rotated siblings, the files in the same directory whose name is the path's name followed by a
 * rotation suffix (rotate_patterns: "x.log.1", "x.log-20261204", each optionally ".gz"). A
 * sibling that a pattern matches too (with "*.log*") belongs to the stream, not to a stream of
 * its own. All the files of a stream are delivered with the stream's path as source name and
 * checkpoint path, one file at a time, oldest first (by modification time; for equal times a
 * higher ".N" is older), so the one checkpoint stored for the path says how far the stream was
 * read. A file is identified by its content, not its inode: the fingerprint of a position is
 * XXH64 of the file's first min(offset, 1 KiB) bytes (decompressed for .gz), so inode reuse, a
 * compressed copy and a renamed file are all told apart or recognised. A file being followed also
 * keeps XXH64 of its first KiB, which catches a truncation refilled past the old size.
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
 * Multi-line records. With conf.multiline (lw_frame.h; off when zeroed) continuation lines join
 * the line before them by the reader's own rules (lw_multiline_*()), into one record flagged
 * LW_LINE_MULTI with '\n' between its physical lines, cut at max_line_bytes and at max_lines
 * physical lines as the reader cuts them. A file's last record is held back while the next line
 * may still continue it, and handed over when a line that does not continue it arrives, when
 * the file has been read to its end and no byte came for 200 ms, when the file is finished
 * (rotated away or deleted and read to its end, or truncated), or at stop. A record never spans
 * two files, and a newer file of a stream waits while an older one holds a record. A group's
 * checkpoint offset never passes the start of a held record, so a crash reads it again.
 *
 * Groups and checkpoints. Lines go out in groups of at most batch_lines, all from one file, with
 * source {"tail", path} and a checkpoint {path, dev, ino, fingerprint, offset} whose offset is the
 * byte just after the group's last line (after its LF). On LW_EAGAIN the same group is offered
 * again every few milliseconds and nothing more is read meanwhile (backpressure). Other errors
 * drop the group, count it in errors and log it. A file with a large backlog is read 16 blocks
 * at a time, then the other files get their turn before it goes on (without sleeping).
 *
 * Rotation (nothing accepted is lost, as long as the files are still there).
 *  - Rename (x.log -> x.log.1, a new x.log created): when the path no longer leads to the open
 *    file, the old file is read to its end and closed once it has not grown for rotate_wait_ms
 *    (a writer may append to it until it reopens). The new x.log is read from 0 once the old file
 *    has been read to its end; while the old one waits out rotate_wait_ms the new one goes on
 *    (late lines of the old file then come after some of the new one's).
 *  - Rotations between two polls: whenever the path changes, the siblings are listed and every
 *    one that is neither open nor known to be finished (a file created and renamed away within
 *    one poll, a compressed copy that grew) is read, oldest first, before the new file.
 *  - Truncation and copytruncate: a size below the read offset (or a changed first KiB) means
 *    the file was truncated; reading starts again at 0 and it is logged and counted. Lines
 *    written between the copy and the truncation are lost: that is inherent to copytruncate.
 *  - Deletion: the open file is read to its end and closed like a renamed one.
 *  - Compressed siblings are read through zlib. A plain file and its ".gz" (gzip still at work)
 *    count once. A gzip stream that ends early is retried at each poll.
 *
 * Resume. When a stream is first seen, resume() is asked for the checkpoint of its path, and the
 * stream's files (siblings oldest first, then the file at the path) are searched for the one the
 * checkpoint lies in (same fingerprint over the checkpoint's first min(offset, 1 KiB) bytes, and
 * at least offset bytes; a different inode only with a full KiB, or for a .gz). That file goes on
 * at the checkpoint's offset, the files after it are read from 0, the ones before are finished.
 * So any number of rotations while logwarden was stopped lose nothing as long as the rotated
 * files are still there and match rotate_patterns. When no file holds the checkpoint, every file
 * of the stream is read from 0 (duplicates rather than loss) and a warning says so. Checkpoints
 * written before short files had a fingerprint (fingerprint 0) are matched by inode and offset.
 * Without a checkpoint, siblings are read from 0 unless start_at_end is set (then only siblings
 * modified after the tail started are), and the file at the path starts at 0, or at its end when
 * start_at_end is set and it is present at start (when it does not end with LF, the rest of the
 * line being written is skipped, so no half line is delivered).
 */
#ifndef LW_TAIL_H
#define LW_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lw/lw_frame.h"
#include "lw/lw_ingest.h"

/*
 * Returns 1 and fills @out with the checkpoint last made durable for @path, or 0 when there is
 * none. out->path may be left NULL; it is not used. Called from the tail's thread.
 */
typedef int (*lw_tail_resume_cb)(void *opaque, const char *path, struct lw_ingest_checkpoint *out);

/*
 * Rotated siblings by default: "x.log.1", "x.log.2" ... and "x.log-20261204" (dates, or any
 * suffix that starts with "-" and a digit), each optionally followed by ".gz".
 */
#define LW_TAIL_DEFAULT_ROTATE { ".[0-9]*", "-[0-9]*" }

struct lw_tail_conf {
    const char *const *patterns; /* glob(3) patterns (say, every "*.log" in /var/log); copied */
    size_t n_patterns;           /* at least 1 */
    bool start_at_end;           /* files present at start begin at their end (default: at 0) */
    unsigned poll_ms;            /* 0: default 250 */
    size_t max_line_bytes;       /* 0: default 65536; at most 1 GiB */
    size_t read_bytes;           /* bytes per read(2); 0: default 1 MiB */
    size_t batch_lines;          /* lines per group at most; 0: default 4096 */
    size_t max_files;            /* files followed at once at most; 0: default 1024 */
    const char *const *rotate_patterns; /* fnmatch(3) patterns of the suffix a rotation adds to
                                   a file's name ("x.log" + ".1"), tried after removing a final
                                   ".gz"; copied. NULL: LW_TAIL_DEFAULT_ROTATE */
    size_t n_rotate_patterns;    /* entries of rotate_patterns; 0 with a non-NULL list turns
                                   sibling discovery off */
    bool skip_gzip;              /* rotated siblings ending in ".gz" are ignored (default: they
                                   are read through zlib) */
    unsigned rotate_wait_ms;     /* a file no longer at its path is closed once read to its end
                                   and unchanged this long; 0: default 5000 */
    struct lw_multiline_conf multiline; /* continuation lines join the line they follow (see
                                   "Multi-line records" above); zero: off. The regex is
                                   compiled at start (not kept) */
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
