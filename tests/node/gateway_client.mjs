// The official openai Node SDK as an app would use it against `steadyhand serve`: only the base URL
// and the key change. Prints one JSON line per call for tests/server/test_node_sdk.py to check.
// usage: STEADYHAND_BASE_URL=http://127.0.0.1:PORT/v1 STEADYHAND_KEY=sk-sh-... node gateway_client.mjs
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: process.env.STEADYHAND_BASE_URL,
  apiKey: process.env.STEADYHAND_KEY,
  maxRetries: 0, // the gateway's policies retry; a retry here would hide a failure
  timeout: 30_000,
});
const say = (content) => [{ role: "user", content }];
const emit = (record) => console.log(JSON.stringify(record));

// chat, not streamed (the route and trace headers read as a Node app would)
const { data: chat, response } = await client.chat.completions
  .create({ model: "echo", messages: say("Hello from Node") })
  .withResponse();
emit({
  call: "chat",
  content: chat.choices[0].message.content,
  model: chat.model,
  finish_reason: chat.choices[0].finish_reason,
  completion_tokens: chat.usage?.completion_tokens ?? null,
  route: response.headers.get("x-steadyhand-route"),
  trace_id: response.headers.get("x-steadyhand-trace-id"),
});

// chat, streamed: the chunks reassembled into the whole answer
const stream = await client.chat.completions.create({
  model: "echo",
  messages: say("Streamed through the gateway to Node"),
  stream: true,
  stream_options: { include_usage: true },
});
let text = "";
let chunks = 0;
let finish = null;
let usage = null;
let model = null;
for await (const chunk of stream) {
  chunks += 1;
  model = chunk.model;
  if (chunk.usage) usage = chunk.usage;
  for (const choice of chunk.choices) {
    text += choice.delta?.content ?? "";
    if (choice.finish_reason) finish = choice.finish_reason;
  }
}
emit({ call: "stream", content: text, model, finish_reason: finish, chunks, completion_tokens: usage?.completion_tokens ?? null });

// a failover: the alias's first target answers 500, the gateway falls back before the first byte
const { data: failover, response: failed } = await client.chat.completions
  .create({ model: "flaky", messages: say("hi") })
  .withResponse();
emit({
  call: "failover",
  content: failover.choices[0].message.content,
  finish_reason: failover.choices[0].finish_reason,
  route: failed.headers.get("x-steadyhand-route"),
});

// an unknown model: the SDK's own typed error, as the gateway shaped it
try {
  await client.chat.completions.create({ model: "gpt-9", messages: say("x") });
  emit({ call: "unknown-model", error: null });
} catch (err) {
  emit({ call: "unknown-model", error: err.constructor.name, status: err.status, message: err.message });
}
