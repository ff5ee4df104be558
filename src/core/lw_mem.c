/*
 * Allocation wrappers (see lw_mem.h). Fault injection: when the environment variable
 * LW_TEST_ALLOC_FAIL_AT=n is set, the nth allocation (1-based, counted over the process) fails.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lw/lw_mem.h"

static atomic_long fail_at = -1; /* -1: not read yet, 0: never fail */
static atomic_long n_allocs;

static int should_fail(void)
{
    long at = atomic_load_explicit(&fail_at, memory_order_relaxed);

    if (at < 0) {
        const char *s = getenv("LW_TEST_ALLOC_FAIL_AT");

        at = s ? strtol(s, NULL, 10) : 0;
        if (at < 0) {
            at = 0;
        }
        atomic_store(&fail_at, at);
    }
    if (at == 0) {
        return 0;
    }
    return atomic_fetch_add(&n_allocs, 1) + 1 == at;
}

long lw_mem_counted(void)
{
    return atomic_load(&n_allocs);
}

void *lw_malloc(size_t size)
{
    if (should_fail()) {
        return NULL;
    }
    return malloc(size ? size : 1);
}

void *lw_calloc(size_t n, size_t size)
{
    if (should_fail()) {
        return NULL;
    }
    return calloc(n ? n : 1, size ? size : 1);
}

void *lw_realloc(void *p, size_t size)
{
    if (should_fail()) {
        return NULL;
    }
    return realloc(p, size ? size : 1);
}

void lw_free(void *p)
{
    free(p);
}

char *lw_strndup(const char *s, size_t len)
{
    char *d = lw_malloc(len + 1);

    if (d == NULL) {
        return NULL;
    }
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *lw_strdup(const char *s)
{
    return lw_strndup(s, strlen(s));
}
