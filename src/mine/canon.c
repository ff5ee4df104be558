/*
 * Canonical template form: a hand-written C rendering of correct_single_template() from the
 * Loghub-2.0 benchmark (logpai/loghub-2.0, benchmark/evaluation/utils/common.py, itself from
 * Khan et al., "Guidelines for Assessing the Accuracy of Log Message Template Identification
 * Techniques", ICSE 2022). The miner keeps its templates in this form and `logwarden eval parse`
 * applies it to predicted templates, so both must agree with the Python function byte for byte.
 *
 * The rules, in the order the Python function applies them:
 *   DS  strip, then every run of white space becomes one space;
 *   PS  split on the path delimiters (white space , ! ; : = | " ' [ ] ( ) { }); a token that
 *       matches ^(/[^/]+)+$ becomes <*>;
 *       then split on all token delimiters (the path delimiters and . - + @ # $ % &) and, per
 *       token:
 *   BL/US a token equal, ignoring case, to true, false, null, root or admin becomes <*>;
 *   DG  a token of digits only (^\d+$, Unicode decimal digits as Python's re has them) -> <*>;
 *   WV  a token that contains <*> and no '/' becomes <*> (^[^\s/]*<\*>[^\s/]*$);
 *   DV  "<*>.<*>" -> "<*>" until nothing changes;
 *   CV  "<*><*>" -> "<*>" until nothing changes.
 * Python's re.split with a capturing group keeps the delimiters as tokens; no rule can match a
 * single delimiter or the empty string, so we only have to look at the text between delimiters.
 * Every path token is a run of text between path delimiters, and the path delimiters are also
 * token delimiters, so PS and the per-token rules are done in one pass over the DS output.
 *
 * Some derived projects (LILAC, LogBatcher) add more replace loops at the end ("<*>:<*>",
 * "<*>/<*>", ...) and drop "admin"; Loghub-2.0 does not, and its ground-truth templates keep
 * "<*>:<*>" (BGL), so those loops would make canon(truth) != truth. We follow Loghub-2.0.
 *
 * Memory: two working buffers, on the stack when the template is shorter than LW_CANON_STACK
 * bytes; longer templates use lw_malloc. The rewrite can grow the text (a one-byte token becomes
 * the three-byte "<*>"), so the second buffer holds 3 * len bytes.
 */
#include <stdint.h>
#include <string.h>

#include "lw/lw_canon.h"
#include "lw/lw_mem.h"

#define LW_CANON_STACK 4096

/* Unicode code point ranges of category Nd (what \d matches in Python 3.11, Unicode 14). */
static const uint32_t nd_ranges[][2] = {
    {0x30, 0x39}, {0x660, 0x669}, {0x6f0, 0x6f9}, {0x7c0, 0x7c9}, {0x966, 0x96f},
    {0x9e6, 0x9ef}, {0xa66, 0xa6f}, {0xae6, 0xaef}, {0xb66, 0xb6f}, {0xbe6, 0xbef},
    {0xc66, 0xc6f}, {0xce6, 0xcef}, {0xd66, 0xd6f}, {0xde6, 0xdef}, {0xe50, 0xe59},
    {0xed0, 0xed9}, {0xf20, 0xf29}, {0x1040, 0x1049}, {0x1090, 0x1099}, {0x17e0, 0x17e9},
    {0x1810, 0x1819}, {0x1946, 0x194f}, {0x19d0, 0x19d9}, {0x1a80, 0x1a89}, {0x1a90, 0x1a99},
    {0x1b50, 0x1b59}, {0x1bb0, 0x1bb9}, {0x1c40, 0x1c49}, {0x1c50, 0x1c59}, {0xa620, 0xa629},
    {0xa8d0, 0xa8d9}, {0xa900, 0xa909}, {0xa9d0, 0xa9d9}, {0xa9f0, 0xa9f9}, {0xaa50, 0xaa59},
    {0xabf0, 0xabf9}, {0xff10, 0xff19}, {0x104a0, 0x104a9}, {0x10d30, 0x10d39},
    {0x11066, 0x1106f}, {0x110f0, 0x110f9}, {0x11136, 0x1113f}, {0x111d0, 0x111d9},
    {0x112f0, 0x112f9}, {0x11450, 0x11459}, {0x114d0, 0x114d9}, {0x11650, 0x11659},
    {0x116c0, 0x116c9}, {0x11730, 0x11739}, {0x118e0, 0x118e9}, {0x11950, 0x11959},
    {0x11c50, 0x11c59}, {0x11d50, 0x11d59}, {0x11da0, 0x11da9}, {0x16a60, 0x16a69},
    {0x16ac0, 0x16ac9}, {0x16b50, 0x16b59}, {0x1d7ce, 0x1d7ff}, {0x1e140, 0x1e149},
    {0x1e2f0, 0x1e2f9}, {0x1e950, 0x1e959}, {0x1fbf0, 0x1fbf9},
};

/*
 * Decodes one UTF-8 sequence at @p (at most @n bytes). Returns its length and sets @cp, or 0
 * when the bytes are not valid UTF-8 (the caller then treats the byte as an ordinary one).
 */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t len;
    size_t i;
    uint32_t c;

    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if ((p[0] & 0xe0) == 0xc0) {
        len = 2;
        c = p[0] & 0x1f;
    }
    else if ((p[0] & 0xf0) == 0xe0) {
        len = 3;
        c = p[0] & 0x0f;
    }
    else if ((p[0] & 0xf8) == 0xf0) {
        len = 4;
        c = p[0] & 0x07;
    }
    else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (p[i] & 0x3f);
    }
    *cp = c;
    return len;
}

/*
 * Returns the byte length of the white-space character at @p (what Python's \s and str.strip()
 * take as white space: ASCII \t\n\v\f\r, space, \x1c-\x1f, and the Unicode spaces), or 0.
 */
static size_t space_len(const char *p, size_t n)
{
    unsigned char c = (unsigned char)p[0];
    uint32_t cp;
    size_t len;

    if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f)) {
        return 1;
    }
    if (c < 0x80) {
        return 0;
    }
    len = utf8_decode((const unsigned char *)p, n, &cp);
    if (len == 0) {
        return 0;
    }
    if (cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
        cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000) {
        return len;
    }
    return 0;
}

static int is_nd(uint32_t cp)
{
    size_t i;

    for (i = 0; i < sizeof(nd_ranges) / sizeof(nd_ranges[0]); i++) {
        if (cp < nd_ranges[i][0]) {
            return 0;
        }
        if (cp <= nd_ranges[i][1]) {
            return 1;
        }
    }
    return 0;
}

static int is_path_delim(char c)
{
    /* After DS the only white space left is ' '. */
    return c != '\0' && strchr(" ,!;:=|\"'[](){}", c) != NULL;
}

static int is_token_delim(char c)
{
    return is_path_delim(c) || (c != '\0' && strchr(".-+@#$%&", c) != NULL);
}

/* PS: ^(/[^/]+)+$ -- starts with '/', no "//", does not end with '/'. */
static int is_path(const char *t, size_t n)
{
    size_t i;

    if (n < 2 || t[0] != '/' || t[n - 1] == '/') {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if (t[i] == '/' && t[i - 1] == '/') {
            return 0;
        }
    }
    return 1;
}

static int ieq(const char *t, size_t n, const char *word)
{
    size_t i;

    if (strlen(word) != n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = t[i];

        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != word[i]) {
            return 0;
        }
    }
    return 1;
}

/* DG: ^\d+$ with Unicode decimal digits. */
static int is_digits(const char *t, size_t n)
{
    size_t i = 0;
    size_t len;
    uint32_t cp;

    if (n == 0) {
        return 0;
    }
    while (i < n) {
        len = utf8_decode((const unsigned char *)t + i, n - i, &cp);
        if (len == 0 || !is_nd(cp)) {
            return 0;
        }
        i += len;
    }
    return 1;
}

/* WV: ^[^\s/]*<\*>[^\s/]*$ -- a token never holds white space here, so: has <*>, has no '/'. */
static int is_word_var(const char *t, size_t n)
{
    size_t i;
    int has_var = 0;

    for (i = 0; i < n; i++) {
        if (t[i] == '/') {
            return 0;
        }
        if (i + 3 <= n && t[i] == '<' && t[i + 1] == '*' && t[i + 2] == '>') {
            has_var = 1;
        }
    }
    return has_var;
}

/* True when token @t (@n bytes, between token delimiters) becomes <*> by BL, US, DG or WV. */
static int token_is_var(const char *t, size_t n)
{
    static const char *const words[] = {"true", "false", "null", "root", "admin"};
    size_t i;

    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (ieq(t, n, words[i])) {
            return 1;
        }
    }
    return is_digits(t, n) || is_word_var(t, n);
}

/* DS: strip and collapse white space of @src into @dst (capacity >= @len + 1). */
static size_t apply_ds(const char *src, size_t len, char *dst)
{
    size_t i = 0;
    size_t o = 0;
    size_t w;
    int pending_space = 0;

    while (i < len) {
        w = space_len(src + i, len - i);
        if (w > 0) {
            pending_space = o > 0;
            i += w;
            continue;
        }
        if (pending_space) {
            dst[o++] = ' ';
            pending_space = 0;
        }
        dst[o++] = src[i++];
    }
    dst[o] = '\0';
    return o;
}

static size_t emit(char *dst, size_t o, const char *s, size_t n)
{
    memcpy(dst + o, s, n);
    return o + n;
}

/* PS, BL, US, DG and WV over the DS output @src into @dst (capacity >= 3 * @len + 1). */
static size_t apply_tokens(const char *src, size_t len, char *dst)
{
    size_t i = 0;
    size_t o = 0;
    size_t start;
    size_t j;
    size_t k;

    while (i < len) {
        if (is_path_delim(src[i])) {
            dst[o++] = src[i++];
            continue;
        }
        start = i;
        while (i < len && !is_path_delim(src[i])) {
            i++;
        }
        if (is_path(src + start, i - start)) {
            o = emit(dst, o, "<*>", 3);
            continue;
        }
        /* Not a path: split further on the remaining token delimiters. */
        j = start;
        while (j < i) {
            if (is_token_delim(src[j])) {
                dst[o++] = src[j++];
                continue;
            }
            k = j;
            while (k < i && !is_token_delim(src[k])) {
                k++;
            }
            if (token_is_var(src + j, k - j)) {
                o = emit(dst, o, "<*>", 3);
            }
            else {
                o = emit(dst, o, src + j, k - j);
            }
            j = k;
        }
    }
    dst[o] = '\0';
    return o;
}

/*
 * One pass of Python's str.replace(@from, "<*>") (leftmost, non-overlapping), in place. Returns
 * the new length and sets @changed.
 */
static size_t replace_pass(char *s, size_t len, const char *from, int *changed)
{
    size_t from_len = strlen(from);
    size_t i = 0;
    size_t o = 0;

    *changed = 0;
    while (i < len) {
        if (i + from_len <= len && memcmp(s + i, from, from_len) == 0) {
            memcpy(s + o, "<*>", 3);
            o += 3;
            i += from_len;
            *changed = 1;
            continue;
        }
        s[o++] = s[i++];
    }
    s[o] = '\0';
    return o;
}

/* The "while True: re.sub(...); if prev == template: break" loops of DV and CV. */
static size_t replace_until_fixed(char *s, size_t len, const char *from)
{
    int changed = 1;

    while (changed) {
        len = replace_pass(s, len, from, &changed);
    }
    return len;
}

size_t lw_canon(const char *tpl, size_t len, char *out, size_t cap)
{
    char stack_a[LW_CANON_STACK + 1];
    char stack_b[3 * LW_CANON_STACK + 1];
    char *a = stack_a;
    char *b = stack_b;
    size_t n;

    if (len >= LW_CANON_STACK) {
        a = lw_malloc(len + 1);
        b = lw_malloc(3 * len + 1);
        if (a == NULL || b == NULL) {
            lw_free(a);
            lw_free(b);
            if (cap > 0) {
                out[0] = '\0';
            }
            return 0;
        }
    }
    n = apply_ds(tpl, len, a);
    n = apply_tokens(a, n, b);
    n = replace_until_fixed(b, n, "<*>.<*>");
    n = replace_until_fixed(b, n, "<*><*>");
    if (cap > 0) {
        size_t c = n < cap ? n : cap - 1;

        memcpy(out, b, c);
        out[c] = '\0';
    }
    if (a != stack_a) {
        lw_free(a);
        lw_free(b);
    }
    return n;
}
