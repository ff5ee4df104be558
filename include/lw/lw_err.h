/*
 * Error codes shared by every module. Functions that can fail return an int: 0 (LW_OK) on success,
 * a negative LW_E* code on failure, and a positive value only when it is a count (libuv's rule).
 */
#ifndef LW_ERR_H
#define LW_ERR_H

#define LW_OK        0
#define LW_ENOMEM   -1  /* an allocation failed */
#define LW_EINVAL   -2  /* an argument or input is malformed */
#define LW_EIO      -3  /* a read, write or fsync failed; errno says more */
#define LW_ENOENT   -4  /* a file or key does not exist */
#define LW_ECORRUPT -5  /* a file failed its checksum or structure checks */
#define LW_EVERSION -6  /* a file was written by an incompatible version */
#define LW_EFULL    -7  /* a bounded structure is at its cap */
#define LW_EAGAIN   -8  /* try again later (non-blocking IO) */
#define LW_ERETRY   -9  /* a sink asks the engine to retry with backoff */
#define LW_EDROP    -10 /* a sink gives up on a batch */
#define LW_ETOOBIG  -11 /* an input is over its configured limit */
#define LW_ENOTSUP  -12 /* the backend does not implement this operation */
#define LW_EFENCED  -13 /* another instance owns the partition now: never retry */

/* Returns a static, human-readable string for @rc (any LW_E* code or LW_OK). Thread-safe. */
const char *lw_strerror(int rc);

#endif
