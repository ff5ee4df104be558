/*
 * Output of `logwarden parse`: per-line work (header, miner, event formatting) and the template
 * table. Events are formatted by the worker threads into per-chunk buffers, so the writer only
 * copies bytes; that is why the JSON and CSV writers here are hand-written and table-driven
 * rather than built on jansson (one json_t tree per line would cost more than parsing the line).
 *
 * Every string that reaches the output passes through json_str() or csv_str(), which never emit
 * invalid UTF-8: a byte that does not start a valid sequence becomes U+FFFD, so each JSON line is
 * valid JSON whatever the input holds.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/parse.h"
#include "lw/lw_err.h"
#include "lw/lw_level.h"
#include "lw/lw_mem.h"

/* Per byte: 0 copy as is, 1 needs a JSON escape, 2 starts a multi-byte UTF-8 sequence. */
static unsigned char json_class[256];
static int json_class_ready;

static void json_class_init(void)
{
    int c;

    if (json_class_ready) {
        return;
    }
    for (c = 0; c < 256; c++) {
        json_class[c] = c < 0x20 || c == '"' || c == '\\' ? 1 : c >= 0x80 ? 2 : 0;
    }
    json_class_ready = 1;
}

int lw__parse_obuf_reserve(struct lw_parse_obuf *ob, size_t extra)
{
    size_t cap;
    char *np;

    if (ob->cap - ob->len >= extra) {
        return LW_OK;
    }
    if (ob->oom) {
        return LW_ENOMEM;
    }
    cap = ob->cap ? ob->cap : 65536;
    while (cap - ob->len < extra) {
        cap *= 2;
    }
    np = lw_realloc(ob->p, cap);
    if (np == NULL) {
        ob->oom = 1;
        return LW_ENOMEM;
    }
    ob->p = np;
    ob->cap = cap;
    return LW_OK;
}

void lw__parse_obuf_fini(struct lw_parse_obuf *ob)
{
    lw_free(ob->p);
    memset(ob, 0, sizeof(*ob));
}

/* Appends without checking capacity; callers reserve first. */
static inline void put(struct lw_parse_obuf *ob, const char *s, size_t n)
{
    memcpy(ob->p + ob->len, s, n);
    ob->len += n;
}

#define PUT_LIT(ob, lit) put((ob), (lit), sizeof(lit) - 1)

static inline void put_u64(struct lw_parse_obuf *ob, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put(ob, tmp + i, sizeof(tmp) - i);
}

static inline void put_i64(struct lw_parse_obuf *ob, int64_t v)
{
    if (v < 0) {
        ob->p[ob->len++] = '-';
        put_u64(ob, (uint64_t)0 - (uint64_t)v);
    }
    else {
        put_u64(ob, (uint64_t)v);
    }
}

/*
 * Length of the valid UTF-8 sequence starting at @s (which starts with a byte >= 0x80), or 0
 * when it is not one (overlong forms, surrogates and code points above U+10FFFF are invalid).
 */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];

    if (c >= 0xc2 && c <= 0xdf) {
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    }
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80) {
            return 0;
        }
        if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)) {
            return 0;
        }
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
            (s[3] & 0xc0) != 0x80) {
            return 0;
        }
        if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90)) {
            return 0;
        }
        return 4;
    }
    return 0;
}

/* Worst case: every byte becomes "\u00XX" (6 bytes) or U+FFFD (3 bytes), plus the quotes. */
#define JSON_STR_MAX(len) ((len) * 6 + 2)

static void json_str_unchecked(struct lw_parse_obuf *ob, const char *str, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    char *o = ob->p + ob->len;
    size_t i = 0;

    *o++ = '"';
    while (i < len) {
        size_t start = i;
        unsigned char c;

        while (i < len && json_class[s[i]] == 0) {
            i++;
        }
        memcpy(o, s + start, i - start);
        o += i - start;
        if (i >= len) {
            break;
        }
        c = s[i];
        if (json_class[c] == 1) {
            *o++ = '\\';
            switch (c) {
            case '"':
                *o++ = '"';
                break;
            case '\\':
                *o++ = '\\';
                break;
            case '\n':
                *o++ = 'n';
                break;
            case '\r':
                *o++ = 'r';
                break;
            case '\t':
                *o++ = 't';
                break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 0xf];
                break;
            }
            i++;
        }
        else {
            size_t n = utf8_seq_len(s + i, len - i);

            if (n == 0) {
                /* U+FFFD REPLACEMENT CHARACTER for a byte that starts no valid sequence. */
                *o++ = (char)0xef;
                *o++ = (char)0xbf;
                *o++ = (char)0xbd;
                i++;
            }
            else {
                memcpy(o, s + i, n);
                o += n;
                i += n;
            }
        }
    }
    *o++ = '"';
    ob->len = (size_t)(o - ob->p);
}

void lw__parse_json_str(struct lw_parse_obuf *ob, const char *s, size_t len)
{
    json_class_init();
    if (lw__parse_obuf_reserve(ob, JSON_STR_MAX(len)) < 0) {
        return;
    }
    json_str_unchecked(ob, s, len);
}

/*
 * Appends an RFC 4180 CSV field: quoted (with quotes doubled) when it holds a comma, a quote,
 * CR or LF. Invalid UTF-8 becomes U+FFFD here too, so the CSV decodes as UTF-8.
 */
static void csv_str(struct lw_parse_obuf *ob, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    int quote = 0;
    size_t i;
    char *o;

    if (lw__parse_obuf_reserve(ob, len * 3 + 2) < 0) {
        return;
    }
    for (i = 0; i < len; i++) {
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n') {
            quote = 1;
            break;
        }
    }
    o = ob->p + ob->len;
    if (quote) {
        *o++ = '"';
    }
    i = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            if (s[i] == '"') {
                *o++ = '"';
            }
            *o++ = (char)s[i++];
        }
        else {
            size_t n = utf8_seq_len(s + i, len - i);

            if (n == 0) {
                *o++ = (char)0xef;
                *o++ = (char)0xbf;
                *o++ = (char)0xbd;
                i++;
            }
            else {
                memcpy(o, s + i, n);
                o += n;
                i += n;
            }
        }
    }
    if (quote) {
        *o++ = '"';
    }
    ob->len = (size_t)(o - ob->p);
}

/* Fetches the current text of template @id into the worker's buffer; returns its length. */
static long template_text(const struct lw_parse_ctx *ctx, struct lw_parse_worker *w, uint32_t id)
{
    long n = lw_miner_template(ctx->m, id, w->tbuf, w->tbuf_cap);

    while (n >= 0 && (size_t)n >= w->tbuf_cap) {
        size_t cap = w->tbuf_cap * 2;
        char *nb;

        while (cap <= (size_t)n) {
            cap *= 2;
        }
        nb = lw_realloc(w->tbuf, cap);
        if (nb == NULL) {
            return LW_ENOMEM;
        }
        w->tbuf = nb;
        w->tbuf_cap = cap;
        n = lw_miner_template(ctx->m, id, w->tbuf, w->tbuf_cap);
    }
    if (n < 0) {
        /* Evicted between add and now (a tiny cap under heavy churn): say so, stay valid. */
        w->tbuf[0] = '\0';
        n = 0;
    }
    return n;
}

/* The params as a JSON array; used by both output formats. */
static void put_params(struct lw_parse_obuf *ob, const char *msg, const struct lw_match *mt)
{
    size_t i;

    if (lw__parse_obuf_reserve(ob, 2) < 0) {
        return;
    }
    ob->p[ob->len++] = '[';
    for (i = 0; i < mt->n_params; i++) {
        if (i > 0) {
            if (lw__parse_obuf_reserve(ob, 1) < 0) {
                return;
            }
            ob->p[ob->len++] = ',';
        }
        lw__parse_json_str(ob, msg + mt->params[i].off, mt->params[i].len);
    }
    if (lw__parse_obuf_reserve(ob, 1) < 0) {
        return;
    }
    ob->p[ob->len++] = ']';
}

static void format_jsonl(const struct lw_parse_ctx *ctx, const struct lw_header_result *res,
                         const struct lw_match *mt, const char *tpl, size_t tpl_len,
                         uint32_t flags, uint64_t lineno, uint32_t file_idx,
                         struct lw_parse_obuf *ob)
{
    const char *lvl = lw_level_name(res->level);

    if (lw__parse_obuf_reserve(ob, 160 + JSON_STR_MAX(tpl_len)) < 0) {
        return;
    }
    PUT_LIT(ob, "{\"line\":");
    put_u64(ob, lineno);
    if (res->ts_ns == LW_TS_UNKNOWN) {
        PUT_LIT(ob, ",\"ts\":null");
    }
    else {
        PUT_LIT(ob, ",\"ts\":");
        put_i64(ob, res->ts_ns);
    }
    if (lvl == NULL || lvl[0] == '\0') {
        PUT_LIT(ob, ",\"level\":null");
    }
    else {
        PUT_LIT(ob, ",\"level\":\"");
        put(ob, lvl, strlen(lvl));
        ob->p[ob->len++] = '"';
    }
    PUT_LIT(ob, ",\"template_id\":");
    put_u64(ob, mt->template_id);
    PUT_LIT(ob, ",\"template\":");
    json_str_unchecked(ob, tpl, tpl_len);
    PUT_LIT(ob, ",\"params\":");
    put_params(ob, res->msg.p, mt);
    if (res->host.len > 0 && lw__parse_obuf_reserve(ob, 16) == 0) {
        PUT_LIT(ob, ",\"host\":");
        lw__parse_json_str(ob, res->host.p, res->host.len);
    }
    if (res->component.len > 0 && lw__parse_obuf_reserve(ob, 16) == 0) {
        PUT_LIT(ob, ",\"component\":");
        lw__parse_json_str(ob, res->component.p, res->component.len);
    }
    if (ctx->opts->n_files > 1 && lw__parse_obuf_reserve(ob, 16) == 0) {
        const char *f = ctx->opts->files[file_idx];

        PUT_LIT(ob, ",\"file\":");
        lw__parse_json_str(ob, f, strlen(f));
    }
    if (lw__parse_obuf_reserve(ob, 64) < 0) {
        return;
    }
    if (flags & LW_LINE_TRUNCATED) {
        PUT_LIT(ob, ",\"truncated\":true");
    }
    if (flags & LW_LINE_INVALID) {
        PUT_LIT(ob, ",\"invalid_utf8\":true");
    }
    if (flags & LW_LINE_MULTI) {
        PUT_LIT(ob, ",\"multiline\":true");
    }
    PUT_LIT(ob, "}\n");
}

static void format_csv(const struct lw_header_result *res, const struct lw_match *mt,
                       const char *tpl, size_t tpl_len, uint64_t lineno,
                       struct lw_parse_obuf *ob)
{
    struct lw_parse_obuf pj;
    const char *lvl = lw_level_name(res->level);

    if (lw__parse_obuf_reserve(ob, 96) < 0) {
        return;
    }
    put_u64(ob, lineno);
    ob->p[ob->len++] = ',';
    if (res->ts_ns != LW_TS_UNKNOWN) {
        put_i64(ob, res->ts_ns);
    }
    ob->p[ob->len++] = ',';
    if (lvl != NULL) {
        put(ob, lvl, strlen(lvl));
    }
    ob->p[ob->len++] = ',';
    put_u64(ob, mt->template_id);
    ob->p[ob->len++] = ',';
    csv_str(ob, tpl, tpl_len);
    if (lw__parse_obuf_reserve(ob, 1) < 0) {
        return;
    }
    ob->p[ob->len++] = ',';
    /* The params column holds a JSON array, so parameters with spaces or commas survive. */
    memset(&pj, 0, sizeof(pj));
    put_params(&pj, res->msg.p, mt);
    if (pj.oom) {
        ob->oom = 1;
    }
    else {
        csv_str(ob, pj.p, pj.len);
    }
    lw__parse_obuf_fini(&pj);
    if (lw__parse_obuf_reserve(ob, 2) < 0) {
        return;
    }
    PUT_LIT(ob, "\r\n");
}

int lw__parse_line(const struct lw_parse_ctx *ctx, struct lw_parse_worker *w, const char *data,
                   size_t len, uint32_t flags, uint64_t lineno, uint32_t file_idx,
                   struct lw_parse_obuf *ob)
{
    struct lw_header_result res;
    struct lw_match mt;
    long tpl_len;
    const char *tpl;
    size_t cap_len = 0;
    int rc;

    rc = lw_header_parse(ctx->h, w->hst, data, len, &res);
    if (rc < 0) {
        return rc;
    }
    if (!res.matched) {
        w->n_mismatch++;
    }
    rc = lw_miner_add(ctx->m, w->ms, res.msg.p, res.msg.len, res.ts_ns, &mt);
    if (rc < 0) {
        return rc;
    }
    w->n_new += (uint64_t)mt.is_new;
    if (ctx->opts->output == LW_PARSE_OUTPUT_NONE) {
        return LW_OK;
    }
    /* The text captured with the params agrees with them even under -j N. */
    tpl = lw_miner_scratch_text(w->ms, &cap_len);
    if (tpl == NULL) {
        tpl_len = template_text(ctx, w, mt.template_id);
        if (tpl_len < 0) {
            return (int)tpl_len;
        }
        tpl = w->tbuf;
        cap_len = (size_t)tpl_len;
    }
    if (ctx->opts->output == LW_PARSE_OUTPUT_JSONL) {
        format_jsonl(ctx, &res, &mt, tpl, cap_len, flags, lineno, file_idx, ob);
    }
    else {
        format_csv(&res, &mt, tpl, cap_len, lineno, ob);
    }
    return ob->oom ? LW_ENOMEM : LW_OK;
}

int lw__parse_worker_init(struct lw_parse_worker *w, const struct lw_parse_ctx *ctx)
{
    memset(w, 0, sizeof(*w));
    json_class_init();
    w->hst = lw_header_state_create(ctx->h);
    w->ms = lw_miner_scratch_create(ctx->m);
    w->tbuf_cap = 4096;
    w->tbuf = lw_malloc(w->tbuf_cap);
    if (w->hst == NULL || w->ms == NULL || w->tbuf == NULL) {
        lw__parse_worker_fini(w);
        return LW_ENOMEM;
    }
    if (ctx->opts->output != LW_PARSE_OUTPUT_NONE) {
        lw_miner_scratch_params(w->ms, 1);
    }
    return LW_OK;
}

void lw__parse_worker_fini(struct lw_parse_worker *w)
{
    lw_header_state_destroy(w->hst);
    lw_miner_scratch_destroy(w->ms); /* flushes the worker's pending counts */
    lw_free(w->tbuf);
    w->hst = NULL;
    w->ms = NULL;
    w->tbuf = NULL;
}

void lw__parse_out_header(const struct lw_parse_ctx *ctx)
{
    if (ctx->opts->output == LW_PARSE_OUTPUT_CSV) {
        fputs("line,ts,level,template_id,template,params\r\n", ctx->out);
    }
}

void lw__parse_iso8601(int64_t ts_ns, char *buf, size_t cap)
{
    struct tm tm;
    time_t s;
    int64_t ns;

    if (ts_ns == LW_TS_UNKNOWN) {
        snprintf(buf, cap, "-");
        return;
    }
    s = (time_t)(ts_ns / 1000000000);
    ns = ts_ns % 1000000000;
    if (ns < 0) {
        ns += 1000000000;
        s--;
    }
    if (gmtime_r(&s, &tm) == NULL) {
        snprintf(buf, cap, "-");
        return;
    }
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ns / 1000000));
}

/* A copy of one template for sorting by count. */
struct tpl_row {
    uint32_t id;
    uint64_t count;
    int64_t first_ns;
    int64_t last_ns;
    char *text;
    size_t text_len;
};

struct tpl_rows {
    struct tpl_row *v;
    size_t n;
    size_t cap;
    int oom;
};

static int collect_row(void *opaque, const struct lw_template_info *t)
{
    struct tpl_rows *rows = opaque;
    struct tpl_row *r;

    if (rows->n == rows->cap) {
        size_t cap = rows->cap ? rows->cap * 2 : 256;
        struct tpl_row *nv = lw_realloc(rows->v, cap * sizeof(*nv));

        if (nv == NULL) {
            rows->oom = 1;
            return 1;
        }
        rows->v = nv;
        rows->cap = cap;
    }
    r = &rows->v[rows->n];
    r->text_len = strlen(t->text);
    r->text = lw_strndup(t->text, r->text_len);
    if (r->text == NULL) {
        rows->oom = 1;
        return 1;
    }
    r->id = t->id;
    r->count = t->count;
    r->first_ns = t->first_seen_ns;
    r->last_ns = t->last_seen_ns;
    rows->n++;
    return 0;
}

static int cmp_count_desc(const void *a, const void *b)
{
    const struct tpl_row *x = a;
    const struct tpl_row *y = b;

    if (x->count != y->count) {
        return x->count > y->count ? -1 : 1;
    }
    return x->id < y->id ? -1 : x->id > y->id;
}

static void put_ts_json(struct lw_parse_obuf *ob, int64_t ts_ns)
{
    char iso[48];

    if (ts_ns == LW_TS_UNKNOWN) {
        PUT_LIT(ob, "null");
        return;
    }
    lw__parse_iso8601(ts_ns, iso, sizeof(iso));
    ob->p[ob->len++] = '"';
    put(ob, iso, strlen(iso));
    ob->p[ob->len++] = '"';
}

int lw__parse_out_templates(const struct lw_parse_ctx *ctx)
{
    const struct lw_parse_opts *o = ctx->opts;
    struct tpl_rows rows;
    struct lw_parse_obuf ob;
    char first[48], last[48];
    size_t i, n;
    int rc = LW_OK;

    memset(&rows, 0, sizeof(rows));
    memset(&ob, 0, sizeof(ob));
    lw_miner_foreach(ctx->m, collect_row, &rows);
    if (rows.oom) {
        rc = LW_ENOMEM;
        goto out;
    }
    /* Without --top the table is in id order (foreach order); with it, by count. */
    if (o->top > 0) {
        qsort(rows.v, rows.n, sizeof(*rows.v), cmp_count_desc);
    }
    n = o->top > 0 && o->top < rows.n ? o->top : rows.n;
    if (o->output == LW_PARSE_OUTPUT_CSV) {
        fputs("\r\nid,count,first_seen,last_seen,template\r\n", ctx->out);
    }
    else if (o->output == LW_PARSE_OUTPUT_NONE) {
        fprintf(ctx->out, "%10s %12s %-24s %-24s %s\n", "id", "count", "first_seen",
                "last_seen", "template");
    }
    for (i = 0; i < n; i++) {
        const struct tpl_row *r = &rows.v[i];

        ob.len = 0;
        if (lw__parse_obuf_reserve(&ob, 256 + JSON_STR_MAX(r->text_len)) < 0) {
            rc = LW_ENOMEM;
            goto out;
        }
        if (o->output == LW_PARSE_OUTPUT_JSONL) {
            PUT_LIT(&ob, "{\"type\":\"template\",\"id\":");
            put_u64(&ob, r->id);
            PUT_LIT(&ob, ",\"count\":");
            put_u64(&ob, r->count);
            PUT_LIT(&ob, ",\"first_seen\":");
            put_ts_json(&ob, r->first_ns);
            PUT_LIT(&ob, ",\"last_seen\":");
            put_ts_json(&ob, r->last_ns);
            PUT_LIT(&ob, ",\"template\":");
            json_str_unchecked(&ob, r->text, r->text_len);
            PUT_LIT(&ob, "}\n");
        }
        else {
            lw__parse_iso8601(r->first_ns, first, sizeof(first));
            lw__parse_iso8601(r->last_ns, last, sizeof(last));
            if (o->output == LW_PARSE_OUTPUT_CSV) {
                put_u64(&ob, r->id);
                ob.p[ob.len++] = ',';
                put_u64(&ob, r->count);
                ob.p[ob.len++] = ',';
                put(&ob, first, strlen(first));
                ob.p[ob.len++] = ',';
                put(&ob, last, strlen(last));
                ob.p[ob.len++] = ',';
                csv_str(&ob, r->text, r->text_len);
                if (lw__parse_obuf_reserve(&ob, 2) == 0) {
                    PUT_LIT(&ob, "\r\n");
                }
            }
            else {
                char head[128];
                size_t k;
                int hn = snprintf(head, sizeof(head), "%10lu %12llu %-24s %-24s ",
                                  (unsigned long)r->id, (unsigned long long)r->count, first,
                                  last);

                put(&ob, head, (size_t)hn);
                /* The text table stays one row per template: line breaks become spaces. */
                for (k = 0; k < r->text_len; k++) {
                    char c = r->text[k];

                    if (c == '\n' || c == '\r' || c == '\t') {
                        ob.p[ob.len++] = ' ';
                    }
                    else {
                        ob.p[ob.len++] = c;
                    }
                }
                ob.p[ob.len++] = '\n';
            }
        }
        if (ob.oom) {
            rc = LW_ENOMEM;
            goto out;
        }
        fwrite(ob.p, 1, ob.len, ctx->out);
    }
out:
    for (i = 0; i < rows.n; i++) {
        lw_free(rows.v[i].text);
    }
    lw_free(rows.v);
    lw__parse_obuf_fini(&ob);
    return rc;
}
