#!/usr/bin/env python3
"""Structured output through the official `openai` package, as applications use it:

  python openai_structured_check.py BASE_URL MODEL_NAME

response_format json_schema (strict) and json_object, chat.completions.parse and .stream with a
Pydantic model, tools with tool_choice "required" and a named function (parse included), each also
streamed; every output must parse and validate, streamed output must equal the non-streamed one
(greedy), and a tool result sent back must get an answer. tool_choice "auto" (tools in the prompt,
the model decides): content, or well-formed calls of declared functions — the same streamed;
"none": content only. Exits 0 when every check passes; prints
what failed otherwise. Used by ServeLiveTests (needs PIPESERVE_MODEL: a real model)."""
import json
import sys
from typing import List, Literal, Optional

import openai
from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel, Field, ValidationError

base, model = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=600)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


# Bounded strings and lists: a 270M model loops in free text, and a bound is what the
# constraint can enforce (max_tokens cutting a document short would fail the check, rightly).
class Address(BaseModel):
    street: str = Field(max_length=40)
    city: str = Field(max_length=30)


class Person(BaseModel):
    name: str = Field(max_length=30)
    age: int
    hobbies: List[str] = Field(max_length=3)
    nickname: Optional[str]
    address: Address


class Weather(BaseModel):
    city: str
    unit: Literal["celsius", "fahrenheit"]


SYSTEM = {"role": "system", "content": "You answer in JSON."}
PERSON = [SYSTEM, {"role": "user", "content": "Describe a fictional person: name, age, hobbies, nickname and address."}]
# json_object leaves every key and string free: the small model needs an example to stop.
OBJECT = [{"role": "user", "content": "Capital of Italy? Answer in JSON."},
          {"role": "assistant", "content": '{"country": "Italy", "capital": "Rome"}'},
          {"role": "user", "content": "Capital of France? Answer in JSON."}]
WEATHER = [{"role": "user", "content": "What is the weather in Paris? Call the tool."}]
COMMON = dict(model=model, temperature=0, max_tokens=160)


def validated(cls, text, what):
    try:
        return cls.model_validate_json(text)
    except ValidationError as e:
        failures.append(f"{what}: {text!r} does not validate: {e}")
        return None


def streamed_content(**kwargs):
    text, finish = [], None
    for chunk in client.chat.completions.create(stream=True, **kwargs):
        for ch in chunk.choices:
            if ch.delta.content:
                text.append(ch.delta.content)
            if ch.finish_reason:
                finish = ch.finish_reason
    return "".join(text), finish


def streamed_tool_calls(**kwargs):
    calls, finish = {}, None
    for chunk in client.chat.completions.create(stream=True, **kwargs):
        for ch in chunk.choices:
            check(not ch.delta.content, f"content beside tool calls: {ch.delta}")
            for tc in ch.delta.tool_calls or []:
                entry = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
                if tc.id:
                    check(entry["id"] is None, f"call {tc.index} got a second id")
                    entry["id"] = tc.id
                    check(tc.type == "function", f"call type {tc.type!r}")
                if tc.function and tc.function.name:
                    entry["name"] = tc.function.name
                if tc.function and tc.function.arguments:
                    check(entry["id"] is not None, f"arguments of call {tc.index} before its id")
                    entry["arguments"] += tc.function.arguments
            if ch.finish_reason:
                finish = ch.finish_reason
    return [calls[i] for i in sorted(calls)], finish


# 1. response_format json_schema, strict, with the schema the client itself makes of a model.
schema_format = {"type": "json_schema", "json_schema": {"name": "person", "strict": True, "schema": to_strict_json_schema(Person)}}
r = client.chat.completions.create(messages=PERSON, response_format=schema_format, **COMMON)
text = r.choices[0].message.content
check(r.choices[0].finish_reason == "stop", f"json_schema finish_reason {r.choices[0].finish_reason}: {text!r}")
validated(Person, text, "json_schema")
s_text, s_finish = streamed_content(messages=PERSON, response_format=schema_format, **COMMON)
check(s_text == text and s_finish == "stop", f"streamed json_schema {s_text!r} ({s_finish}) != {text!r}")

# 2. response_format json_object.
r = client.chat.completions.create(messages=OBJECT, response_format={"type": "json_object"}, **COMMON)
text = r.choices[0].message.content
check(r.choices[0].finish_reason == "stop", f"json_object finish_reason {r.choices[0].finish_reason}: {text!r}")
try:
    check(isinstance(json.loads(text), dict), f"json_object gave {text!r}")
except ValueError:
    failures.append(f"json_object output is not JSON: {text!r}")
s_text, _ = streamed_content(messages=OBJECT, response_format={"type": "json_object"}, **COMMON)
check(s_text == text, f"streamed json_object {s_text!r} != {text!r}")

# 3. chat.completions.parse and .stream with a Pydantic model.
parsed = client.chat.completions.parse(messages=PERSON, response_format=Person, **COMMON)
message = parsed.choices[0].message
check(isinstance(message.parsed, Person), f"parse gave {message.parsed!r} from {message.content!r}")
with client.chat.completions.stream(messages=PERSON, response_format=Person, **COMMON) as stream:
    for _ in stream:
        pass
    final = stream.get_final_completion()
check(final.choices[0].message.parsed == message.parsed, f"stream parse {final.choices[0].message.parsed!r} != {message.parsed!r}")

# 4. Tools: required (one call) and a named function, as tool_calls; streamed the same; parse.
tool = openai.pydantic_function_tool(Weather, name="get_weather", description="The current weather in a city")
for choice in ["required", {"type": "function", "function": {"name": "get_weather"}}]:
    kwargs = dict(messages=WEATHER, tools=[tool], tool_choice=choice, parallel_tool_calls=False, **COMMON)
    r = client.chat.completions.create(**kwargs)
    ch = r.choices[0]
    calls = ch.message.tool_calls or []
    if check(ch.finish_reason == "tool_calls" and len(calls) == 1, f"{choice}: {ch}"):
        call = calls[0]
        check(call.id.startswith("call_") and call.type == "function" and call.function.name == "get_weather", f"{choice}: {call}")
        validated(Weather, call.function.arguments, f"{choice} arguments")
        check(ch.message.content is None, f"{choice}: content {ch.message.content!r} beside the call")
        s_calls, s_finish = streamed_tool_calls(**kwargs)
        check(s_finish == "tool_calls" and [(c["name"], c["arguments"]) for c in s_calls]
              == [(call.function.name, call.function.arguments)], f"{choice}: streamed {s_calls} ({s_finish}) vs {call}")
    p = client.chat.completions.parse(**kwargs)
    p_calls = p.choices[0].message.tool_calls or []
    check(len(p_calls) == 1 and isinstance(p_calls[0].function.parsed_arguments, Weather), f"{choice}: parse gave {p_calls}")

# 5. The call's result back in a tool message: the model answers in text (no tools forced).
if calls:
    follow = client.chat.completions.create(model=model, max_tokens=24, temperature=0, messages=WEATHER + [
        {"role": "assistant", "content": None, "tool_calls": [c.model_dump() for c in calls]},
        {"role": "tool", "tool_call_id": calls[0].id, "content": json.dumps({"temperature": 21, "sky": "sunny"})},
    ])
    check(isinstance(follow.choices[0].message.content, str) and follow.choices[0].message.content,
          f"answer after the tool result: {follow}")

# 6. tool_choice "auto" (the default with tools): the tools are in the prompt and the model decides.
# A 270M model may or may not call; whatever it does must be well-formed: content without calls,
# or calls of declared functions whose arguments are JSON objects and finish_reason "tool_calls".
# Streamed (greedy), the same answer must arrive as content and tool_call deltas.
def streamed_message(**kwargs):
    content, calls, finish = [], {}, None
    for chunk in client.chat.completions.create(stream=True, **kwargs):
        for ch in chunk.choices:
            if ch.delta.content:
                content.append(ch.delta.content)
            for tc in ch.delta.tool_calls or []:
                entry = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
                if tc.id:
                    check(entry["id"] is None and tc.type == "function", f"call {tc.index}: second id or type {tc.type!r}")
                    entry["id"], entry["name"] = tc.id, tc.function.name
                    check(tc.function.arguments == "", f"call {tc.index}: arguments in its first delta {tc}")
                elif tc.function and tc.function.arguments:
                    check(entry["id"] is not None, f"arguments of call {tc.index} before its id")
                    entry["arguments"] += tc.function.arguments
            if ch.finish_reason:
                finish = ch.finish_reason
    return "".join(content), [(calls[i]["name"], calls[i]["arguments"]) for i in sorted(calls)], finish


def check_auto(label, **kwargs):
    r = client.chat.completions.create(**kwargs)
    ch = r.choices[0]
    calls = ch.message.tool_calls or []
    if calls:
        check(ch.finish_reason == "tool_calls", f"{label}: calls with finish_reason {ch.finish_reason}")
        for call in calls:
            check(call.id.startswith("call_") and call.type == "function", f"{label}: {call}")
            check(call.function.name in {"get_weather", "get_time"}, f"{label}: undeclared function {call.function.name}")
            try:
                check(isinstance(json.loads(call.function.arguments), dict), f"{label}: arguments not an object: {call}")
            except ValueError:
                failures.append(f"{label}: arguments are not JSON: {call}")
    else:
        check(isinstance(ch.message.content, str) and ch.finish_reason in ("stop", "length"), f"{label}: {ch}")
    s_content, s_calls, s_finish = streamed_message(**kwargs)
    check((s_content or None) == (ch.message.content or None) and s_finish == ch.finish_reason
          and s_calls == [(c.function.name, c.function.arguments) for c in calls],
          f"{label}: streamed {s_content!r} {s_calls} ({s_finish}) vs {ch.message.content!r} {calls} ({ch.finish_reason})")
    print(f"{label}: {'calls ' + str([(c.function.name, c.function.arguments) for c in calls]) if calls else 'content ' + repr(ch.message.content[:80])}")


time_tool = {"type": "function", "function": {"name": "get_time", "description": "The current time in a time zone",
                                              "parameters": {"type": "object", "properties": {"zone": {"type": "string"}},
                                                             "required": ["zone"]}}}
for label, messages, extra in [
    ("auto (default)", WEATHER, {}),
    ("auto", [{"role": "system", "content": "Call a function when one fits."},
              {"role": "user", "content": "What time is it in Tokyo?"}], {"tool_choice": "auto"}),
    ("auto, plain question", [{"role": "user", "content": "Name three colours."}], {"tool_choice": "auto"}),
]:
    check_auto(label, model=model, temperature=0, max_tokens=60, messages=messages, tools=[tool, time_tool], **extra)

# tool_choice "none": text only, never calls.
r = client.chat.completions.create(model=model, temperature=0, max_tokens=40, messages=WEATHER, tools=[tool], tool_choice="none")
check(not r.choices[0].message.tool_calls and isinstance(r.choices[0].message.content, str)
      and r.choices[0].finish_reason in ("stop", "length"), f"none: {r.choices[0]}")

# 7. A schema with a keyword strict mode cannot enforce: 400 naming it.
try:
    client.chat.completions.create(messages=PERSON, max_tokens=8, response_format={"type": "json_schema", "json_schema": {
        "name": "x", "strict": True, "schema": {"type": "object", "properties": {"a": {"type": "number", "multipleOf": 3}}}}},
        model=model)
    failures.append("an unsupported keyword was accepted")
except openai.BadRequestError as e:
    check(e.status_code == 400 and "multipleOf" in str(e.body.get("param", "")), f"unsupported keyword error: {e.body}")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("ok")
