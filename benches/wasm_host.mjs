// A minimal proxy-wasm (ABI 0.2.1) host in Node.js that drives a filter module through whole HTTP
// exchanges without Envoy: context create, request headers, request body, response headers, response
// body, log, done, delete. It measures what the module itself costs (V8 TurboFan, liftoff off, like
// Envoy's V8 runtime), counts host calls per exchange by name, and reads the module's linear memory
// (the wasm heap) after N exchanges.
//
//   node --no-liftoff benches/wasm_host.mjs --wasm FILE --policy FILE [--requests N] [--keys K]
//        [--warmup N] [--body FILE] [--response FILE] [--sse] [--json]
//        [--rate R] [--order roundrobin|random|zipf] [--checkpoints N]
//
// The module's clock is the real clock (as in Envoy), or with --rate R a simulated one that advances
// 1/R s per exchange: one worker receiving R requests a second, whatever the machine's speed, so the
// root's tick (ledger merges, metric flushes) runs as often per request as at that rate and the host
// call counts are exact and repeatable. Credentials rotate in order (`sk-bench-<i mod K>`) or are
// drawn uniformly (--order random) or by Zipf's law (--order zipf) from a fixed seed. --checkpoints N
// records the linear memory size N times during the measured exchanges (the heap's growth curve).
//
// Shared data lives in a JS Map with CAS versions, like Envoy's process-wide store; metrics in a Map.
// The host functions are cheap JS, so the times are the module's compute plus a small host share; the
// counts are exact.
import fs from "node:fs";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const flag = (name) => args.includes(`--${name}`);

const wasmPath = opt("wasm");
const policyText = opt("policy") ? fs.readFileSync(opt("policy")) : Buffer.from("{}");
const requests = Number(opt("requests", "20000"));
const keys = Number(opt("keys", "10000"));
const warmup = Number(opt("warmup", String(Math.min(2000, requests))));
const sse = flag("sse");
const reqBody = opt("body") ? fs.readFileSync(opt("body")) : Buffer.from('{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}');
const respBody = opt("response")
  ? fs.readFileSync(opt("response"))
  : Buffer.from('{"id":"x","object":"chat.completion","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5}}');
const chunkSize = Number(opt("chunk", "1024"));
const rate = Number(opt("rate", "0"));
const order = opt("order", "roundrobin");
if (!["roundrobin", "random", "zipf"].includes(order)) throw new Error(`--order: roundrobin, random or zipf, not ${order}`);
const checkpoints = Number(opt("checkpoints", "0"));

// The clock the module reads: real time, or simulated at `rate` requests a second (ns, BigInt).
let simNs = 1800000000000n * 1000000n;
const stepNs = rate > 0 ? BigInt(Math.round(1e9 / rate)) : 0n;
const nowNs = () => (rate > 0 ? simNs : BigInt(Date.now()) * 1000000n);
// Credentials in order, uniformly at random, or by Zipf's law (the k-th most active key sends in
// proportion to 1/k, as API traffic is skewed toward a few heavy keys); xorshift32 from a fixed seed,
// so every run draws the same keys.
let seed = 0x9e3779b9;
function random32() {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed;
}
const zipfCdf = order === "zipf" ? new Float64Array(keys) : null;
if (zipfCdf) {
  let sum = 0;
  for (let k = 0; k < keys; k++) zipfCdf[k] = sum += 1 / (k + 1);
  for (let k = 0; k < keys; k++) zipfCdf[k] /= sum;
}
function nextKey(i) {
  if (order === "roundrobin") return i % keys;
  if (order === "random") return random32() % keys;
  const u = random32() / 4294967296;
  let lo = 0, hi = keys - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (zipfCdf[mid] < u) lo = mid + 1; else hi = mid;
  }
  return lo;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const calls = new Map();
const count = (name) => calls.set(name, (calls.get(name) || 0) + 1);

const shared = new Map(); // key -> {value: Uint8Array, cas}
let nextCas = 1;
const metrics = new Map();
const metricNames = [];
let inst;
let mem = () => new DataView(inst.exports.memory.buffer);
const bytes = (ptr, len) => new Uint8Array(inst.exports.memory.buffer, ptr, len);
const str = (ptr, len) => dec.decode(bytes(ptr, len));

function give(data, ptrOut, sizeOut) {
  const p = data.length ? inst.exports.proxy_on_memory_allocate(data.length) : 0;
  if (data.length) bytes(p, data.length).set(data);
  const dv = mem();
  dv.setUint32(ptrOut, p, true);
  dv.setUint32(sizeOut, data.length, true);
}

const encoded = new Map();
const encodeCached = (s) => {
  let e = encoded.get(s);
  if (!e) {
    e = enc.encode(s);
    if (encoded.size < 100000) encoded.set(s, e);
  }
  return e;
};

function serializeMap(pairs) {
  const parts = pairs.map(([k, v]) => [encodeCached(k), encodeCached(v)]);
  let size = 4 + parts.length * 8;
  for (const [k, v] of parts) size += k.length + v.length + 2;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, parts.length, true);
  let o = 4;
  for (const [k, v] of parts) {
    dv.setUint32(o, k.length, true);
    dv.setUint32(o + 4, v.length, true);
    o += 8;
  }
  for (const [k, v] of parts) {
    out.set(k, o);
    o += k.length + 1;
    out.set(v, o);
    o += v.length + 1;
  }
  return out;
}

// Per-exchange state the host keeps.
let reqHeaders = [];
let respHeaders = [];
let buffers = {};
let localReply = null;
let tickPeriodNs = 0n;

const mapOf = (t) => (t === 0 ? reqHeaders : t === 2 ? respHeaders : []);

const env = {
  proxy_log: (level, p, n) => (count("proxy_log"), process.env.DG_HOST_LOG && console.error(str(p, n)), 0),
  proxy_get_current_time_nanoseconds: (out) => {
    count("proxy_get_current_time_nanoseconds");
    mem().setBigUint64(out, nowNs(), true);
    return 0;
  },
  proxy_get_buffer_bytes: (type, start, max, pOut, sOut) => {
    count("proxy_get_buffer_bytes");
    const b = type === 7 ? policyText : buffers[type];
    if (!b) return 1;
    // Sizes are u32 on the wasm side (usize::MAX arrives as -1 here).
    give(b.subarray(start >>> 0, (start >>> 0) + (max >>> 0)), pOut, sOut);
    return 0;
  },
  proxy_set_buffer_bytes: (type, start, size, p, n) => {
    count("proxy_set_buffer_bytes");
    buffers[type] = Buffer.from(bytes(p, n));
    return 0;
  },
  proxy_get_header_map_pairs: (type, pOut, sOut) => {
    count("proxy_get_header_map_pairs");
    give(serializeMap(mapOf(type)), pOut, sOut);
    return 0;
  },
  proxy_get_header_map_value: (type, kp, kn, pOut, sOut) => {
    count("proxy_get_header_map_value");
    const k = str(kp, kn);
    const hit = mapOf(type).find(([n]) => n === k);
    if (!hit) return 1;
    give(encodeCached(hit[1]), pOut, sOut);
    return 0;
  },
  proxy_replace_header_map_value: (type, kp, kn, vp, vn) => {
    count("proxy_replace_header_map_value");
    const k = str(kp, kn);
    const m = mapOf(type).filter(([n]) => n !== k);
    m.push([k, str(vp, vn)]);
    if (type === 0) reqHeaders = m; else respHeaders = m;
    return 0;
  },
  proxy_add_header_map_value: (type, kp, kn, vp, vn) => (count("proxy_add_header_map_value"), mapOf(type).push([str(kp, kn), str(vp, vn)]), 0),
  proxy_remove_header_map_value: (type, kp, kn) => {
    count("proxy_remove_header_map_value");
    const k = str(kp, kn);
    if (type === 0) reqHeaders = reqHeaders.filter(([n]) => n !== k);
    return 0;
  },
  proxy_set_header_map_pairs: () => (count("proxy_set_header_map_pairs"), 0),
  proxy_get_property: (pp, pn, pOut, sOut) => {
    count("proxy_get_property");
    const path = str(pp, pn).split("\0").filter(Boolean).join(".");
    if (path === "source.address") {
      give(enc.encode("127.0.0.1:40000"), pOut, sOut);
      return 0;
    }
    return 1;
  },
  proxy_set_property: () => (count("proxy_set_property"), 0),
  proxy_get_shared_data: (kp, kn, pOut, sOut, casOut) => {
    count("proxy_get_shared_data");
    const e = shared.get(str(kp, kn));
    if (!e) return 1;
    give(e.value, pOut, sOut);
    mem().setUint32(casOut, e.cas, true);
    return 0;
  },
  proxy_set_shared_data: (kp, kn, vp, vn, cas) => {
    count("proxy_set_shared_data");
    const k = str(kp, kn);
    const e = shared.get(k);
    if (cas !== 0 && e && e.cas !== cas) return 8;
    shared.set(k, { value: bytes(vp, vn).slice(), cas: nextCas++ });
    return 0;
  },
  proxy_define_metric: (type, np, nn, out) => {
    count("proxy_define_metric");
    metricNames.push(str(np, nn));
    mem().setUint32(out, metricNames.length, true);
    return 0;
  },
  proxy_increment_metric: (id, delta) => (count("proxy_increment_metric"), metrics.set(id, (metrics.get(id) || 0n) + delta), 0),
  proxy_record_metric: (id, v) => (count("proxy_record_metric"), metrics.set(id, v), 0),
  proxy_send_local_response: (status) => {
    count("proxy_send_local_response");
    localReply = status;
    return 0;
  },
  proxy_set_effective_context: () => (count("proxy_set_effective_context"), 0),
  proxy_continue_stream: () => 0,
  proxy_close_stream: () => 0,
  proxy_get_status: () => 12,
  proxy_set_tick_period_milliseconds: (ms) => ((tickPeriodNs = BigInt(ms) * 1000000n), 0),
  proxy_done: () => 0,
};
for (const name of ["proxy_grpc_cancel", "proxy_grpc_stream", "proxy_grpc_close", "proxy_grpc_call", "proxy_http_call",
  "proxy_dequeue_shared_queue", "proxy_enqueue_shared_queue", "proxy_resolve_shared_queue", "proxy_call_foreign_function",
  "proxy_register_shared_queue", "proxy_grpc_send"]) {
  env[name] = () => 12;
}
const wasi = {
  environ_sizes_get: (c, s) => (mem().setUint32(c, 0, true), mem().setUint32(s, 0, true), 0),
  environ_get: () => 0,
  fd_write: (fd, iovs, n, out) => {
    let total = 0;
    for (let i = 0; i < n; i++) total += mem().getUint32(iovs + i * 8 + 4, true);
    mem().setUint32(out, total, true);
    return 0;
  },
  proc_exit: (code) => {
    throw new Error(`proc_exit(${code})`);
  },
  random_get: () => 0,
  clock_time_get: () => 0,
};

const module = new WebAssembly.Module(fs.readFileSync(wasmPath));
inst = new WebAssembly.Instance(module, { env, wasi_snapshot_preview1: wasi });
const x = inst.exports;
x._initialize && x._initialize();
const ROOT = 1;
x.proxy_on_context_create(ROOT, 0);
if (!x.proxy_on_vm_start(ROOT, 0)) throw new Error("vm start refused");
if (!x.proxy_on_configure(ROOT, policyText.length)) throw new Error("policy refused (DG_HOST_LOG=1 shows why)");

// The root context's timer, driven by real time as Envoy does, or by the simulated clock (its calls
// count in the totals).
const tickClock = () => (rate > 0 ? simNs : process.hrtime.bigint());
let lastTick = tickClock();
let ticks = 0;
function maybeTick() {
  if (tickPeriodNs > 0n && tickClock() - lastTick >= tickPeriodNs) {
    lastTick = tickClock();
    ticks++;
    x.proxy_on_tick(ROOT);
  }
}

const statuses = new Map();
let nextId = 2;
function exchange(i) {
  const id = nextId++;
  simNs += stepNs;
  const key = nextKey(i);
  reqHeaders = [
    [":method", "POST"], [":path", "/v1/chat/completions"], [":authority", "api.example"], [":scheme", "http"],
    ["content-type", "application/json"], ["content-length", String(reqBody.length)],
    ["authorization", `Bearer sk-bench-${key}`], ["user-agent", "bench/1"],
  ];
  respHeaders = [[":status", "200"], ["content-type", sse ? "text/event-stream" : "application/json"]];
  buffers = { 0: reqBody };
  localReply = null;
  x.proxy_on_context_create(id, ROOT);
  x.proxy_on_request_headers(id, reqHeaders.length, 0);
  if (localReply === null) x.proxy_on_request_body(id, buffers[0].length, 1);
  if (localReply === null) {
    x.proxy_on_response_headers(id, respHeaders.length, 0);
    for (let o = 0; o < respBody.length; o += chunkSize) {
      buffers[1] = respBody.subarray(o, o + chunkSize);
      x.proxy_on_response_body(id, buffers[1].length, o + chunkSize >= respBody.length ? 1 : 0);
    }
  }
  x.proxy_on_log(id);
  x.proxy_on_done(id);
  x.proxy_on_delete(id);
  maybeTick();
  statuses.set(localReply ?? 200, (statuses.get(localReply ?? 200) || 0) + 1);
}

for (let i = 0; i < warmup; i++) exchange(i);
calls.clear();
statuses.clear();
ticks = 0;
const heapBefore = x.memory.buffer.byteLength;
const simStart = simNs;
const every = checkpoints > 0 ? Math.max(1, Math.floor(requests / checkpoints)) : 0;
const heapCurve = [];
const t0 = process.hrtime.bigint();
for (let i = 0; i < requests; i++) {
  exchange(warmup + i);
  if (every && (i + 1) % every === 0) heapCurve.push([i + 1, x.memory.buffer.byteLength]);
}
const ns = Number(process.hrtime.bigint() - t0);
const perCall = Object.fromEntries([...calls].sort().map(([k, v]) => [k, +(v / requests).toFixed(3)]));
const result = {
  module: wasmPath,
  requests,
  keys,
  body_bytes: reqBody.length,
  response_bytes: respBody.length,
  us_per_exchange: +(ns / requests / 1000).toFixed(2),
  host_calls_per_exchange: +([...calls.values()].reduce((a, b) => a + b, 0) / requests).toFixed(2),
  host_calls: perCall,
  statuses: Object.fromEntries(statuses),
  wasm_memory_bytes_before: heapBefore,
  wasm_memory_bytes_after: x.memory.buffer.byteLength,
  wasm_memory_curve: heapCurve,
  clock: rate > 0 ? `simulated, ${rate} requests/s` : "real time",
  order,
  simulated_seconds: rate > 0 ? Number(simNs - simStart) / 1e9 : null,
  ticks,
  shared_data_keys: shared.size,
  shared_data_bytes: [...shared].reduce((a, [k, v]) => a + k.length + v.value.length, 0),
};
console.log(flag("json") ? JSON.stringify(result) : JSON.stringify(result, null, 2));
