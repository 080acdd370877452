// llamacpp_dump.c — pipeserve's reference dumper built on llama.cpp's public C API (llama.h, tag b11434).
//
// For every prompt in a JSON file it prints (as JSON on stdout):
//   - the prompt token ids            (llama_tokenize, add_special=true, parse_special per prompt)
//   - the top-k (token id, logit)      at the last prompt position (raw logits, k = 10 by default)
//   - the greedy continuation          of exactly N token ids (default 32): argmax over the raw logits,
//                                      never stopping at EOS/EOG, no sampler chain
// Each prompt is evaluated in a fresh context (no state carried over between prompts).
//
// Build (see scripts/make-llamacpp-fixtures):
//   cc -O2 -std=c11 -I$SRC/include -I$SRC/ggml/include llamacpp_dump.c -L$BUILD/bin -lllama
//      -Wl,-rpath,$BUILD/bin -o llamacpp_dump
//
// Usage:
//   llamacpp_dump --model M.gguf --prompts prompts.json [--threads 2] [--n-batch 512] [--n-ubatch 512]
//                 [--feed batch|token] [--flash-attn on|off|auto] [--n-ctx 1024] [--n-predict 32]
//                 [--top-k 10] [--verbose]
//
// prompts.json: a JSON array whose elements are either strings or objects
//   {"name": "...", "text": "...", "parse_special": false}
// --feed batch : the whole prompt goes into one llama_decode call (split into n_ubatch-sized micro-batches
//                by llama.cpp itself); --feed token : one llama_decode call per prompt token.
// Output: {"llama_cpp_system": "...", "settings": {...}, "results": [{"name", "prompt_tokens", "top10",
//          "greedy"}, ...]}
#define _POSIX_C_SOURCE 200809L  // strdup
#include "llama.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------------------------------------
// Tiny JSON reader: just enough for an array of strings / flat objects with string, bool and number values.

typedef struct {
    const char *s;
    size_t i, n;
} jreader;

typedef struct {
    char *name;
    char *text;
    size_t text_len;
    bool parse_special;
} prompt_t;

static void die(const char *msg) {
    fprintf(stderr, "llamacpp_dump: %s\n", msg);
    exit(1);
}

static void jskip(jreader *r) {
    while (r->i < r->n && isspace((unsigned char)r->s[r->i])) r->i++;
}

static int jpeek(jreader *r) {
    jskip(r);
    return r->i < r->n ? (unsigned char)r->s[r->i] : -1;
}

static void jexpect(jreader *r, char c) {
    if (jpeek(r) != c) {
        fprintf(stderr, "llamacpp_dump: JSON: expected '%c' at offset %zu\n", c, r->i);
        exit(1);
    }
    r->i++;
}

static unsigned jhex4(jreader *r) {
    if (r->i + 4 > r->n) die("JSON: truncated \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = r->s[r->i++];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else die("JSON: bad \\u escape");
    }
    return v;
}

static size_t utf8_put(char *out, unsigned cp) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F)); return 4;
}

// Parses a JSON string; returns a malloc'd, NUL-terminated UTF-8 buffer (length in *len; may contain NULs).
static char *jstring(jreader *r, size_t *len) {
    jexpect(r, '"');
    size_t cap = 64, n = 0;
    char *out = malloc(cap);
    for (;;) {
        if (r->i >= r->n) die("JSON: unterminated string");
        if (n + 8 > cap) { cap *= 2; out = realloc(out, cap); }
        char c = r->s[r->i++];
        if (c == '"') break;
        if (c != '\\') { out[n++] = c; continue; }
        if (r->i >= r->n) die("JSON: bad escape");
        char e = r->s[r->i++];
        switch (e) {
            case '"': out[n++] = '"'; break;
            case '\\': out[n++] = '\\'; break;
            case '/': out[n++] = '/'; break;
            case 'b': out[n++] = '\b'; break;
            case 'f': out[n++] = '\f'; break;
            case 'n': out[n++] = '\n'; break;
            case 'r': out[n++] = '\r'; break;
            case 't': out[n++] = '\t'; break;
            case 'u': {
                unsigned cp = jhex4(r);
                if (cp >= 0xD800 && cp < 0xDC00) {  // surrogate pair
                    if (r->i + 6 <= r->n && r->s[r->i] == '\\' && r->s[r->i + 1] == 'u') {
                        r->i += 2;
                        unsigned lo = jhex4(r);
                        if (lo < 0xDC00 || lo > 0xDFFF) die("JSON: bad low surrogate");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else die("JSON: lone high surrogate");
                }
                n += utf8_put(out + n, cp);
                break;
            }
            default: die("JSON: unknown escape");
        }
    }
    out[n] = 0;
    if (len) *len = n;
    return out;
}

// Skips any JSON value (used for unknown keys).
static void jskip_value(jreader *r) {
    int c = jpeek(r);
    if (c == '"') { free(jstring(r, NULL)); return; }
    if (c == '{' || c == '[') {
        char open = (char)c, close = c == '{' ? '}' : ']';
        r->i++;
        if (jpeek(r) == close) { r->i++; return; }
        for (;;) {
            if (open == '{') { free(jstring(r, NULL)); jexpect(r, ':'); }
            jskip_value(r);
            if (jpeek(r) == ',') { r->i++; continue; }
            jexpect(r, close);
            return;
        }
    }
    while (r->i < r->n && !strchr(",}] \t\r\n", r->s[r->i])) r->i++;  // number / true / false / null
}

static bool jbool(jreader *r) {
    jskip(r);
    if (r->n - r->i >= 4 && strncmp(r->s + r->i, "true", 4) == 0) { r->i += 4; return true; }
    if (r->n - r->i >= 5 && strncmp(r->s + r->i, "false", 5) == 0) { r->i += 5; return false; }
    die("JSON: expected true/false");
    return false;
}

static prompt_t *read_prompts(const char *path, int *count) {
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open prompts file");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 1);
    if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) die("cannot read prompts file");
    fclose(f);
    buf[sz] = 0;

    jreader r = {buf, 0, (size_t)sz};
    int cap = 16, n = 0;
    prompt_t *ps = calloc((size_t)cap, sizeof *ps);
    jexpect(&r, '[');
    if (jpeek(&r) == ']') { r.i++; goto done; }
    for (;;) {
        if (n == cap) { cap *= 2; ps = realloc(ps, (size_t)cap * sizeof *ps); }
        prompt_t p = {0};
        if (jpeek(&r) == '"') {
            p.text = jstring(&r, &p.text_len);
        } else {
            jexpect(&r, '{');
            if (jpeek(&r) != '}') {
                for (;;) {
                    char *key = jstring(&r, NULL);
                    jexpect(&r, ':');
                    if (strcmp(key, "name") == 0) p.name = jstring(&r, NULL);
                    else if (strcmp(key, "text") == 0) p.text = jstring(&r, &p.text_len);
                    else if (strcmp(key, "parse_special") == 0) p.parse_special = jbool(&r);
                    else jskip_value(&r);
                    free(key);
                    if (jpeek(&r) == ',') { r.i++; continue; }
                    break;
                }
            }
            jexpect(&r, '}');
        }
        if (!p.text) die("prompt without \"text\"");
        if (!p.name) {
            char tmp[32];
            snprintf(tmp, sizeof tmp, "prompt-%d", n);
            p.name = strdup(tmp);
        }
        ps[n++] = p;
        if (jpeek(&r) == ',') { r.i++; continue; }
        jexpect(&r, ']');
        break;
    }
done:
    free(buf);
    *count = n;
    return ps;
}

static void print_json_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p == '\n') fputs("\\n", stdout);
        else if (*p == '\t') fputs("\\t", stdout);
        else if (*p == '\r') fputs("\\r", stdout);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

// ---------------------------------------------------------------------------------------------------------

static bool g_verbose = false;

static double now_s(void) { return (double)llama_time_us() * 1e-6; }

static void log_cb(enum ggml_log_level level, const char *text, void *user) {
    (void)user;
    if (g_verbose || level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

typedef struct {
    int id;
    float logit;
} cand_t;

static int cand_cmp(const void *a, const void *b) {
    const cand_t *x = a, *y = b;
    if (x->logit > y->logit) return -1;
    if (x->logit < y->logit) return 1;
    return x->id - y->id;  // ties: lower token id first
}

// Top-k of a logits row by a single partial-insertion pass.
static void top_k(const float *logits, int n_vocab, int k, cand_t *out) {
    int have = 0;
    for (int i = 0; i < n_vocab; i++) {
        cand_t c = {i, logits[i]};
        if (have == k && cand_cmp(&c, &out[k - 1]) >= 0) continue;
        int j = have < k ? have++ : k - 1;
        while (j > 0 && cand_cmp(&c, &out[j - 1]) < 0) { out[j] = out[j - 1]; j--; }
        out[j] = c;
    }
}

static int argmax(const float *logits, int n_vocab) {
    int best = 0;
    for (int i = 1; i < n_vocab; i++)
        if (logits[i] > logits[best]) best = i;  // strict: ties keep the lowest id
    return best;
}

// Decodes tokens[0..n) at positions pos0.. as one llama_decode call; only the last token yields logits.
static void decode_span(struct llama_context *ctx, struct llama_batch *b, const llama_token *tokens, int n,
                        int pos0) {
    b->n_tokens = n;
    for (int i = 0; i < n; i++) {
        b->token[i] = tokens[i];
        b->pos[i] = pos0 + i;
        b->n_seq_id[i] = 1;
        b->seq_id[i][0] = 0;
        b->logits[i] = (i == n - 1);
    }
    int rc = llama_decode(ctx, *b);
    if (rc != 0) {
        fprintf(stderr, "llamacpp_dump: llama_decode failed (%d) at pos %d, n=%d\n", rc, pos0, n);
        exit(1);
    }
}

static void usage(void) {
    fprintf(stderr,
            "usage: llamacpp_dump --model M.gguf --prompts P.json [--threads N] [--n-batch N] [--n-ubatch N]\n"
            "                     [--feed batch|token] [--flash-attn on|off|auto] [--n-ctx N] [--n-predict N]\n"
            "                     [--top-k K] [--verbose]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *prompts_path = NULL, *feed = "batch", *fa = "off";
    int threads = 2, n_batch = 512, n_ubatch = 512, n_ctx = 1024, n_predict = 32, k = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(a, name) == 0 && v && (i++, 1))
        if (OPT("--model")) model_path = v;
        else if (OPT("--prompts")) prompts_path = v;
        else if (OPT("--threads")) threads = atoi(v);
        else if (OPT("--n-batch")) n_batch = atoi(v);
        else if (OPT("--n-ubatch")) n_ubatch = atoi(v);
        else if (OPT("--feed")) feed = v;
        else if (OPT("--flash-attn")) fa = v;
        else if (OPT("--n-ctx")) n_ctx = atoi(v);
        else if (OPT("--n-predict")) n_predict = atoi(v);
        else if (OPT("--top-k")) k = atoi(v);
        else if (strcmp(a, "--verbose") == 0) g_verbose = true;
        else usage();
#undef OPT
    }
    if (!model_path || !prompts_path || threads < 1 || n_batch < 1 || n_ubatch < 1 || k < 1 || n_predict < 0)
        usage();
    bool feed_token = strcmp(feed, "token") == 0;
    if (!feed_token && strcmp(feed, "batch") != 0) usage();
    enum llama_flash_attn_type fa_type;
    if (strcmp(fa, "on") == 0) fa_type = LLAMA_FLASH_ATTN_TYPE_ENABLED;
    else if (strcmp(fa, "off") == 0) fa_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    else if (strcmp(fa, "auto") == 0) fa_type = LLAMA_FLASH_ATTN_TYPE_AUTO;
    else usage();

    int n_prompts = 0;
    prompt_t *prompts = read_prompts(prompts_path, &n_prompts);

    llama_log_set(log_cb, NULL);
    llama_backend_init();

    double t_start = now_s();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model *model = llama_model_load_from_file(model_path, mp);
    if (!model) die("failed to load model");
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    const int n_vocab = llama_vocab_n_tokens(vocab);
    if (g_verbose) fprintf(stderr, "llamacpp_dump: model loaded in %.2f s\n", now_s() - t_start);

    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)n_ctx;
    cp.n_batch = (uint32_t)n_batch;
    cp.n_ubatch = (uint32_t)n_ubatch;
    cp.n_seq_max = 1;
    cp.n_outputs_max = 1;  // only the last position's logits are ever requested (saves a n_batch x n_vocab buffer)
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.flash_attn_type = fa_type;
    cp.no_perf = true;

    printf("{\"llama_cpp_system\": ");
    print_json_string(llama_print_system_info());
    printf(",\n \"settings\": {\"threads\": %d, \"n_batch\": %d, \"n_ubatch\": %d, \"feed\": \"%s\", "
           "\"flash_attn\": \"%s\", \"n_ctx\": %d, \"n_predict\": %d},\n \"results\": [",
           threads, n_batch, n_ubatch, feed_token ? "token" : "batch", fa, n_ctx, n_predict);

    cand_t *top = malloc((size_t)k * sizeof *top);
    for (int p = 0; p < n_prompts; p++) {
        const prompt_t *pr = &prompts[p];
        int cap = (int)pr->text_len + 16;
        llama_token *toks = malloc((size_t)cap * sizeof *toks);
        int n_tok = llama_tokenize(vocab, pr->text, (int32_t)pr->text_len, toks, cap, true, pr->parse_special);
        if (n_tok < 0) die("llama_tokenize: buffer too small");
        if (n_tok == 0) die("prompt tokenized to zero tokens");
        if (n_tok + n_predict > n_ctx) die("prompt + n_predict exceeds --n-ctx");
        if (!feed_token && n_tok > n_batch) die("prompt longer than --n-batch in batch feed mode");

        double t0 = now_s();
        struct llama_context *ctx = llama_init_from_model(model, cp);
        if (!ctx) die("failed to create context");
        struct llama_batch b = llama_batch_init(feed_token ? 1 : n_tok, 0, 1);

        if (feed_token) {
            for (int i = 0; i < n_tok; i++) decode_span(ctx, &b, toks + i, 1, i);
        } else {
            decode_span(ctx, &b, toks, n_tok, 0);
        }
        double t1 = now_s();
        const float *logits = llama_get_logits_ith(ctx, -1);
        if (!logits) die("no logits");
        int kk = k < n_vocab ? k : n_vocab;
        top_k(logits, n_vocab, kk, top);

        printf("%s\n  {\"name\": ", p ? "," : "");
        print_json_string(pr->name);
        printf(", \"parse_special\": %s,\n   \"prompt_tokens\": [", pr->parse_special ? "true" : "false");
        for (int i = 0; i < n_tok; i++) printf("%s%d", i ? ", " : "", toks[i]);
        printf("],\n   \"top10\": [");
        for (int i = 0; i < kk; i++) printf("%s[%d, %.9g]", i ? ", " : "", top[i].id, top[i].logit);
        printf("],\n   \"greedy\": [");

        // Greedy: argmax of raw logits, one token per llama_decode, never stopping at EOG.
        llama_token next = argmax(logits, n_vocab);
        for (int g = 0; g < n_predict; g++) {
            printf("%s%d", g ? ", " : "", next);
            if (g + 1 == n_predict) break;
            decode_span(ctx, &b, &next, 1, n_tok + g);
            next = argmax(llama_get_logits_ith(ctx, -1), n_vocab);
        }
        printf("]}");
        fflush(stdout);
        if (g_verbose)
            fprintf(stderr, "llamacpp_dump: %s: %d prompt tokens, context+prefill %.2f s, greedy %.2f s\n", pr->name,
                    n_tok, t1 - t0, now_s() - t1);

        llama_batch_free(b);
        llama_free(ctx);
        free(toks);
    }
    printf("\n ]}\n");

    free(top);
    llama_model_free(model);
    llama_backend_free();
    for (int p = 0; p < n_prompts; p++) { free(prompts[p].name); free(prompts[p].text); }
    free(prompts);
    return 0;
}
