/*
 * One daemon per data directory: an exclusive flock(2) on DIR/lock. flock locks belong to the
 * open file description, so the kernel drops them when the holder exits in any way (even
 * SIGKILL): no stale lock needs cleaning up, and the file itself is never removed (removing it
 * would let a newcomer create and lock a fresh file while the old holder still runs). The pid
 * written into the file is only there for the message; the lock is what decides.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lw/lw_err.h"
#include "lw/lw_store.h"
#include "store/store_int.h"

int lw__store_mkdirs(const char *dir, char *err, size_t err_len)
{
    char path[4096];
    struct stat sb;
    size_t len = strlen(dir);
    size_t i;

    if (len == 0 || len >= sizeof(path)) {
        snprintf(err, err_len, "invalid data directory '%s'", dir);
        return LW_EINVAL;
    }
    memcpy(path, dir, len + 1);
    /*
     * Create each parent in turn; EEXIST is fine, whatever it is we check at the end. The data
     * directory itself is the daemon's alone (0700): the store holds log contents; parents are
     * ordinary directories.
     */
    for (i = 1; i <= len; i++) {
        if (path[i] == '/' || path[i] == '\0') {
            path[i] = '\0';
            if (mkdir(path, i == len || dir[i + 1] == '\0' ? 0700 : 0755) != 0 &&
                errno != EEXIST) {
                snprintf(err, err_len, "cannot create directory %s: %s", path, strerror(errno));
                return LW_EIO;
            }
            path[i] = dir[i];
        }
    }
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, err_len, "%s is not a directory", dir);
        return LW_EIO;
    }
    return LW_OK;
}

/* The pid the holder wrote into the lock file, or 0 when it has not written it yet. */
static long read_pid(int fd)
{
    char buf[32];
    ssize_t n;

    n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

int lw_store_lock(const char *dir, int *fd_out, char *err, size_t err_len)
{
    char path[4096];
    char pid[32];
    long holder;
    int len;
    int fd;
    int rc;

    *fd_out = -1;
    rc = lw__store_mkdirs(dir, err, err_len);
    if (rc < 0) {
        return rc;
    }
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, LW_STORE_LOCK_NAME) >= sizeof(path)) {
        snprintf(err, err_len, "data directory path too long");
        return LW_EINVAL;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
        return LW_EIO;
    }
    /*
     * A holder of a moment (a `status` of an older version probing the lock, the previous
     * daemon's exit still closing its files after SIGKILL) is waited for, up to 2 s.
     */
    for (int tries = 0;; tries++) {
        rc = flock(fd, LOCK_EX | LOCK_NB);
        if (rc == 0 || errno != EWOULDBLOCK || tries == 40) {
            break;
        }
        usleep(50000);
    }
    if (rc != 0) {
        if (errno == EWOULDBLOCK) {
            holder = read_pid(fd);
            if (holder > 0) {
                snprintf(err, err_len, "another logwarden is running on %s (pid %ld)", dir,
                         holder);
            }
            else {
                snprintf(err, err_len, "another logwarden is running on %s (pid unknown)", dir);
            }
            rc = LW_EAGAIN;
        }
        else {
            snprintf(err, err_len, "cannot lock %s: %s", path, strerror(errno));
            rc = LW_EIO;
        }
        close(fd);
        return rc;
    }
    len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        return LW_EIO;
    }
    *fd_out = fd;
    return LW_OK;
}

long lw_store_lock_holder(const char *dir)
{
    char path[4096];
    long holder = 0;
    int fd;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, LW_STORE_LOCK_NAME) >= sizeof(path)) {
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0; /* no lock file: no daemon ever ran here */
    }
    /* A shared lock is refused while a daemon holds the exclusive one; it writes nothing. */
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        flock(fd, LOCK_UN);
    }
    else if (errno == EWOULDBLOCK) {
        holder = read_pid(fd);
        holder = holder > 0 ? holder : -1;
    }
    else {
        holder = -1;
    }
    close(fd);
    return holder;
}

void lw_store_unlock(int fd)
{
    if (fd < 0) {
        return;
    }
    flock(fd, LOCK_UN);
    close(fd);
}
