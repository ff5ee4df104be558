/*
 * The webhook's on-disk spool (webhook.h): every alert handed to the webhook is first made
 * durable here and deleted only after the receiver took it (2xx) or refused it for good, so
 * alerts survive receiver outages and daemon restarts. The folder is the truth; the index only
 * saves a readdir per send.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lw/lw_err.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"
#include "webhook.h"

#define SEQ_DIGITS 20
#define NAME_MAX_LEN 32

static void file_name(uint64_t seq, const char *ext, char *buf, size_t len)
{
    snprintf(buf, len, "%0*" PRIu64 ".%s", SEQ_DIGITS, seq, ext);
}

/* mkdir -p: every missing parent of @path (a copy is edited in place). */
static int mkdir_p(const char *path)
{
    char *p = lw_strdup(path);
    char *s;
    int rc = LW_OK;

    if (p == NULL) {
        return LW_ENOMEM;
    }
    for (s = p + 1; *s != '\0'; s++) {
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0700) != 0 && errno != EEXIST) {
                rc = LW_EIO;
            }
            *s = '/';
        }
    }
    if (mkdir(p, 0700) != 0 && errno != EEXIST) {
        rc = LW_EIO;
    }
    lw_free(p);
    return rc;
}

/* Parses "<20 digits>.json"; 0 when @name is not a spool file. */
static uint64_t parse_name(const char *name)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < SEQ_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9') {
            return 0;
        }
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    return strcmp(name + SEQ_DIGITS, ".json") == 0 ? v : 0;
}

static int cmp_ent(const void *a, const void *b)
{
    const struct webhook_spool_ent *x = a;
    const struct webhook_spool_ent *y = b;

    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Appends to the index (no ordering); holds mu or runs before any thread. */
static int index_push(struct webhook_spool *sp, uint64_t seq, uint64_t bytes)
{
    if (sp->n == sp->cap) {
        size_t cap = sp->cap ? sp->cap * 2 : 64;
        struct webhook_spool_ent *ne = lw_realloc(sp->e, cap * sizeof(*ne));

        if (ne == NULL) {
            return LW_ENOMEM;
        }
        sp->e = ne;
        sp->cap = cap;
    }
    sp->e[sp->n].seq = seq;
    sp->e[sp->n].bytes = bytes;
    sp->n++;
    sp->bytes += bytes;
    return LW_OK;
}

/* Index of the first entry with seq >= @seq. */
static size_t lower_bound(const struct webhook_spool *sp, uint64_t seq)
{
    size_t lo = 0;
    size_t hi = sp->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (sp->e[mid].seq < seq) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo;
}

/* Removes entry @i from the index and its file from the folder; holds mu. */
static void drop_at(struct webhook_spool *sp, size_t i)
{
    char name[NAME_MAX_LEN];

    file_name(sp->e[i].seq, "json", name, sizeof(name));
    (void)unlinkat(sp->dir_fd, name, 0);
    sp->bytes -= sp->e[i].bytes;
    memmove(&sp->e[i], &sp->e[i + 1], (sp->n - i - 1) * sizeof(sp->e[0]));
    sp->n--;
}

/* Drops the oldest alerts (not the one in flight, not @keep) while over the cap; holds mu. */
static void enforce_cap(struct webhook_spool *sp, uint64_t keep)
{
    size_t i = 0;

    while (sp->bytes > sp->max_bytes && i < sp->n) {
        uint64_t seq = sp->e[i].seq;

        if (seq == sp->inflight || seq == keep) {
            i++;
            continue;
        }
        drop_at(sp, i);
        atomic_fetch_add(&sp->dropped, 1);
        lw_warn("alert", "sink %s: spool over %" PRIu64 " bytes, alert %" PRIu64 " dropped",
                sp->name, sp->max_bytes, seq);
        sp->env->report(sp->env->opaque, seq, false);
    }
}

int webhook_spool_open(struct webhook_spool *sp, const char *dir, uint64_t max_bytes,
                       const struct lw_sink_env *env, const char *name, char *err,
                       size_t err_len)
{
    struct dirent *de;
    struct stat sb;
    DIR *d;
    int fd;

    memset(sp, 0, sizeof(*sp));
    sp->dir_fd = -1;
    sp->max_bytes = max_bytes;
    sp->env = env;
    sp->name = name;
    sp->dir = lw_strdup(dir);
    if (sp->dir == NULL) {
        snprintf(err, err_len, "out of memory");
        return LW_ENOMEM;
    }
    if (mkdir_p(dir) < 0) {
        snprintf(err, err_len, "spool %s: cannot create: %s", dir, strerror(errno));
        goto fail_free;
    }
    sp->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->dir_fd < 0) {
        snprintf(err, err_len, "spool %s: %s", dir, strerror(errno));
        goto fail_free;
    }
    /* fdopendir takes the descriptor: give it its own. */
    fd = dup(sp->dir_fd);
    d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        snprintf(err, err_len, "spool %s: %s", dir, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        goto fail_close;
    }
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        uint64_t seq;

        if (nl > 4 && strcmp(de->d_name + nl - 4, ".tmp") == 0) {
            /* A write that a crash interrupted: never renamed, so never promised. */
            (void)unlinkat(sp->dir_fd, de->d_name, 0);
            continue;
        }
        seq = parse_name(de->d_name);
        if (seq == 0 || fstatat(sp->dir_fd, de->d_name, &sb, 0) != 0 || !S_ISREG(sb.st_mode)) {
            continue;
        }
        if (index_push(sp, seq, (uint64_t)sb.st_size) < 0) {
            closedir(d);
            snprintf(err, err_len, "out of memory");
            goto fail_close;
        }
    }
    closedir(d);
    if (sp->n > 0) {
        qsort(sp->e, sp->n, sizeof(sp->e[0]), cmp_ent);
        lw_info("alert", "sink %s: %zu alerts (%" PRIu64 " bytes) in the spool %s to resend",
                name, sp->n, sp->bytes, dir);
        enforce_cap(sp, 0);
    }
    pthread_mutex_init(&sp->mu, NULL);
    return LW_OK;
fail_close:
    close(sp->dir_fd);
fail_free:
    lw_free(sp->e);
    lw_free(sp->dir);
    return LW_EIO;
}

void webhook_spool_close(struct webhook_spool *sp)
{
    pthread_mutex_destroy(&sp->mu);
    close(sp->dir_fd);
    lw_free(sp->e);
    lw_free(sp->dir);
    sp->e = NULL;
    sp->dir = NULL;
}

/* Writes @len bytes of @p to @fd entirely. */
static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return LW_EIO;
        }
        p += w;
        len -= (size_t)w;
    }
    return LW_OK;
}

int webhook_spool_put(struct webhook_spool *sp, uint64_t seq, const char *body, size_t len)
{
    char tmp[NAME_MAX_LEN];
    char name[NAME_MAX_LEN];
    size_t i;
    int fd;
    int rc;

    if (len > sp->max_bytes) {
        return LW_ETOOBIG;
    }
    file_name(seq, "tmp", tmp, sizeof(tmp));
    file_name(seq, "json", name, sizeof(name));
    fd = openat(sp->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return LW_EIO;
    }
    rc = write_all(fd, body, len);
    if (rc == LW_OK && fsync(fd) != 0) {
        rc = LW_EIO;
    }
    if (close(fd) != 0 && rc == LW_OK) {
        rc = LW_EIO;
    }
    if (rc == LW_OK && renameat(sp->dir_fd, tmp, sp->dir_fd, name) != 0) {
        rc = LW_EIO;
    }
    if (rc != LW_OK) {
        (void)unlinkat(sp->dir_fd, tmp, 0);
        return rc;
    }
    /* The rename is durable once the folder is. */
    (void)fsync(sp->dir_fd);

    pthread_mutex_lock(&sp->mu);
    rc = index_push(sp, seq, len);
    if (rc == LW_OK) {
        /* Overflow writes can land after later alerts: keep the index in seq order. */
        i = lower_bound(sp, seq);
        if (i < sp->n - 1) {
            struct webhook_spool_ent ent = sp->e[sp->n - 1];

            memmove(&sp->e[i + 1], &sp->e[i], (sp->n - 1 - i) * sizeof(sp->e[0]));
            sp->e[i] = ent;
        }
        enforce_cap(sp, seq);
    }
    pthread_mutex_unlock(&sp->mu);
    if (rc != LW_OK) {
        (void)unlinkat(sp->dir_fd, name, 0);
    }
    return rc;
}

int webhook_spool_peek(struct webhook_spool *sp, uint64_t *seq, char **body, size_t *len)
{
    char name[NAME_MAX_LEN];
    struct stat sb;
    char *buf;
    size_t got = 0;
    int fd;

    pthread_mutex_lock(&sp->mu);
    if (sp->n == 0) {
        pthread_mutex_unlock(&sp->mu);
        return LW_ENOENT;
    }
    *seq = sp->e[0].seq;
    sp->inflight = *seq;
    pthread_mutex_unlock(&sp->mu);

    file_name(*seq, "json", name, sizeof(name));
    fd = openat(sp->dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return LW_EIO;
    }
    if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size > sp->max_bytes) {
        close(fd);
        return LW_EIO;
    }
    buf = lw_malloc((size_t)sb.st_size + 1);
    if (buf == NULL) {
        close(fd);
        webhook_spool_release(sp);
        return LW_ENOMEM;
    }
    while (got < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (got != (size_t)sb.st_size) {
        lw_free(buf);
        return LW_EIO;
    }
    buf[got] = '\0';
    *body = buf;
    *len = got;
    return LW_OK;
}

void webhook_spool_remove(struct webhook_spool *sp, uint64_t seq)
{
    size_t i;

    pthread_mutex_lock(&sp->mu);
    i = lower_bound(sp, seq);
    if (i < sp->n && sp->e[i].seq == seq) {
        drop_at(sp, i);
    }
    if (sp->inflight == seq) {
        sp->inflight = 0;
    }
    pthread_mutex_unlock(&sp->mu);
}

void webhook_spool_release(struct webhook_spool *sp)
{
    pthread_mutex_lock(&sp->mu);
    sp->inflight = 0;
    pthread_mutex_unlock(&sp->mu);
}

size_t webhook_spool_count(struct webhook_spool *sp)
{
    size_t n;

    pthread_mutex_lock(&sp->mu);
    n = sp->n;
    pthread_mutex_unlock(&sp->mu);
    return n;
}
