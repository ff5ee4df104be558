/*
 * Header parsing with an explicit --format layout (see lw_header.h), plus the compiled object and
 * the per-thread state that automatic mode (header_auto.c) shares.
 *
 * A format in the Loghub <Field> notation is compiled exactly as the Loghub tools do it: split
 * on "(<[^<>]+>)", each run of spaces in the literal text becomes "\s+", each field becomes a lazy
 * "(.*?)" (the field named Content a greedy "(.*)"), and the whole is anchored "^...$". That
 * regex always exists and is compiled with PCRE2 (JIT when available). A format whose literal
 * text is plain (ordinary characters, "\[" style escapes and spaces) also gets a hand-written
 * matcher, tried first; see match_fast() for why it exists and how it stays faithful.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lw/lw_err.h"
#include "lw/lw_header.h"
#include "lw/lw_mem.h"

/* Scratch for decoded JSON/logfmt text: messages are cut a little above 64 KiB (see header_auto.c). */
#define SCRATCH_MSG_CAP (64 * 1024)
#define SCRATCH_CAP (SCRATCH_MSG_CAP + 1024)
#define TS_JOIN_CAP 128

struct hdr_field {
    char *name;               /* owned, NUL-terminated */
    enum lw_field_role role;
    int greedy;               /* 1 for Content: "(.*)" */
    uint32_t group;           /* PCRE2 capture group number */
};

struct lw_header {
    int is_auto;
    int ref_year;
    int fast_ok;                            /* the format is plain: match_fast() applies */
    int fast_on;                            /* lw_header_set_fast_path() */
    size_t n_fields;
    struct hdr_field fields[LW_HEADER_MAX_FIELDS];
    /*
     * Literal text for the fast matcher: lits[i] precedes field i, lits[n_fields] ends the line.
     * Escapes are resolved; a ' ' stands for "\s+" (a run of format spaces is one ' ').
     */
    char *lits[LW_HEADER_MAX_FIELDS + 1];   /* owned */
    size_t lit_lens[LW_HEADER_MAX_FIELDS + 1];
    pcre2_code *re;                          /* NULL in automatic mode */
    int has_time;
    int content_idx;                         /* field index of the message, or -1 */
};

#define TS_CACHE_KEY 32

/*
 * The last parsed timestamp of a format's time fields. Consecutive log lines mostly share their
 * second, so a memcmp replaces a parse (about 300 of the ~1,100 instructions a HDFS header costs,
 * measured with callgrind). A one-entry cache costs nothing on shuffled input (loggen.py output);
 * a 64-entry hashed one cost more than it saved there.
 */
struct ts_cache_ent {
    uint8_t len;              /* 0: empty */
    char key[TS_CACHE_KEY];
    int64_t ts;
};

struct lw_header_state {
    pcre2_match_data *md; /* NULL in automatic mode */
    char *scratch;        /* SCRATCH_CAP bytes */
    struct ts_cache_ent ts_last;
};

static const unsigned char space_tab[256] = {
    [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1,
};

static int name_is(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        char x = *a;

        if (x >= 'A' && x <= 'Z') {
            x = (char)(x + ('a' - 'A'));
        }
        if (x != *b) {
            return 0;
        }
    }
    return *a == '\0' && *b == '\0';
}

static enum lw_field_role role_of(const char *name)
{
    static const char *const time_names[] = {"date", "time", "timestamp", "month", "day",
                                             "year", "datetime"};
    size_t i;

    for (i = 0; i < sizeof(time_names) / sizeof(time_names[0]); i++) {
        if (name_is(name, time_names[i])) {
            return LW_FIELD_TIME;
        }
    }
    if (name_is(name, "level") || name_is(name, "severity") || name_is(name, "loglevel")) {
        return LW_FIELD_LEVEL;
    }
    if (name_is(name, "node") || name_is(name, "host") || name_is(name, "hostname")) {
        return LW_FIELD_HOST;
    }
    if (name_is(name, "component") || name_is(name, "logger") || name_is(name, "source")) {
        return LW_FIELD_COMPONENT;
    }
    if (name_is(name, "pid")) {
        return LW_FIELD_PID;
    }
    if (name_is(name, "content") || name_is(name, "message")) {
        return LW_FIELD_CONTENT;
    }
    return LW_FIELD_OTHER;
}

static int current_year(void)
{
    time_t now = time(NULL);
    struct tm tm;

    if (gmtime_r(&now, &tm) == NULL) {
        return 1970;
    }
    return tm.tm_year + 1900;
}

/* Growable byte buffer for building the regex at compile time (not on the data path). */
struct sbuf {
    char *p;
    size_t len;
    size_t cap;
    int oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *np = lw_realloc(b->p, cap);

        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/*
 * Resolves a literal for the fast matcher into @out (capacity >= @n + 1). Returns the length, or
 * -1 when the text uses regex syntax (unescaped metacharacters, "\d", "\ ", ...).
 */
static long plain_literal(const char *s, size_t n, char *out)
{
    size_t i;
    size_t o = 0;

    for (i = 0; i < n; i++) {
        char c = s[i];

        if (c == ' ') {
            while (i + 1 < n && s[i + 1] == ' ') {
                i++;
            }
            out[o++] = ' ';
        }
        else if (c == '\\') {
            char e;

            if (i + 1 >= n) {
                return -1;
            }
            e = s[++i];
            if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9') ||
                e == ' ') {
                return -1;
            }
            out[o++] = e;
        }
        else if (strchr(".^$*+?()[]{}|", c) != NULL) {
            return -1;
        }
        else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    return (long)o;
}

static struct lw_header *fail(struct lw_header *h, char *err, size_t err_len, const char *msg,
                              const char *detail)
{
    if (err != NULL && err_len > 0) {
        snprintf(err, err_len, "%s%s%s", msg, detail ? ": " : "", detail ? detail : "");
    }
    lw_header_destroy(h);
    return NULL;
}

static struct lw_header *compile_format(struct lw_header *h, const char *format, char *err,
                                        size_t err_len)
{
    struct sbuf re = {0};
    const char *p = format;
    size_t i;
    int errcode;
    PCRE2_SIZE erroff;
    char msg[160];

    h->fast_ok = 1;
    sb_add(&re, "^", 1);
    for (;;) {
        /* Literal text up to the next "<name>" where name has no '<' or '>'. */
        const char *lt = p;
        const char *open = NULL;
        const char *close = NULL;
        const char *q;
        size_t lit_len;
        long plain;

        for (q = p; *q != '\0'; q++) {
            if (*q == '<') {
                const char *r = q + 1;

                while (*r != '\0' && *r != '<' && *r != '>') {
                    r++;
                }
                if (*r == '>' && r > q + 1) {
                    open = q;
                    close = r;
                    break;
                }
            }
        }
        lit_len = open ? (size_t)(open - lt) : strlen(lt);
        if (h->n_fields > LW_HEADER_MAX_FIELDS) {
            lw_free(re.p);
            return fail(h, err, err_len, "too many fields in format", NULL);
        }
        /* Regex form: runs of spaces become \s+, everything else is passed through. */
        for (i = 0; i < lit_len; i++) {
            if (lt[i] == ' ') {
                while (i + 1 < lit_len && lt[i + 1] == ' ') {
                    i++;
                }
                sb_add(&re, "\\s+", 3);
            }
            else {
                sb_add(&re, lt + i, 1);
            }
        }
        h->lits[h->n_fields] = lw_malloc(lit_len + 1);
        if (h->lits[h->n_fields] == NULL) {
            lw_free(re.p);
            return fail(h, err, err_len, "out of memory", NULL);
        }
        plain = plain_literal(lt, lit_len, h->lits[h->n_fields]);
        if (plain < 0) {
            h->fast_ok = 0;
            h->lit_lens[h->n_fields] = 0;
        }
        else {
            h->lit_lens[h->n_fields] = (size_t)plain;
        }
        if (open == NULL) {
            break;
        }
        if (h->n_fields == LW_HEADER_MAX_FIELDS) {
            lw_free(re.p);
            return fail(h, err, err_len, "too many fields in format", NULL);
        }
        {
            struct hdr_field *f = &h->fields[h->n_fields];
            char grp[32];

            f->name = lw_strndup(open + 1, (size_t)(close - open - 1));
            if (f->name == NULL) {
                lw_free(re.p);
                return fail(h, err, err_len, "out of memory", NULL);
            }
            f->role = role_of(f->name);
            f->greedy = name_is(f->name, "content");
            if (f->role == LW_FIELD_TIME) {
                h->has_time = 1;
            }
            if (f->role == LW_FIELD_CONTENT && h->content_idx < 0) {
                h->content_idx = (int)h->n_fields;
            }
            /* Named groups: the user's literal text may hold its own "(...)" groups. */
            snprintf(grp, sizeof(grp), "(?<lwf%zu>.%s)", h->n_fields, f->greedy ? "*" : "*?");
            sb_add(&re, grp, strlen(grp));
            h->n_fields++;
        }
        p = close + 1;
    }
    sb_add(&re, "$", 1);
    if (re.oom) {
        lw_free(re.p);
        return fail(h, err, err_len, "out of memory", NULL);
    }
    if (h->n_fields == 0) {
        lw_free(re.p);
        return fail(h, err, err_len, "format has no <Field>", format);
    }
    /* The fast matcher handles a greedy field only at the very end (see match_fast()). */
    for (i = 0; i < h->n_fields; i++) {
        if (h->fields[i].greedy && (i + 1 != h->n_fields || h->lit_lens[h->n_fields] != 0)) {
            h->fast_ok = 0;
        }
    }
    /*
     * DOTALL: a field may hold any byte, so a stray '\n' or '\r' inside a line does not make it
     * unmatched; DOLLAR_ENDONLY: '$' is the end of the line, not "before a final newline".
     * No PCRE2_UTF: input is arbitrary bytes.
     */
    h->re = pcre2_compile((PCRE2_SPTR)re.p, re.len, PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY, &errcode,
                          &erroff, NULL);
    lw_free(re.p);
    if (h->re == NULL) {
        char pe[120];

        pcre2_get_error_message(errcode, (PCRE2_UCHAR *)pe, sizeof(pe));
        snprintf(msg, sizeof(msg), "%s (at offset %zu of the generated regex)", pe,
                 (size_t)erroff);
        return fail(h, err, err_len, "bad format", msg);
    }
    (void)pcre2_jit_compile(h->re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
    for (i = 0; i < h->n_fields; i++) {
        char name[32];
        int num;

        snprintf(name, sizeof(name), "lwf%zu", i);
        num = pcre2_substring_number_from_name(h->re, (PCRE2_SPTR)name);
        if (num < 0) {
            return fail(h, err, err_len, "bad format", "field group lost");
        }
        h->fields[i].group = (uint32_t)num;
    }
    return h;
}

struct lw_header *lw_header_create(const char *format, char *err, size_t err_len)
{
    struct lw_header *h;

    if (err != NULL && err_len > 0) {
        err[0] = '\0';
    }
    h = lw_calloc(1, sizeof(*h));
    if (h == NULL) {
        return fail(NULL, err, err_len, "out of memory", NULL);
    }
    h->ref_year = current_year();
    h->fast_on = 1;
    h->content_idx = -1;
    if (format == NULL || strcmp(format, "auto") == 0) {
        h->is_auto = 1;
        return h;
    }
    return compile_format(h, format, err, err_len);
}

void lw_header_destroy(struct lw_header *h)
{
    size_t i;

    if (h == NULL) {
        return;
    }
    for (i = 0; i < LW_HEADER_MAX_FIELDS; i++) {
        lw_free(h->fields[i].name);
    }
    for (i = 0; i <= LW_HEADER_MAX_FIELDS; i++) {
        lw_free(h->lits[i]);
    }
    pcre2_code_free(h->re);
    lw_free(h);
}

size_t lw_header_n_fields(const struct lw_header *h)
{
    return h->is_auto ? 0 : h->n_fields;
}

const char *lw_header_field_name(const struct lw_header *h, size_t i)
{
    if (h->is_auto || i >= h->n_fields) {
        return NULL;
    }
    return h->fields[i].name;
}

void lw_header_set_ref_year(struct lw_header *h, int year)
{
    h->ref_year = year;
}

void lw_header_set_fast_path(struct lw_header *h, int on)
{
    h->fast_on = on;
}

struct lw_header_state *lw_header_state_create(const struct lw_header *h)
{
    struct lw_header_state *st = lw_calloc(1, sizeof(*st));

    if (st == NULL) {
        return NULL;
    }
    st->scratch = lw_malloc(SCRATCH_CAP);
    if (st->scratch == NULL) {
        goto fail_st;
    }
    if (h->re != NULL) {
        /* One match data per thread: pcre2_match() writes into it. */
        st->md = pcre2_match_data_create_from_pattern(h->re, NULL);
        if (st->md == NULL) {
            goto fail_scratch;
        }
    }
    return st;
fail_scratch:
    lw_free(st->scratch);
fail_st:
    lw_free(st);
    return NULL;
}

void lw_header_state_destroy(struct lw_header_state *st)
{
    if (st == NULL) {
        return;
    }
    pcre2_match_data_free(st->md);
    lw_free(st->scratch);
    lw_free(st);
}

/* Matches literal @lit (' ' = \s+) at @p; returns the end position or (size_t)-1. */
static size_t match_lit(const char *lit, size_t lit_len, const char *line, size_t len, size_t p)
{
    size_t i;

    for (i = 0; i < lit_len; i++) {
        if (lit[i] == ' ') {
            if (p >= len || !space_tab[(unsigned char)line[p]]) {
                return (size_t)-1;
            }
            p++;
            while (p < len && space_tab[(unsigned char)line[p]]) {
                p++;
            }
        }
        else {
            if (p >= len || line[p] != lit[i]) {
                return (size_t)-1;
            }
            p++;
        }
    }
    return p;
}

/*
 * The hand-written matcher. Why it exists: on HDFS_2k.log repeated 1000 times (2,000,000 lines,
 * one core of a shared 2-core AMD EPYC VM, Release -O2, best of 5 runs), a whole
 * lw_header_parse() for "<Date> <Time> <Pid> <Level> <Component>: <Content>" (split, timestamp,
 * level) costs ~105 ns/line with this matcher and ~250 ns/line with the PCRE2 JIT match of the
 * same Loghub regex (lw_header_set_fast_path(h, 0)); the PCRE2 match alone is ~2/3 of the
 * budget of 150 ns that header parsing has in the 2,000,000 lines/s pipeline. Runs on the busy
 * VM varied by 2x; the ratio between the two paths stayed at 2-2.5x.
 *
 * Faithfulness: the regex tries, for each lazy field, the shortest length for which the
 * following literal matches (with "\s+" greedy) and then the rest; this matcher takes exactly
 * that first candidate and never backtracks. When the rest then fails, it gives up and the
 * caller runs PCRE2, which explores the remaining candidates. So whenever this succeeds its split
 * is the one PCRE2 would return, and when it fails PCRE2 decides. A greedy field (Content) is
 * only accepted here as the last element, where it simply takes the rest of the line.
 */
static int match_fast(const struct lw_header *h, const char *line, size_t len,
                      struct lw_span *spans)
{
    size_t n = h->n_fields;
    size_t p;
    size_t i;

    p = match_lit(h->lits[0], h->lit_lens[0], line, len, 0);
    if (p == (size_t)-1) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        const char *lit = h->lits[i + 1];
        size_t lit_len = h->lit_lens[i + 1];
        size_t start = p;
        size_t end;

        if (lit_len == 0) {
            /* Last field: up to the end ("$"); otherwise lazy and empty before the next field. */
            end = i + 1 == n ? len : start;
            p = end;
        }
        else {
            size_t k = start;
            size_t q = (size_t)-1;

            for (;;) {
                if (lit[0] == ' ') {
                    while (k < len && !space_tab[(unsigned char)line[k]]) {
                        k++;
                    }
                }
                else {
                    const char *f = k < len ? memchr(line + k, lit[0], len - k) : NULL;

                    k = f ? (size_t)(f - line) : len;
                }
                if (k >= len) {
                    return 0;
                }
                q = match_lit(lit, lit_len, line, len, k);
                if (q != (size_t)-1) {
                    break;
                }
                k++;
            }
            end = k;
            p = q;
        }
        spans[i].p = line + start;
        spans[i].len = end - start;
    }
    return p == len;
}

static int match_pcre(const struct lw_header *h, struct lw_header_state *st, const char *line,
                      size_t len, struct lw_span *spans)
{
    PCRE2_SIZE *ov;
    size_t i;
    int rc;

    rc = pcre2_match(h->re, (PCRE2_SPTR)line, len, 0, 0, st->md, NULL);
    if (rc < 0) {
        return 0; /* no match, or a match/depth limit on a pathological line */
    }
    ov = pcre2_get_ovector_pointer(st->md);
    for (i = 0; i < h->n_fields; i++) {
        uint32_t g = h->fields[i].group;
        PCRE2_SIZE a = ov[2 * g];
        PCRE2_SIZE b = ov[2 * g + 1];

        if ((int)g >= rc || a == PCRE2_UNSET || b < a || b > len) {
            spans[i].p = line + len;
            spans[i].len = 0;
        }
        else {
            spans[i].p = line + a;
            spans[i].len = b - a;
        }
    }
    return 1;
}

/*
 * The timestamp of a format line: the TIME-role fields in format order, joined by one space
 * ("081109" "203615" -> "081109 203615"; "Jun" "14" "15:16:01" -> "Jun 14 15:16:01"). If the
 * join is not a timestamp, each field is tried on its own.
 */
static int64_t format_ts(const struct lw_header *h, struct lw_header_state *st,
                         const struct lw_span *spans)
{
    char buf[TS_JOIN_CAP];
    size_t n = 0;
    size_t i;
    int64_t ts;
    struct ts_cache_ent *ce = NULL;

    for (i = 0; i < h->n_fields; i++) {
        if (h->fields[i].role != LW_FIELD_TIME || spans[i].len == 0) {
            continue;
        }
        if (n + spans[i].len + 1 > sizeof(buf)) {
            break;
        }
        if (n > 0) {
            buf[n++] = ' ';
        }
        memcpy(buf + n, spans[i].p, spans[i].len);
        n += spans[i].len;
    }
    if (n > 0 && n <= TS_CACHE_KEY) {
        ce = &st->ts_last;
        if (ce->len == n && memcmp(ce->key, buf, n) == 0) {
            return ce->ts;
        }
    }
    if (n > 0 && lw_ts_parse(buf, n, h->ref_year, &ts) > 0) {
        if (ce != NULL) {
            ce->len = (uint8_t)n;
            memcpy(ce->key, buf, n);
            ce->ts = ts;
        }
        return ts;
    }
    for (i = 0; i < h->n_fields; i++) {
        if (h->fields[i].role == LW_FIELD_TIME &&
            lw_ts_parse(spans[i].p, spans[i].len, h->ref_year, &ts) > 0) {
            return ts;
        }
    }
    return LW_TS_UNKNOWN;
}

static void result_reset(struct lw_header_result *out, const char *line, size_t len)
{
    out->msg.p = line;
    out->msg.len = len;
    out->ts_ns = LW_TS_UNKNOWN;
    out->level = LW_LEVEL_UNKNOWN;
    out->host.p = line;
    out->host.len = 0;
    out->component.p = line;
    out->component.len = 0;
    out->matched = 0;
    out->layout = "none";
    out->n_fields = 0;
}

int lw_header_parse(const struct lw_header *h, struct lw_header_state *st, const char *line,
                    size_t len, struct lw_header_result *out)
{
    size_t i;

    if (line == NULL) {
        line = "";
        len = 0;
    }
    result_reset(out, line, len);
    if (h->is_auto) {
        lw__header_auto_parse(line, len, h->ref_year, st->scratch, SCRATCH_CAP, out);
        return LW_OK;
    }
    if (!((h->fast_ok && h->fast_on && match_fast(h, line, len, out->fields)) ||
          match_pcre(h, st, line, len, out->fields))) {
        return LW_OK;
    }
    out->matched = 1;
    out->layout = "format";
    out->n_fields = h->n_fields;
    for (i = 0; i < h->n_fields; i++) {
        const struct lw_span *s = &out->fields[i];

        switch (h->fields[i].role) {
        case LW_FIELD_LEVEL:
            if (out->level == LW_LEVEL_UNKNOWN) {
                out->level = lw_level_parse(s->p, s->len);
            }
            break;
        case LW_FIELD_HOST:
            if (out->host.len == 0) {
                out->host = *s;
            }
            break;
        case LW_FIELD_COMPONENT:
            if (out->component.len == 0) {
                out->component = *s;
            }
            break;
        default:
            break;
        }
    }
    if (h->content_idx >= 0) {
        out->msg = out->fields[h->content_idx];
    }
    if (h->has_time) {
        out->ts_ns = format_ts(h, st, out->fields);
    }
    return LW_OK;
}
