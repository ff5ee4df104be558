/*
 * Untrusted text in alerts. Everything a finding carries (source, key, summary, samples) comes
 * from log lines, so it may hold any byte but NUL: newlines that forge a second alert line,
 * terminal escape sequences that recolour or rewrite the screen, invalid UTF-8 that a JSON
 * encoder refuses. The sinks pass every field through these helpers. Internal to the alert
 * manager and its plugins, hence the lw__ prefix; no allocation unless stated, thread-safe.
 */
#ifndef LW_ALERT_TEXT_H
#define LW_ALERT_TEXT_H

#include <stddef.h>
#include <stdio.h>

/*
 * Writes @s (NUL-ended; NULL writes nothing) to @f with every character that could change what
 * a terminal or a line-based reader shows escaped, so the text stays on one line and shows as
 * written:
 *   \n \r \t                         as \n \r \t
 *   other C0 controls and DEL        as \xNN (ESC is \x1b)
 *   C1 controls (U+0080..U+009F), the line and paragraph separators (U+2028, U+2029) and the
 *   bidirectional overrides (U+200E, U+200F, U+202A..U+202E, U+2066..U+2069)   as \uNNNN
 *   each byte that is not part of valid UTF-8   as \xNN
 * Everything else, backslashes included, is written as is. Returns 0, or EOF on a write error.
 */
int lw__alert_fputs_safe(const char *s, FILE *f);

/*
 * @s with every byte that is not part of valid UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) replaced by U+FFFD, as JSON needs. Returns NULL when @s is
 * already valid (use @s as is), else an lw_malloc'd copy the caller lw_frees; on out of memory
 * also NULL with *@oom set (may be NULL).
 */
char *lw__alert_utf8_fix(const char *s, int *oom);

#endif
