/*
 * Canonical template form: the Loghub-2.0 correction rules (Khan et al., ICSE 2022, as applied by
 * the Loghub-2.0 evaluation, ISSTA 2024). White space is collapsed; path-like tokens, digit runs,
 * booleans and a few default strings become <*>; a token that holds a variable becomes <*>;
 * consecutive variables (joined by nothing, ".", ":", "/", "@", "#") are merged.
 */
#ifndef LW_CANON_H
#define LW_CANON_H

#include <stddef.h>

/*
 * Writes the canonical form of @tpl (@len bytes, "<*>" marks variables) into @out (capacity
 * @cap, NUL-terminated, truncated to fit). Returns the length of the canonical form (which may be
 * >= @cap when truncated, like snprintf). Thread-safe, no allocation when the template is short
 * (< 4 KiB); longer ones allocate and return 0 on allocation failure.
 */
size_t lw_canon(const char *tpl, size_t len, char *out, size_t cap);

#endif
