#!/usr/bin/env python3
"""Serving benchmark client: streams OpenAI completions from one server and times every token.

  scripts/bench/serving_client.py --url http://127.0.0.1:PORT --workload WORKLOAD
      [--requests N] [--users U] [--max-tokens T] [--prompt-tokens P] [--rate R]
      [--seed S] [--label TEXT] [--json-out FILE] [--timeout SECONDS] [--model NAME]
      [--extra-json '{"response_format": {...}, "temperature": 0.8}']

Python 3 standard library only: asyncio with raw HTTP/1.1 over asyncio streams (one connection
per request, `Connection: close`), so the client itself takes little CPU on a machine it
shares with the server; its own CPU share is measured and reported (process CPU time over wall
time, in % of one core). Works against `pipeserve serve` and `llama-server` alike: both accept
`stream: true`, `temperature: 0`, `ignore_eos: true` and `stream_options.include_usage`.

Workloads (defaults in brackets; prompt sizes are approximate, the servers' `usage` gives the
real counts, reported as prompt_tokens_mean):
  single         1 user, N requests in a row [8], distinct ~130-token prompts, 128 output tokens
  concurrent     16 users (closed loop), 32 requests, same prompts and outputs as single
  shared-prefix  4 concurrent chats (/v1/chat/completions), 16 requests: every one opens with
                 the same ~350-word system message, then its own ~50-word user message
                 (~400 words in all), 32 output tokens — the one workload where a server's
                 prefix cache may legitimately hit
  long-prompt    4 streams decode (~130-token prompts, open-ended, closed at the end) while
                 N [2] ~2,000-token prompts (16 output tokens) arrive one after another; the
                 decoding streams' inter-token gaps are split into "solo" windows (the 3 s
                 before each long prompt) and "prefill" windows (from sending a long prompt to
                 its first token); reports the p50/p90/p99/max of both and the long TTFT
  prefix-ttft    1 user, N [6] pairs in a row: a cold chat request opening with a fresh ~1,000-token
                 system message (never seen by the server), then a warm one with the same system
                 message and another question; 8 output tokens; reports cold and warm TTFT and
                 warm_speedup = cold TTFT p50 / warm TTFT p50 (what a prefix cache saves)
  poisson        N requests [32] arriving as a Poisson process at --rate req/s [0.5] (open
                 loop), ~130-token prompts, 128 output tokens; reports p90 end-to-end latency

--extra-json merges a JSON object into every request body (after the defaults: it may override
temperature, add a seed or a response_format); scripts/bench-structured uses it to time the same
workload with and without an output constraint.

Per request: TTFT (send to first token), every inter-token gap, end-to-end latency, output
tokens. A "token" event is an SSE chunk carrying non-empty text; both servers normally send one
token per chunk. The output token count is the server's `usage.completion_tokens` when it sends
one (otherwise the chunk count); tokens_per_chunk in the result says whether chunks carried more
than one token (then the gaps are per chunk, and TPOT = (e2e - TTFT) / (tokens - 1) is the
per-token figure). Prompts are deterministic text from --seed (word lists), distinct per request
(and per seed: use a different seed per round so a server kept running never sees a prompt twice).

Output: one JSON object per run on stdout (and appended to --json-out), one readable line on
stderr. Exit status 1 if any request failed.
"""
import argparse
import asyncio
import json
import os
import random
import resource
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import pipeserve_live as live  # noqa: E402  (raw HTTP/1.1 shared with the other live-daemon scripts)

# ---------------------------------------------------------------------------------------------
# Deterministic prompts

WORDS = """
time year people way day man thing woman life child world school state family student group
country problem hand part place case week company system program question work government
number night point home water room mother area money story fact month lot right study book eye
job word business issue side kind head house service friend father power hour game line end
member law car city community name president team minute idea kid body information back parent
face others level office door health person art war history party result change morning reason
research girl guy moment air teacher force education foot boy age policy music market sense
nation plan college interest death experience effect use class control care field development
role effort rate heart drug show leader light voice wife police mind price report decision son
view relationship town road arm difference value building action model season society tax
director position player record paper space ground form event official matter center couple
site project activity star table need court oil situation cost industry figure street image
phone data picture practice piece land product doctor wall patient worker news test movie north
love support technology step baby computer type attention film tree source organization hair
window evidence population site river island garden bridge mountain forest valley harbor engine
signal message letter number surface circle square pattern method theory process material
energy metal glass stone cloud storm winter summer autumn spring ocean desert village castle
kitchen library museum station market bottle basket candle ladder needle pocket rabbit
""".split()
ADJECTIVES = """
new good high old great big small large long young important public bad real best strong
early free clear full special easy recent certain personal open red difficult available
likely short single medical current wrong private past foreign fine common poor natural
significant similar hot dead central happy serious ready simple left physical general
environmental financial blue democratic dark various entire close legal religious cold final
main green nice huge popular traditional cultural quiet bright narrow gentle ancient modern
silent rapid careful curious honest brave calm distant empty heavy hidden quick rare rough
""".split()
VERBS = """
is has does says gets makes goes knows takes sees comes thinks looks wants gives uses finds
tells asks works seems feels tries leaves calls keeps lets begins helps shows hears plays runs
moves lives believes holds brings happens writes provides sits stands loses pays meets
includes continues sets learns changes leads understands watches follows stops creates speaks
reads allows adds spends grows opens walks wins offers remembers considers appears buys waits
serves dies sends expects builds stays falls cuts reaches kills remains suggests raises passes
sells requires reports decides pulls carries explains develops hopes drives breaks receives
""".split()
FILLERS = "the a this that every each some one another our their my your its".split()
PREPS = "in on at with from under over near behind beside through across after before".split()


def sentence(rng):
    """One sentence of 8-14 words, e.g. 'The quiet engine near a river keeps every letter.'"""
    words = [rng.choice(FILLERS), rng.choice(ADJECTIVES), rng.choice(WORDS), rng.choice(PREPS),
             rng.choice(FILLERS), rng.choice(WORDS), rng.choice(VERBS)]
    for _ in range(rng.randint(1, 7)):
        words.append(rng.choice(rng.choice((WORDS, ADJECTIVES, FILLERS, PREPS))))
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def text_of_words(rng, n_words):
    """Deterministic prose of about n_words words (whole sentences)."""
    out, count = [], 0
    while count < n_words:
        s = sentence(rng)
        out.append(s)
        count += s.count(" ") + 1
    return " ".join(out)


# Gemma 3's SentencePiece vocabulary gives ~1.14 tokens per word of this prose (measured with
# pipeserve's usage: 104 words -> 118.7 tokens); other vocabularies differ a little — the servers'
# usage says (prompt_tokens_mean).
TOKENS_PER_WORD = 1.14


def prompt_text(seed, tag, index, n_tokens):
    """A prompt of about n_tokens tokens, distinct for every (seed, tag, index)."""
    rng = random.Random(f"{seed}/{tag}/{index}")
    # The opening words differ per request, so two prompts share no prefix beyond a token or two.
    return text_of_words(rng, max(1, round(n_tokens / TOKENS_PER_WORD)))


# ---------------------------------------------------------------------------------------------
# Raw HTTP/1.1 + SSE


class HTTPError(Exception):
    pass


async def open_stream(host, port, path, body):
    reader, writer = await live.open_request(f"http://{host}:{port}", "POST", path, body,
                                             {"Accept": "text/event-stream"})
    status, headers = await live.read_head(reader)
    return reader, writer, status, headers


async def sse_data(reader, headers):
    """Yields (arrival time, payload of one `data:` line)."""
    buf = b""
    async for piece in live.body_chunks(reader, headers):
        now = time.perf_counter()
        buf += piece
        if b"\r\n" in buf:
            buf = buf.replace(b"\r\n", b"\n")
        while b"\n\n" in buf:
            event, buf = buf.split(b"\n\n", 1)
            for line in event.split(b"\n"):
                if line.startswith(b"data:"):
                    yield now, line[5:].strip()
                elif line.startswith(b"error:"):
                    raise HTTPError("error event: " + line.decode("utf-8", "replace")[:300])


# ---------------------------------------------------------------------------------------------
# One streamed request


class Result:
    __slots__ = ("kind", "start", "first", "end", "times", "tokens", "chunks", "prompt_tokens", "cached_tokens",
                 "error", "cancelled")

    def __init__(self, kind):
        self.kind = kind
        self.start = self.first = self.end = None
        self.times = []          # arrival time of every token-carrying chunk
        self.tokens = 0
        self.chunks = 0
        self.prompt_tokens = None
        self.cached_tokens = None  # usage.prompt_tokens_details.cached_tokens, when the server reports it
        self.error = None
        self.cancelled = False

    def gaps(self):
        t = self.times
        return [(t[i], t[i] - t[i - 1]) for i in range(1, len(t))]


async def stream_request(target, body, chat, result, stop_event=None):
    """Sends one streaming request and records its timing into `result`. With `stop_event`,
    the connection is closed when the event is set (an open-ended background stream)."""
    path = "/v1/chat/completions" if chat else "/v1/completions"
    payload = json.dumps(body).encode()
    writer = None
    result.start = time.perf_counter()
    try:
        reader, writer, status, headers = await open_stream(target.host, target.port, path, payload)
        if status != 200:
            data = b"".join([p async for p in live.body_chunks(reader, headers)])
            raise HTTPError(f"HTTP {status}: {data[:300]!r}")
        usage_tokens = None
        events = sse_data(reader, headers)
        stopper = asyncio.ensure_future(stop_event.wait()) if stop_event else None
        try:
            while True:
                nxt = asyncio.ensure_future(events.__anext__())
                if stopper is not None:
                    done, _ = await asyncio.wait({nxt, stopper}, timeout=target.timeout,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if stopper in done:
                        nxt.cancel()
                        result.cancelled = True
                        break
                    if not done:
                        nxt.cancel()
                        raise asyncio.TimeoutError()
                try:
                    now, data = await asyncio.wait_for(nxt, target.timeout)
                except StopAsyncIteration:
                    break
                if data == b"[DONE]":
                    break
                j = json.loads(data)
                if "error" in j:
                    raise HTTPError("error chunk: " + data.decode("utf-8", "replace")[:300])
                usage = j.get("usage")
                if usage and usage.get("completion_tokens") is not None:
                    usage_tokens = usage["completion_tokens"]
                    result.prompt_tokens = usage.get("prompt_tokens")
                    result.cached_tokens = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
                for choice in j.get("choices") or ():
                    text = choice.get("delta", {}).get("content") if chat else choice.get("text")
                    if text:
                        result.chunks += 1
                        result.times.append(now)
                        if result.first is None:
                            result.first = now
        finally:
            if stopper is not None:
                stopper.cancel()
        result.end = time.perf_counter()
        result.tokens = usage_tokens if (usage_tokens is not None and not result.cancelled) else result.chunks
        if not result.cancelled and result.tokens < 1:
            raise HTTPError("stream ended without any token")
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, HTTPError, ValueError, KeyError) as e:
        result.error = f"{type(e).__name__}: {e}"[:400]
        result.end = time.perf_counter()
    finally:
        if writer is not None:
            writer.close()
    return result


EXTRA_BODY = {}  # --extra-json


def completion_body(prompt, max_tokens, model, chat=False, system=None):
    body = {"max_tokens": max_tokens, "temperature": 0, "ignore_eos": True, "stream": True,
            "stream_options": {"include_usage": True}}
    body.update(EXTRA_BODY)
    if model:
        body["model"] = model
    if chat:
        msgs = [{"role": "system", "content": system}] if system else []
        body["messages"] = msgs + [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    return body


# ---------------------------------------------------------------------------------------------
# Workloads


class Target:
    def __init__(self, url, timeout):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.timeout = u.hostname, u.port or 80, timeout


async def closed_loop(target, args, users, n_requests, prompt_tokens, max_tokens, chat=False, system=None,
                      user_words=None):
    """`users` clients, each sending its next request when the previous one ended."""
    queue = list(range(n_requests))
    results = []

    async def user():
        while queue:
            i = queue.pop(0)
            if chat:
                prompt = text_of_words(random.Random(f"{args.seed}/user/{i}"), user_words)
            else:
                prompt = prompt_text(args.seed, args.workload, i, prompt_tokens)
            r = Result("main")
            results.append(r)
            await stream_request(target, completion_body(prompt, max_tokens, args.model, chat, system), chat, r)

    await asyncio.gather(*(user() for _ in range(users)))
    return results, {}


async def prefix_ttft(target, args, pairs, max_tokens):
    """Cold then warm requests over the same fresh system message, one at a time."""
    results, cold, warm = [], [], []
    for i in range(pairs):
        system = text_of_words(random.Random(f"{args.seed}/ttft-system/{i}"), args.system_words)
        for kind, sink in (("cold", cold), ("warm", warm)):
            question = text_of_words(random.Random(f"{args.seed}/ttft-{kind}/{i}"), 20)
            r = Result("main")
            results.append(r)
            await stream_request(target, completion_body(question, max_tokens, args.model, True, system), True, r)
            if r.error is None and r.first is not None:
                sink.append(r.first - r.start)
    extra = {"cold_ttft_ms": summary_ms(cold), "warm_ttft_ms": summary_ms(warm), "system_words": args.system_words}
    if cold and warm:
        extra["warm_speedup"] = round(percentile(cold, 50) / percentile(warm, 50), 2)
    return results, extra


async def poisson(target, args, n_requests, prompt_tokens, max_tokens, rate):
    rng = random.Random(f"{args.seed}/arrivals")
    t0 = time.perf_counter()
    at, tasks, results, arrivals = 0.0, [], [], []
    for i in range(n_requests):
        at += rng.expovariate(rate)
        delay = t0 + at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        arrivals.append(time.perf_counter() - t0)
        r = Result("main")
        results.append(r)
        prompt = prompt_text(args.seed, args.workload, i, prompt_tokens)
        tasks.append(asyncio.ensure_future(
            stream_request(target, completion_body(prompt, max_tokens, args.model), False, r)))
    await asyncio.gather(*tasks)
    offered = n_requests / arrivals[-1] if arrivals[-1] > 0 else float("nan")
    # A rate the server sustains ends with (about) one request's latency after the last arrival.
    drain = max(r.end for r in results) - (t0 + arrivals[-1])
    return results, {"rate": rate, "offered_rate": round(offered, 3), "drain_after_last_arrival_s": round(drain, 3)}


async def long_prompt(target, args, n_long, background, prompt_tokens, long_tokens, long_max, solo_s):
    stop = asyncio.Event()
    bg = [Result("background") for _ in range(background)]
    bg_tasks = [asyncio.ensure_future(stream_request(
        target, completion_body(prompt_text(args.seed, "background", i, prompt_tokens), args.background_max_tokens,
                                args.model), False, r, stop)) for i, r in enumerate(bg)]
    # Wait until every background stream decodes (8 tokens each), or one of them failed.
    deadline = time.perf_counter() + args.timeout
    while any(len(r.times) < 8 and r.error is None for r in bg) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    solo, prefill, longs = [], [], []
    for k in range(n_long):
        s0 = time.perf_counter()
        await asyncio.sleep(solo_s)
        solo.append((s0, time.perf_counter()))
        r = Result("long")
        longs.append(r)
        await stream_request(target, completion_body(prompt_text(args.seed, "long", k, long_tokens), long_max,
                                                     args.model), False, r)
        prefill.append((r.start, r.first if r.first is not None else r.end))
    s0 = time.perf_counter()
    await asyncio.sleep(solo_s)
    solo.append((s0, time.perf_counter()))
    stop.set()
    await asyncio.gather(*bg_tasks)
    if any(not r.cancelled and r.error is None for r in bg):
        for r in bg:
            if not r.cancelled and r.error is None:
                r.error = "background stream ended before the long prompts were done (raise --background-max-tokens)"

    def gaps_in(windows):
        return [g for r in bg for (t, g) in r.gaps() if any(a < t <= b for a, b in windows)]

    extra = {
        "itl_prefill_ms": summary_ms(gaps_in(prefill), extended=True),
        "itl_solo_ms": summary_ms(gaps_in(solo), extended=True),
        "long_ttft_ms": [round(1000 * (r.first - r.start), 1) if r.first else None for r in longs],
        "long_prompt_tokens": [r.prompt_tokens for r in longs],
        "prefill_windows_s": [round(b - a, 3) for a, b in prefill],
        "background_streams": background,
    }
    return bg + longs, extra


# ---------------------------------------------------------------------------------------------
# Statistics


def percentile(values, q):
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summary_ms(values_s, extended=False):
    if not values_s:
        return {"n": 0}
    out = {"n": len(values_s)}
    for q in (50, 90, 99):
        out[f"p{q}"] = round(1000 * percentile(values_s, q), 2)
    out["mean"] = round(1000 * sum(values_s) / len(values_s), 2)
    if extended:
        out["max"] = round(1000 * max(values_s), 2)
    return out


DEFAULTS = {  # workload: requests, users, prompt tokens, max tokens
    "single": (8, 1, 130, 128),
    "concurrent": (32, 16, 130, 128),
    "shared-prefix": (16, 4, None, 32),
    "long-prompt": (2, 4, 130, 16),
    "poisson": (32, None, 130, 128),
    "prefix-ttft": (6, 1, None, 8),
}


async def run(args):
    target = Target(args.url, args.timeout)
    d_requests, d_users, d_prompt, d_max = DEFAULTS[args.workload]
    n = args.requests or d_requests
    users = args.users or d_users
    prompt_tokens = args.prompt_tokens or d_prompt
    max_tokens = args.max_tokens or d_max
    wall0, cpu0, ru0 = time.perf_counter(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
    if args.workload in ("single", "concurrent"):
        results, extra = await closed_loop(target, args, users, n, prompt_tokens, max_tokens)
    elif args.workload == "shared-prefix":
        system = text_of_words(random.Random(f"{args.seed}/system"), args.prefix_words)
        results, extra = await closed_loop(target, args, users, n, None, max_tokens, chat=True, system=system,
                                           user_words=args.user_words)
        extra = {"prefix_words": args.prefix_words, "user_words": args.user_words}
    elif args.workload == "long-prompt":
        results, extra = await long_prompt(target, args, n, users, prompt_tokens, args.long_tokens, max_tokens,
                                           args.solo_seconds)
        extra["long_tokens_requested"] = args.long_tokens
    elif args.workload == "prefix-ttft":
        results, extra = await prefix_ttft(target, args, n, max_tokens)
    else:
        results, extra = await poisson(target, args, n, prompt_tokens, max_tokens, args.rate)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)

    ok = [r for r in results if r.error is None]
    main = [r for r in ok if r.kind in ("main", "long")]
    # Throughput over every token streamed (background streams included) during the run.
    t_first = min(r.start for r in results)
    t_last = max(r.end for r in results)
    out_tokens = sum(r.tokens for r in ok)
    chunks = sum(r.chunks for r in ok)
    ttft = [r.first - r.start for r in main if r.first is not None]
    e2e = [r.end - r.start for r in main if r.kind == "main"]
    tpot = [(r.end - r.first) / (r.tokens - 1) for r in main if r.kind == "main" and r.first and r.tokens > 1]
    gaps = [g for r in ok for (_, g) in r.gaps()]
    prompt_counts = [r.prompt_tokens for r in main if r.prompt_tokens]
    cached = [r.cached_tokens for r in main if r.cached_tokens is not None]
    rec = {
        "workload": args.workload, "label": args.label, "url": args.url, "seed": args.seed,
        "requests": len([r for r in results if r.kind in ("main", "long")]), "users": users,
        "ok": len(ok), "errors": [r.error for r in results if r.error][:5],
        "error_count": len([r for r in results if r.error]),
        "max_tokens": max_tokens, "prompt_tokens_mean": round(sum(prompt_counts) / len(prompt_counts), 1)
        if prompt_counts else None,
        # Prompt tokens the server took from its prefix cache, as it reports them (llama-server does).
        "cached_tokens_mean": round(sum(cached) / len(cached), 1) if cached else None,
        "output_tokens": out_tokens, "tokens_per_chunk": round(out_tokens / chunks, 3) if chunks else None,
        "wall_s": round(wall, 3), "output_tok_s": round(out_tokens / (t_last - t_first), 2),
        "ttft_ms": summary_ms(ttft), "itl_ms": summary_ms(gaps), "tpot_ms": summary_ms(tpot),
        "e2e_ms": summary_ms(e2e),
        "client_cpu": {"cpu_s": round(cpu, 3), "user_s": round(ru1.ru_utime - ru0.ru_utime, 3),
                       "sys_s": round(ru1.ru_stime - ru0.ru_stime, 3),
                       "share_of_one_core": round(cpu / wall, 4) if wall > 0 else None},
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    rec.update(extra)
    return rec


def readable(rec):
    def f(d, k):
        v = d.get(k)
        return "-" if v is None else (f"{v:.0f}" if v >= 100 else f"{v:.1f}")
    s = (f"{rec['label'] or rec['url']} {rec['workload']}: {rec['ok']}/{rec['requests'] + (rec.get('background_streams') or 0)} ok, "
         f"{rec['output_tok_s']:.1f} out tok/s, TTFT p50/p90/p99 {f(rec['ttft_ms'], 'p50')}/{f(rec['ttft_ms'], 'p90')}/"
         f"{f(rec['ttft_ms'], 'p99')} ms, ITL p50/p90/p99 {f(rec['itl_ms'], 'p50')}/{f(rec['itl_ms'], 'p90')}/"
         f"{f(rec['itl_ms'], 'p99')} ms, e2e p50/p90/p99 {f(rec['e2e_ms'], 'p50')}/{f(rec['e2e_ms'], 'p90')}/"
         f"{f(rec['e2e_ms'], 'p99')} ms, prompt ~{rec['prompt_tokens_mean']} tok, "
         f"client CPU {100 * rec['client_cpu']['share_of_one_core']:.1f} % of a core")
    if rec["workload"] == "long-prompt":
        s += (f"; decoders' ITL p90 during prefill {f(rec['itl_prefill_ms'], 'p90')} ms (max "
              f"{f(rec['itl_prefill_ms'], 'max')}), solo {f(rec['itl_solo_ms'], 'p90')} ms; long TTFT {rec['long_ttft_ms']} ms")
    if rec["workload"] == "prefix-ttft":
        s += (f"; cold TTFT p50 {f(rec['cold_ttft_ms'], 'p50')} ms, warm {f(rec['warm_ttft_ms'], 'p50')} ms, "
              f"speedup {rec.get('warm_speedup')}x")
    if rec["workload"] == "poisson":
        s += f"; rate {rec['rate']} req/s, drain after last arrival {rec['drain_after_last_arrival_s']} s"
    if rec["error_count"]:
        s += f"; {rec['error_count']} errors, first: {rec['errors'][0]}"
    return s


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--workload", required=True, choices=sorted(DEFAULTS))
    p.add_argument("--requests", type=int, help="requests (long-prompt: long prompts)")
    p.add_argument("--users", type=int, help="concurrent clients (long-prompt: decoding background streams)")
    p.add_argument("--prompt-tokens", type=int, help="approximate prompt length of ordinary requests")
    p.add_argument("--max-tokens", type=int, help="output tokens per request (long-prompt: of each long request)")
    p.add_argument("--rate", type=float, default=0.5, help="poisson: arrivals per second")
    p.add_argument("--long-tokens", type=int, default=2000, help="long-prompt: approximate long prompt length")
    p.add_argument("--background-max-tokens", type=int, default=2048,
                   help="long-prompt: max_tokens of the background streams (closed when the long prompts are done)")
    p.add_argument("--solo-seconds", type=float, default=3.0, help="long-prompt: solo window before each long prompt")
    p.add_argument("--prefix-words", type=int, default=350, help="shared-prefix: words of the shared system message")
    p.add_argument("--user-words", type=int, default=50, help="shared-prefix: words of each user message")
    p.add_argument("--system-words", type=int, default=880, help="prefix-ttft: words of each system message (~1,000 tokens)")
    p.add_argument("--seed", default="1", help="prompt seed (use a new one per round)")
    p.add_argument("--model", default=None, help="\"model\" field to send (default: none)")
    p.add_argument("--label", default="", help="label copied into the result (e.g. server name and round)")
    p.add_argument("--timeout", type=float, default=600, help="seconds without progress before a request fails")
    p.add_argument("--json-out", help="append the JSON result (one line) to this file")
    p.add_argument("--extra-json", default=None, help="JSON object merged into every request body")
    args = p.parse_args()
    if args.extra_json:
        EXTRA_BODY.update(json.loads(args.extra_json))
    rec = asyncio.run(run(args))
    line = json.dumps(rec)
    print(line, flush=True)
    if args.json_out:
        with open(args.json_out, "a") as f:
            f.write(line + "\n")
    print(readable(rec), file=sys.stderr, flush=True)
    sys.exit(1 if rec["error_count"] else 0)


if __name__ == "__main__":
    main()
