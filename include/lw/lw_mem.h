/*
 * All heap allocation goes through these wrappers: one place for accounting, for swapping the
 * allocator and for fault injection in tests (LW_TEST_ALLOC_FAIL_AT=n makes the nth call fail).
 * They never abort: callers check for NULL and return LW_ENOMEM.
 */
#ifndef LW_MEM_H
#define LW_MEM_H

#include <stddef.h>

void *lw_malloc(size_t size);
void *lw_calloc(size_t n, size_t size);
void *lw_realloc(void *p, size_t size);
void lw_free(void *p);
/* Returns a copy of the first @len bytes of @s with a NUL appended, or NULL. Caller frees. */
char *lw_strndup(const char *s, size_t len);
char *lw_strdup(const char *s);
/* The calls counted so far: only while LW_TEST_ALLOC_FAIL_AT is set (a test's sweep bound). */
long lw_mem_counted(void);

#endif
