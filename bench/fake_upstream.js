'use strict';
// A fast fake OpenAI upstream for the benchmark (Node, no dependencies; not the test suite's fake).
//
//   node bench/fake_upstream.js [--port 0] [--chunks 50] [--delay-ms 10]
//                               [--prompt-tokens 20] [--completion-tokens 50] [--watch-stdin]
//
// Listens on 127.0.0.1 only, keep-alive, and prints one JSON line {"port": N} once listening.
// POST .../chat/completions: a chat.completion with usage, or with "stream": true an SSE stream:
// a role chunk at once, then --chunks content chunks --delay-ms apart, a finish chunk, a usage
// chunk only if stream_options.include_usage is true, then [DONE].
// GET /__stats: counters (requests, streams started/completed/aborted). Anything else: 404.
// Ends on SIGTERM/SIGINT; with --watch-stdin also by itself when its stdin closes (its parent went away).

const http = require('http');

function option(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 && i + 1 < process.argv.length ? Number(process.argv[i + 1]) : fallback;
}

const PORT = option('port', 0);
const CHUNKS = option('chunks', 50);
const DELAY_MS = option('delay-ms', 10);
const PROMPT_TOKENS = option('prompt-tokens', 20);
const COMPLETION_TOKENS = option('completion-tokens', CHUNKS);
const USAGE = {
  prompt_tokens: PROMPT_TOKENS,
  completion_tokens: COMPLETION_TOKENS,
  total_tokens: PROMPT_TOKENS + COMPLETION_TOKENS,
};
const CONTENT = 'Hello! This is the benchmark upstream answering your request.';
const stats = { requests: 0, streams_started: 0, streams_completed: 0, streams_aborted: 0 };
let sequence = 0;

function completion(model) {
  return JSON.stringify({
    id: 'chatcmpl-bench' + (++sequence),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: 'fp_bench',
    choices: [{
      index: 0,
      message: { role: 'assistant', content: CONTENT, refusal: null },
      logprobs: null,
      finish_reason: 'stop',
    }],
    usage: USAGE,
  });
}

function stream(req, res, model, includeUsage) {
  stats.streams_started++;
  const head = '{"id":"chatcmpl-bench' + (++sequence) + '","object":"chat.completion.chunk","created":' +
    Math.floor(Date.now() / 1000) + ',"model":' + JSON.stringify(model) +
    ',"system_fingerprint":"fp_bench","choices":';
  const tail = includeUsage ? ',"usage":null}' : '}';
  const event = (delta, finish) => 'data: ' + head + '[{"index":0,"delta":' + delta +
    ',"logprobs":null,"finish_reason":' + finish + '}]' + tail + '\n\n';
  let sent = 0;
  let closed = false;
  let timer = null;
  res.on('close', () => {
    closed = true;
    if (timer) clearTimeout(timer);
    if (!res.writableFinished) stats.streams_aborted++;
  });
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' });
  res.write(event('{"role":"assistant","content":"","refusal":null}', 'null'));
  const next = () => {
    timer = null;
    if (closed) return;
    if (sent < CHUNKS) {
      res.write(event('{"content":"tok' + sent + ' "}', 'null'));
      sent++;
      timer = setTimeout(next, DELAY_MS);
      return;
    }
    let last = event('{}', '"stop"');
    if (includeUsage) last += 'data: ' + head + '[],"usage":' + JSON.stringify(USAGE) + '}\n\n';
    res.end(last + 'data: [DONE]\n\n');
    stats.streams_completed++;
  };
  timer = setTimeout(next, DELAY_MS);
}

function answer(req, res, raw) {
  stats.requests++;
  const path = req.url.split('?')[0];
  if (req.method === 'GET' && path === '/__stats') {
    const body = JSON.stringify(stats);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  if (req.method !== 'POST' || !path.endsWith('/chat/completions')) {
    const body = '{"error":{"message":"not found","type":"invalid_request_error"}}';
    res.writeHead(404, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  let parsed = {};
  try { parsed = JSON.parse(raw) || {}; } catch (e) { parsed = {}; }
  const model = typeof parsed.model === 'string' ? parsed.model : 'gpt-4o-mini';
  if (parsed.stream === true) {
    const options = parsed.stream_options || {};
    stream(req, res, model, options.include_usage === true);
    return;
  }
  const body = completion(model);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer({ noDelay: true, keepAlive: true, requestTimeout: 0 }, (req, res) => {
  const parts = [];
  req.on('data', (chunk) => parts.push(chunk));
  req.on('end', () => answer(req, res, Buffer.concat(parts).toString('utf8')));
  req.on('error', () => res.destroy());
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 125000;
server.maxRequestsPerSocket = 0;
server.listen({ host: '127.0.0.1', port: PORT, backlog: 4096 }, () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});

const stop = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (process.argv.includes('--watch-stdin')) {
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}
