'use strict';
// Load drivers for the benchmark (Node, no dependencies). One JSON argument, one JSON line out.
//
//   node bench/load.js '{"mode": "open", "url": ..., "headers": {...}, "body": "...", ...}'
//
// mode "open":    open loop, `rate` requests/s for `duration_s` (after `warmup_s` not counted);
//                 latency measured from each request's *scheduled* start, so a slow server cannot
//                 slow the driver down and hide its own queueing (no coordinated omission).
// mode "streams": `streams` concurrent streaming requests started at once; time to first content
//                 token, content chunks per stream, [DONE] seen, total wall time.
// mode "closed":  `connections` keep-alive connections, each sending its next request as soon as
//                 the last ends, for `duration_s` (the fallback when wrk is missing).
// Every request has a `timeout_s`; the whole run has a hard deadline, so the driver always ends.

const http = require('http');
const { performance } = require('perf_hooks');

const cfg = JSON.parse(process.argv[2]);
const target = new URL(cfg.url);
const timeoutMs = (cfg.timeout_s || 30) * 1000;

function percentiles(values) {
  if (values.length === 0) return { count: 0 };
  const sorted = Float64Array.from(values).sort();
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  const sum = sorted.reduce((a, b) => a + b, 0);
  const r3 = (x) => Math.round(x * 1000) / 1000;
  return {
    count: sorted.length, mean: r3(sum / sorted.length), p50: r3(at(50)), p90: r3(at(90)),
    p99: r3(at(99)), max: r3(sorted[sorted.length - 1]), min: r3(sorted[0]),
  };
}

function send(agent, body, onResponse, onDone) {
  // onDone(error, status, text); onResponse(res) may consume the body itself and return true.
  let finished = false;
  const done = (err, status, text) => { if (!finished) { finished = true; onDone(err, status, text); } };
  const req = http.request({
    agent, host: target.hostname, port: target.port, path: target.pathname + target.search,
    method: 'POST', headers: { ...cfg.headers, 'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body) },
  }, (res) => {
    if (onResponse && onResponse(res, done)) return;
    const parts = [];
    res.on('data', (c) => parts.push(c));
    res.on('end', () => done(null, res.statusCode, Buffer.concat(parts).toString('utf8')));
    res.on('error', (e) => done(e));
    res.on('aborted', () => done(new Error('aborted')));
  });
  req.setTimeout(timeoutMs, () => { req.destroy(new Error('timeout')); });
  req.on('error', (e) => done(e));
  req.end(body);
}

function finish(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}

function errorKind(err, status) {
  if (err) return String(err.code || err.message || err).slice(0, 60);
  return 'status ' + status;
}

function openLoop() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 1024 });
  const interval = 1000 / cfg.rate;
  const warm = Math.round((cfg.warmup_s || 0) * cfg.rate);
  const total = warm + Math.round(cfg.duration_s * cfg.rate);
  const latencies = [];
  const errors = {};
  let fired = 0;
  let settled = 0;
  const start = performance.now() + 20;
  const fire = (index, scheduled) => {
    send(agent, cfg.body, null, (err, status) => {
      settled++;
      if (index >= warm) {
        if (!err && status >= 200 && status < 300) latencies.push(performance.now() - scheduled);
        else errors[errorKind(err, status)] = (errors[errorKind(err, status)] || 0) + 1;
      }
      if (settled === total) report();
    });
  };
  const tick = () => {
    const now = performance.now();
    while (fired < total && start + fired * interval <= now) {
      fire(fired, start + fired * interval);
      fired++;
    }
    if (fired < total) setTimeout(tick, Math.max(0, start + fired * interval - performance.now()));
  };
  const report = () => {
    const measured = total - warm;
    const lag = performance.now() - start - total * interval;
    finish({ mode: 'open', rate: cfg.rate, sent: measured, ok: latencies.length, errors,
      latency_ms: percentiles(latencies), last_end_after_schedule_ms: Math.round(lag) });
  };
  setTimeout(tick, 20);
  setTimeout(report, (cfg.warmup_s + cfg.duration_s) * 1000 + timeoutMs + 2000).unref();
}

function oneStream(agent, record) {
  const started = performance.now();
  const s = { ttft: null, chunks: 0, done: false, usage: false, status: 0, error: null, end: 0 };
  send(agent, cfg.body, (res, done) => {
    s.status = res.statusCode;
    let buffer = '';
    res.setEncoding('utf8');
    res.on('data', (text) => {
      buffer += text;
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        inspect(event, s, started);
      }
    });
    res.on('end', () => done(null, res.statusCode));
    res.on('error', (e) => done(e));
    res.on('aborted', () => done(new Error('aborted')));
    return true;
  }, (err, status) => {
    s.end = performance.now();
    s.error = err ? errorKind(err) : (status === 200 ? null : 'status ' + status);
    record(s, started);
  });
}

const CONTENT = /"content":\s*"(?!")/;
const USAGE = /"usage":\s*\{/;

function inspect(event, s, started) {
  // Regular expressions rather than JSON.parse: the driver must stay cheap next to the server.
  for (const line of event.split('\n')) {
    if (!line.startsWith('data:')) continue;
    const data = line.slice(5).trim();
    if (data === '[DONE]') { s.done = true; continue; }
    if (!s.usage && USAGE.test(data)) s.usage = true;
    if (CONTENT.test(data)) {
      s.chunks++;
      if (s.ttft === null) s.ttft = performance.now() - started;
    }
  }
}

function streams() {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const n = cfg.streams;
  const results = [];
  const t0 = performance.now();
  let firstStart = null;
  const record = (s, started) => {
    if (firstStart === null || started < firstStart) firstStart = started;
    results.push(s);
    if (results.length === n) report();
  };
  const report = () => {
    const complete = results.filter((s) => !s.error && s.done && s.chunks === cfg.expect_chunks);
    const errors = {};
    for (const s of results) {
      const kind = s.error || (!s.done ? 'no [DONE]' : (s.chunks !== cfg.expect_chunks ? 'chunks ' + s.chunks : null));
      if (kind) errors[kind] = (errors[kind] || 0) + 1;
    }
    const lastEnd = results.reduce((m, s) => Math.max(m, s.end), 0);
    finish({ mode: 'streams', streams: n, finished: results.length, complete: complete.length,
      with_usage: results.filter((s) => s.usage).length, errors,
      ttft_ms: percentiles(results.filter((s) => s.ttft !== null).map((s) => s.ttft)),
      stream_ms: percentiles(results.map((s) => s.end - t0)),
      total_s: Math.round((lastEnd - (firstStart || t0))) / 1000 });
  };
  for (let i = 0; i < n; i++) oneStream(agent, record);
  setTimeout(report, timeoutMs + 5000).unref();
}

function closedLoop() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.connections });
  const latencies = [];
  const errors = {};
  const t0 = performance.now();
  const end = t0 + cfg.duration_s * 1000;
  let live = cfg.connections;
  const loop = () => {
    if (performance.now() >= end) {
      if (--live === 0) {
        const secs = (performance.now() - t0) / 1000;
        finish({ mode: 'closed', connections: cfg.connections, requests: latencies.length,
          duration_s: secs, rps: latencies.length / secs, errors, latency_ms: percentiles(latencies) });
      }
      return;
    }
    const started = performance.now();
    send(agent, cfg.body, null, (err, status) => {
      if (!err && status >= 200 && status < 300) latencies.push(performance.now() - started);
      else errors[errorKind(err, status)] = (errors[errorKind(err, status)] || 0) + 1;
      setImmediate(loop);
    });
  };
  for (let i = 0; i < cfg.connections; i++) loop();
}

({ open: openLoop, streams, closed: closedLoop })[cfg.mode]();
