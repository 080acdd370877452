#!/usr/bin/env python3
"""A tool call written by the model (tool_choice "auto"), read by the official `openai` package:

  python openai_auto_tool_check.py BASE_URL

The server's fake engine answers every request with the same scripted text: "I will check." and
then a Qwen-style <tool_call> block calling get_weather with {"city": "Oslo"}. The client must see
exactly that as content plus one tool call — from create(), from a stream of deltas it
accumulates itself, from the .stream() helper's final completion, and from .parse() with a
Pydantic tool. Exits 0 when every check passes; prints what failed otherwise. Used by
AutoToolCallLiveTests (needs PIPESERVE_PYTHON)."""
import json
import sys

import openai
from pydantic import BaseModel

base = sys.argv[1]
client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=60)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


class Weather(BaseModel):
    city: str


tool = openai.pydantic_function_tool(Weather, name="get_weather", description="The current weather in a city")
kwargs = dict(model="fake-model", max_tokens=200, messages=[{"role": "user", "content": "Weather in Oslo?"}], tools=[tool])
EXPECTED = ("I will check.", [("get_weather", {"city": "Oslo"})], "tool_calls")


def summary(message, finish):
    calls = [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]
    return (message.content, calls, finish)


r = client.chat.completions.create(**kwargs)
ch = r.choices[0]
check(summary(ch.message, ch.finish_reason) == EXPECTED, f"create: {ch}")
call = (ch.message.tool_calls or [None])[0]
check(call is not None and call.id.startswith("call_") and call.type == "function", f"create: call {call}")

# Deltas as an application accumulates them.
content, calls, finish = [], {}, None
for chunk in client.chat.completions.create(stream=True, **kwargs):
    for c in chunk.choices:
        content.append(c.delta.content or "")
        for tc in c.delta.tool_calls or []:
            entry = calls.setdefault(tc.index, {"name": None, "arguments": ""})
            if tc.id:
                check(tc.type == "function" and tc.function.arguments == "", f"first delta of a call: {tc}")
                entry["name"] = tc.function.name
            else:
                check(entry["name"] is not None, f"arguments before the call's first delta: {tc}")
            entry["arguments"] += tc.function.arguments or ""
        finish = c.finish_reason or finish
streamed = ("".join(content), [(calls[i]["name"], json.loads(calls[i]["arguments"])) for i in sorted(calls)], finish)
check(streamed == EXPECTED, f"stream: {streamed}")

# The client's own stream helper and parse().
with client.chat.completions.stream(**kwargs) as stream:
    for _ in stream:
        pass
    final = stream.get_final_completion()
check(summary(final.choices[0].message, final.choices[0].finish_reason) == EXPECTED, f"stream helper: {final.choices[0]}")
parsed = client.chat.completions.parse(**kwargs)
p_calls = parsed.choices[0].message.tool_calls or []
check(len(p_calls) == 1 and p_calls[0].function.parsed_arguments == Weather(city="Oslo"), f"parse: {p_calls}")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("ok")
