#!/usr/bin/env python3
"""Drives a running pipeserve with the official `openai` package, as users do.

  python openai_client_check.py BASE_URL MODEL_NAME

Exits 0 when every check passes; prints what failed otherwise. Used by ServeLiveTests (the venv
with `openai` is made by scripts/test)."""
import sys
import openai

base, model = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base + "/v1", api_key="unused")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


models = client.models.list()
check(any(m.id == model for m in models.data), f"models.list lacks {model}: {models}")

c = client.completions.create(model=model, prompt="the cat", max_tokens=6, temperature=0)
check(c.object == "text_completion" and len(c.choices) == 1, f"completion shape: {c}")
check(c.usage.completion_tokens == 6 and c.choices[0].finish_reason == "length", f"completion usage: {c.usage}")

n2 = client.completions.create(model=model, prompt=["a", "b c"], max_tokens=3, n=2, temperature=0.9, seed=5)
check(len(n2.choices) == 4 and sorted(ch.index for ch in n2.choices) == [0, 1, 2, 3], f"n=2 x 2 prompts: {n2}")
check(n2.usage.completion_tokens == 12, f"usage summed over prompts and choices: {n2.usage}")

pieces = []
for chunk in client.completions.create(model=model, prompt="the cat", max_tokens=6, temperature=0, stream=True):
    pieces.extend(ch.text for ch in chunk.choices)
check("".join(pieces) == c.choices[0].text, f"streamed text {''.join(pieces)!r} != {c.choices[0].text!r}")

chat = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=4)
check(chat.object == "chat.completion" and chat.choices[0].message.role == "assistant", f"chat shape: {chat}")

# Sampled (default temperature, no seed): the synthetic model may end the reply with its end token
# at or before max_tokens, so the usage must match the finish reason: 4 tokens for "length", 1 to 4 for
# "stop" (the end token counts as a generated token, and when it is the 4th it wins over the length limit,
# as in vLLM; CI once drew exactly that).
roles, text, finish, usage = [], [], None, None
for chunk in client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=4,
                                            stream=True, stream_options={"include_usage": True}):
    for ch in chunk.choices:
        if ch.delta.role:
            roles.append(ch.delta.role)
        if ch.delta.content:
            text.append(ch.delta.content)
        if ch.finish_reason:
            finish = ch.finish_reason
    if chunk.usage:
        usage = chunk.usage
check(usage is not None, "no usage chunk with stream_options.include_usage")
if usage is not None:
    check((finish == "length" and usage.completion_tokens == 4) or (finish == "stop" and 1 <= usage.completion_tokens <= 4),
          f"stream usage {usage} with finish_reason {finish!r}")
check(roles[:1] == ["assistant"], f"first chunk carries the role: {roles}")

full = client.completions.create(model=model, prompt="x y", max_tokens=12, temperature=0).choices[0].text
if len(full) > 3:
    stop = full[2:4]
    cut = client.completions.create(model=model, prompt="x y", max_tokens=12, temperature=0, stop=[stop]).choices[0]
    check(cut.text == full[: full.find(stop)] and cut.finish_reason == "stop", f"stop {stop!r}: {cut.text!r} from {full!r}")

try:
    client.completions.create(model=model, prompt="x", max_tokens=2, temperature=-1)
    failures.append("temperature -1 accepted")
except openai.BadRequestError as e:
    check("temperature" in str(e), f"400 names the field: {e}")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("openai client: all checks passed")
