'use strict';
// Load generator for bench/run.py.
//
// One process, one scenario, one JSON line on stdout at the end (progress goes to stderr).
// It plays the application backend (signed POST /connect and POST /message over a small raw
// HTTP/1.1 client) and the browsers (WebSocket subscribers through the `ws` package, or
// long-poll subscribers looping on GET /listen). Every published message carries its
// sequence number and its send time inside the 64-byte `message.text`:
//
//     "~<seq>~<send time, microseconds on this process's monotonic clock>~xxxx..."
//
// so each subscriber counts every message it receives (lost, duplicated, unexpected) and the
// latency is measured on one clock. Frames are scanned for the `"~` marker on the raw bytes
// instead of being JSON-parsed (a sample of frames is fully parsed to check the wire format),
// which keeps the cost per received message far below the server's.
//
// The server's CPU and memory come from /proc/<server pid>/stat and /status, sampled by this
// process so that the measurement window is exactly the one the scenario measures.

const net = require('net');
const crypto = require('crypto');
const fs = require('fs');
const { performance } = require('perf_hooks');
const WebSocket = require('ws');

// ------------------------------------------------------------------------------------------
// command line

function parseArgs(argv) {
  const out = {};
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i];
    if (!key.startsWith('--')) throw new Error('bad argument ' + key);
    out[key.slice(2)] = argv[i + 1];
  }
  return out;
}

const ARGS = parseArgs(process.argv);
const HOST = ARGS.host || '127.0.0.1';
const PORT = parseInt(ARGS.port, 10);
const SECRET = ARGS.secret || 'benchsecret';
const SERVER_PID = ARGS['server-pid'] ? parseInt(ARGS['server-pid'], 10) : 0;
const CLK_TCK = parseInt(ARGS['clk-tck'] || '100', 10);
const PARAMS = JSON.parse(ARGS.params || '{}');
// which server protocol: 'channelstream' (also 0.7.1) or 'pusher' (Soketi: the Pusher HTTP
// events API to publish, the Pusher websocket protocol to subscribe)
const PROTO = ARGS.proto || 'channelstream';
const PUSHER = { id: ARGS['app-id'] || 'bench', key: ARGS['app-key'] || 'benchkey', secret: SECRET };

if (HOST !== '127.0.0.1' && HOST !== 'localhost' && HOST !== '::1') {
  // Load is only ever sent to this machine.
  throw new Error('refusing a non-loopback host: ' + HOST);
}

function log(...a) {
  process.stderr.write('[loadgen] ' + a.join(' ') + '\n');
}

const nowUs = () => Math.round(performance.now() * 1000);
const nowS = () => performance.now() / 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------
// itsdangerous TimestampSigner (default salt "itsdangerous.Signer", key derivation
// "django-concat", HMAC-SHA1): value "." b64url(timestamp, big-endian, minimal bytes) "."
// b64url(hmac). Checked against Python's itsdangerous by `bench/run.py --check-signer`.

function b64url(buf) {
  return buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function itsdangerousSign(secret, value, timestamp) {
  const key = crypto.createHash('sha1').update('itsdangerous.Signer' + 'signer' + secret).digest();
  const bytes = [];
  let t = timestamp;
  while (t > 0) {
    bytes.unshift(t & 0xff);
    t = Math.floor(t / 256);
  }
  const signed = value + '.' + b64url(Buffer.from(bytes));
  const mac = crypto.createHmac('sha1', key).update(signed).digest();
  return signed + '.' + b64url(mac);
}

// Signatures are valid for 60 s: re-sign every 10 s.
let sigCache = { at: -1e9, value: '' };
function signature() {
  const t = Date.now();
  if (t - sigCache.at > 10000) {
    sigCache = { at: t, value: itsdangerousSign(SECRET, 'channelstream', Math.floor(t / 1000)) };
  }
  return sigCache.value;
}

// ------------------------------------------------------------------------------------------
// a minimal HTTP/1.1 client: one request in flight per connection, keep-alive, request
// written with one write() on a TCP_NODELAY socket; Content-Length, chunked and
// close-delimited bodies.

const CRLFCRLF = Buffer.from('\r\n\r\n');

class HttpConn {
  constructor(host, port) {
    this.host = host;
    this.port = port;
    this.sock = null;
    this.buf = null;
    this.waiter = null;
    this.closeAfter = false;
    this.connects = 0;
  }

  _open() {
    return new Promise((resolve, reject) => {
      const s = net.connect(this.port, this.host);
      s.setNoDelay(true);
      let opened = false;
      s.once('connect', () => {
        opened = true;
        this.connects += 1;
        resolve();
      });
      s.on('data', (d) => this._onData(d));
      s.on('error', (e) => {
        if (!opened) reject(e);
        else this._fail(e);
      });
      s.on('close', () => this._onClose(s));
      this.sock = s;
      this.buf = null;
    });
  }

  close() {
    const s = this.sock;
    this.sock = null;
    this.buf = null;
    if (s) s.destroy();
    const w = this.waiter;
    this.waiter = null;
    if (w) w.reject(new Error('closed by the load generator'));
  }

  async request(method, path, body, extraHeaders) {
    if (this.waiter) throw new Error('one request at a time on a HttpConn');
    if (!this.sock || this.sock.destroyed) await this._open();
    let head = method + ' ' + path + ' HTTP/1.1\r\nHost: ' + this.host + ':' + this.port + '\r\n';
    if (extraHeaders) head += extraHeaders;
    let payload = null;
    if (body !== undefined && body !== null) {
      payload = Buffer.from(body);
      head += 'Content-Type: application/json\r\nContent-Length: ' + payload.length + '\r\n';
    }
    head += '\r\n';
    const p = new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
    this.sock.write(payload ? Buffer.concat([Buffer.from(head), payload]) : head);
    return p;
  }

  _fail(err) {
    const w = this.waiter;
    this.waiter = null;
    if (this.sock) this.sock.destroy();
    this.sock = null;
    this.buf = null;
    if (w) w.reject(err);
  }

  _onClose(s) {
    if (s !== this.sock) return;
    const w = this.waiter;
    // a close-delimited body ends here
    if (w && this.buf && this._headerEnd >= 0 && this._closeDelimited) {
      this.waiter = null;
      const body = this.buf.subarray(this._headerEnd + 4);
      this.sock = null;
      this.buf = null;
      w.resolve({ status: this._status, body });
      return;
    }
    this.sock = null;
    this.buf = null;
    if (w) {
      this.waiter = null;
      w.reject(new Error('connection closed before the response'));
    }
  }

  _onData(d) {
    this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
    const res = this._parse();
    if (!res) return;
    const w = this.waiter;
    this.waiter = null;
    const rest = this.buf.length > res.used ? this.buf.subarray(res.used) : null;
    this.buf = rest;
    if (res.close) {
      this.sock.destroy();
      this.sock = null;
      this.buf = null;
    }
    if (w) w.resolve({ status: res.status, body: res.body });
  }

  _parse() {
    const buf = this.buf;
    const he = buf.indexOf(CRLFCRLF);
    this._headerEnd = he;
    if (he < 0) return null;
    const head = buf.toString('latin1', 0, he);
    const lines = head.split('\r\n');
    const status = parseInt(lines[0].split(' ')[1], 10);
    this._status = status;
    let clen = -1;
    let chunked = false;
    let close = lines[0].startsWith('HTTP/1.0');
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const c = line.indexOf(':');
      const name = line.slice(0, c).trim().toLowerCase();
      const value = line.slice(c + 1).trim().toLowerCase();
      if (name === 'content-length') clen = parseInt(value, 10);
      else if (name === 'transfer-encoding' && value.includes('chunked')) chunked = true;
      else if (name === 'connection') close = value.includes('close');
    }
    const start = he + 4;
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
      return { status, body: Buffer.alloc(0), used: start, close };
    }
    if (clen >= 0) {
      if (buf.length < start + clen) return null;
      return { status, body: buf.subarray(start, start + clen), used: start + clen, close };
    }
    if (chunked) {
      const parts = [];
      let pos = start;
      for (;;) {
        const le = buf.indexOf('\r\n', pos);
        if (le < 0) return null;
        const size = parseInt(buf.toString('latin1', pos, le).split(';')[0], 16);
        if (size === 0) {
          // no trailers expected: "0\r\n\r\n"
          const end = buf.indexOf('\r\n', le + 2);
          if (end < 0) return null;
          return { status, body: Buffer.concat(parts), used: end + 2, close };
        }
        if (buf.length < le + 2 + size + 2) return null;
        parts.push(buf.subarray(le + 2, le + 2 + size));
        pos = le + 2 + size + 2;
      }
    }
    // body delimited by the connection's close
    this._closeDelimited = true;
    return null;
  }
}

// Pusher HTTP API signing: auth_signature = hex HMAC-SHA256(secret, "METHOD\nPATH\nQUERY")
// over the query (keys sorted, without auth_signature), body_md5 = hex MD5 of the body.
function pusherSignedPath(method, path, body) {
  const params = {
    auth_key: PUSHER.key,
    auth_timestamp: String(Math.floor(Date.now() / 1000)),
    auth_version: '1.0',
    body_md5: crypto.createHash('md5').update(body).digest('hex'),
  };
  const query = Object.keys(params)
    .sort()
    .map((k) => k + '=' + params[k])
    .join('&');
  const sig = crypto.createHmac('sha256', PUSHER.secret).update(method + '\n' + path + '\n' + query).digest('hex');
  return path + '?' + query + '&auth_signature=' + sig;
}

// publish ITEMS ({channel, text}) in one request: POST /message (a list) for channelstream,
// POST /apps/ID/events (one) or /apps/ID/batch_events (several) for Pusher
function publishRequest(conn, items) {
  if (PROTO === 'pusher') {
    let path;
    let body;
    if (items.length === 1) {
      path = '/apps/' + PUSHER.id + '/events';
      body = JSON.stringify({ name: 'bench', channel: items[0].channel, data: items[0].text });
    } else {
      path = '/apps/' + PUSHER.id + '/batch_events';
      body = JSON.stringify({ batch: items.map((it) => ({ name: 'bench', channel: it.channel, data: it.text })) });
    }
    return conn.request('POST', pusherSignedPath('POST', path, body), body);
  }
  const msgs = items.map((it) => ({ channel: it.channel, user: 'bench_pub', message: { text: it.text } }));
  return apiPost(conn, '/message', msgs);
}

function signedHeaders() {
  return 'x-channelstream-secret: ' + signature() + '\r\n';
}

async function apiPost(conn, path, obj) {
  const r = await conn.request('POST', path, JSON.stringify(obj), signedHeaders());
  return r;
}

async function connectUser(conn, username, channels) {
  const r = await apiPost(conn, '/connect', { username, channels });
  if (r.status !== 200) throw new Error('/connect answered ' + r.status + ': ' + r.body.toString().slice(0, 200));
  return JSON.parse(r.body.toString()).conn_id;
}

// ------------------------------------------------------------------------------------------
// server process sampling (/proc)

// the thread ids of a process (none once it has ended)
function threadsOf(pid) {
  try {
    return fs.readdirSync('/proc/' + pid + '/task');
  } catch (e) {
    return [];
  }
}

class ProcSampler {
  constructor(pid) {
    this.pid = pid;
    this.timeline = [];
    this.peakRssKiB = 0;
    this.timer = null;
  }

  // the server and every process under it (a server that forks workers is measured whole)
  pids() {
    if (!this.pid) return [];
    const out = [];
    const todo = [this.pid];
    while (todo.length) {
      const pid = todo.pop();
      out.push(pid);
      for (const tid of threadsOf(pid)) {
        try {
          const kids = fs.readFileSync('/proc/' + pid + '/task/' + tid + '/children', 'latin1').trim();
          if (kids) for (const k of kids.split(/\s+/)) todo.push(parseInt(k, 10));
        } catch (e) {
          // thread or process ended
        }
      }
    }
    return out;
  }

  cpuSeconds() {
    let total = 0;
    for (const pid of this.pids()) {
      try {
        const s = fs.readFileSync('/proc/' + pid + '/stat', 'latin1');
        const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
        // fields 14 (utime) and 15 (stime), counted from 1, with field 3 at index 0
        total += (parseInt(f[11], 10) + parseInt(f[12], 10)) / CLK_TCK;
      } catch (e) {
        // process ended
      }
    }
    return total;
  }

  schedSeconds() {
    // sum of every thread's run time in ns (/proc/PID/task/TID/schedstat): finer than ticks
    let total = 0;
    for (const pid of this.pids()) {
      for (const tid of threadsOf(pid)) {
        try {
          total += parseInt(fs.readFileSync('/proc/' + pid + '/task/' + tid + '/schedstat', 'latin1').split(' ')[0], 10);
        } catch (e) {
          // thread ended
        }
      }
    }
    return total / 1e9;
  }

  rssKiB() {
    let v = 0;
    for (const pid of this.pids()) {
      try {
        const s = fs.readFileSync('/proc/' + pid + '/status', 'latin1');
        const m = /VmRSS:\s+(\d+)/.exec(s);
        if (m) v += parseInt(m[1], 10);
      } catch (e) {
        // process ended
      }
    }
    if (v > this.peakRssKiB) this.peakRssKiB = v;
    return v;
  }

  // busy jiffies of each core (/proc/stat), to see what else ran on the cores
  coresBusy() {
    const out = [];
    for (const line of fs.readFileSync('/proc/stat', 'latin1').split('\n')) {
      if (!/^cpu\d/.test(line)) continue;
      const f = line.split(/\s+/).slice(1).map(Number);
      // user nice system idle iowait irq softirq steal: irq and softirq are left out, as on
      // loopback they are mostly this benchmark's own packets
      out.push((f[0] + f[1] + f[2] + f[7]) / CLK_TCK);
    }
    return out;
  }

  sample() {
    const self = process.cpuUsage();
    const smp = {
      cores: this.coresBusy(),
      t: nowS(),
      cpu: this.cpuSeconds(),
      sched: this.schedSeconds(),
      rss: this.rssKiB(),
      self: (self.user + self.system) / 1e6,
      selfSys: self.system / 1e6,
    };
    return smp;
  }

  start(intervalMs) {
    this.timeline.push(this.sample());
    this.timer = setInterval(() => this.timeline.push(this.sample()), intervalMs);
  }

  stop() {
    clearInterval(this.timer);
    this.timeline.push(this.sample());
  }

  // last sample taken at or before time t (seconds)
  before(t) {
    let best = this.timeline[0];
    for (const s of this.timeline) if (s.t <= t) best = s;
    return best;
  }

  // first sample taken at or after time t (seconds)
  at(t) {
    for (const s of this.timeline) if (s.t >= t) return s;
    return this.timeline[this.timeline.length - 1];
  }
}

// what the cores did during a window besides the server (core 0) and the load generator
// (core 1): the machine is shared, this says how much others took
function interference(s0, s1) {
  const span = s1.t - s0.t;
  if (!s0.cores || !s1.cores || span <= 0) return {};
  const busy = s1.cores.map((v, i) => (v - s0.cores[i]) / span);
  const server = (s1.cpu - s0.cpu) / span;
  const self = (s1.self - s0.self) / span;
  return {
    core_busy_util: busy.map((v) => round(v, 3)),
    core0_others_util: round(Math.max(0, busy[0] - server), 3),
    core1_others_util: busy.length > 1 ? round(Math.max(0, busy[1] - self), 3) : null,
  };
}

// ------------------------------------------------------------------------------------------
// latency histogram: 1% wide logarithmic buckets from 1 us

const LN_STEP = Math.log(1.01);
class Hist {
  constructor() {
    this.b = new Float64Array(2600);
    this.n = 0;
    this.max = 0;
    this.sum = 0;
  }

  add(us) {
    if (us < 1) us = 1;
    let i = Math.floor(Math.log(us) / LN_STEP);
    if (i >= this.b.length) i = this.b.length - 1;
    this.b[i] += 1;
    this.n += 1;
    this.sum += us;
    if (us > this.max) this.max = us;
  }

  pct(p) {
    if (!this.n) return null;
    const target = (p / 100) * this.n;
    let acc = 0;
    for (let i = 0; i < this.b.length; i++) {
      acc += this.b[i];
      if (acc >= target) return Math.exp((i + 0.5) * LN_STEP);
    }
    return this.max;
  }

  summaryMs() {
    const r = (v) => (v === null ? null : Math.round(v / 10) / 100);
    return {
      n: this.n,
      p50: r(this.pct(50)),
      p90: r(this.pct(90)),
      p99: r(this.pct(99)),
      max: r(this.max),
      mean: this.n ? r(this.sum / this.n) : null,
    };
  }
}

// ------------------------------------------------------------------------------------------
// per-subscriber accounting: a bitset of received sequence numbers per subscriber

class Tracker {
  constructor(nSubs, maxSeq, subChannel) {
    this.nSubs = nSubs;
    this.maxSeq = maxSeq;
    this.words = Math.ceil(maxSeq / 32);
    this.bits = new Uint32Array(nSubs * this.words);
    this.subChannel = subChannel; // Int32Array: channel index of each subscriber
    this.seqChannel = new Int32Array(maxSeq).fill(-1); // channel index of each published seq
    this.accepted = new Uint8Array(maxSeq);
    this.unique = 0;
    this.dups = 0;
    this.unexpected = 0;
    this.frames = 0;
    this.heartbeats = 0;
    this.badFrames = 0;
    this.received = 0;
    this.lastRecvS = 0;
    this.firstRecvS = 0;
    this.hist = new Hist();
    this.framesSinceCheck = 0;
  }

  record(sub, seq, tsUs, now) {
    this.received += 1;
    if (seq >= this.maxSeq || this.seqChannel[seq] !== this.subChannel[sub]) {
      this.unexpected += 1;
      return;
    }
    const idx = sub * this.words + (seq >>> 5);
    const bit = 1 << (seq & 31);
    if (this.bits[idx] & bit) {
      this.dups += 1;
      return;
    }
    this.bits[idx] |= bit;
    this.unique += 1;
    this.hist.add(now - tsUs);
  }

  // scan one frame or long-poll body (a JSON array) for our messages
  scan(sub, buf) {
    const now = nowUs();
    this.frames += 1;
    let i = buf.indexOf(MARK);
    if (i < 0) {
      if (buf.length <= 4) this.heartbeats += 1;
    }
    let n = 0;
    while (i >= 0) {
      let j = i + 2;
      let seq = 0;
      let c;
      while ((c = buf[j]) !== 126) {
        seq = seq * 10 + (c - 48);
        j++;
      }
      j++;
      let ts = 0;
      while ((c = buf[j]) !== 126) {
        ts = ts * 10 + (c - 48);
        j++;
      }
      this.record(sub, seq, ts, now);
      n++;
      i = buf.indexOf(MARK, j);
    }
    if (n) {
      const t = now / 1e6;
      if (!this.firstRecvS) this.firstRecvS = t;
      this.lastRecvS = t;
    }
    // check the wire format on a sample of frames: a JSON array of message objects
    if (++this.framesSinceCheck >= 64 || (n === 0 && buf.length > 4)) {
      this.framesSinceCheck = 0;
      try {
        const arr = JSON.parse(buf.toString('utf8'));
        if (PROTO === 'pusher') {
          // one event per frame: {"event": ..., "channel": ..., "data": "~seq~..."}
          if (typeof arr !== 'object' || arr === null || typeof arr.event !== 'string') this.badFrames += 1;
          else if (typeof arr.data === 'string' && arr.data[0] === '~' && arr.event !== 'bench') this.badFrames += 1;
        } else if (!Array.isArray(arr)) this.badFrames += 1;
        else {
          for (const m of arr) {
            if (typeof m !== 'object' || m === null) this.badFrames += 1;
            else if (m.message && typeof m.message.text === 'string' && m.message.text[0] === '~' && m.type !== 'message') this.badFrames += 1;
          }
        }
      } catch (e) {
        this.badFrames += 1;
      }
    }
    return n;
  }

  expected() {
    let total = 0;
    const perChannel = new Map();
    for (let c of this.subChannel) perChannel.set(c, (perChannel.get(c) || 0) + 1);
    for (let s = 0; s < this.maxSeq; s++) {
      if (this.accepted[s]) total += perChannel.get(this.seqChannel[s]) || 0;
    }
    return total;
  }

  lost() {
    // every accepted message must have reached every subscriber of its channel once
    const byChannel = new Map();
    for (let s = 0; s < this.maxSeq; s++) {
      if (!this.accepted[s]) continue;
      const c = this.seqChannel[s];
      if (!byChannel.has(c)) byChannel.set(c, []);
      byChannel.get(c).push(s);
    }
    let lost = 0;
    let lostSubs = 0;
    for (let sub = 0; sub < this.nSubs; sub++) {
      const seqs = byChannel.get(this.subChannel[sub]) || [];
      let l = 0;
      for (const s of seqs) {
        if (!(this.bits[sub * this.words + (s >>> 5)] & (1 << (s & 31)))) l++;
      }
      lost += l;
      if (l) lostSubs++;
    }
    return { lost, lostSubs };
  }
}

const MARK = Buffer.from('"~');

function messageText(seq) {
  const head = '~' + seq + '~' + nowUs() + '~';
  return head + 'x'.repeat(Math.max(0, 64 - head.length));
}

// ------------------------------------------------------------------------------------------
// helpers

async function runPool(n, concurrency, fn) {
  let next = 0;
  const workers = [];
  for (let k = 0; k < Math.min(concurrency, n); k++) {
    workers.push(
      (async () => {
        for (;;) {
          const i = next++;
          if (i >= n) return;
          await fn(i, k);
        }
      })(),
    );
  }
  await Promise.all(workers);
}

function openWs(connId, onMessage, onClose) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket('ws://' + HOST + ':' + PORT + '/ws?conn_id=' + connId, {
      perMessageDeflate: false,
      handshakeTimeout: 30000,
    });
    let opened = false;
    ws.on('open', () => {
      opened = true;
      resolve(ws);
    });
    ws.on('message', (data) => onMessage(data));
    ws.on('error', (e) => {
      if (!opened) reject(e);
    });
    ws.on('close', (code) => {
      if (!opened) reject(new Error('closed before open: ' + code));
      else if (onClose) onClose(code);
    });
  });
}

// a Pusher client: open the websocket, wait for pusher:connection_established, subscribe to
// CHANNEL (public), resolve on pusher_internal:subscription_succeeded
function openPusher(channel, onMessage, onClose) {
  return new Promise((resolve, reject) => {
    const url = 'ws://' + HOST + ':' + PORT + '/app/' + PUSHER.key + '?protocol=7&client=js&version=8.4.0&flash=false';
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 30000 });
    let state = 0; // 0: waiting for established, 1: for subscribed, 2: subscribed
    ws.on('message', (data) => {
      if (state === 2) return onMessage(data);
      let m;
      try {
        m = JSON.parse(data.toString());
      } catch (e) {
        return reject(new Error('unreadable pusher frame'));
      }
      if (state === 0 && m.event === 'pusher:connection_established') {
        state = 1;
        ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
      } else if (state === 1 && m.event === 'pusher_internal:subscription_succeeded') {
        state = 2;
        resolve(ws);
      } else if (m.event === 'pusher:error') {
        reject(new Error('pusher:error ' + JSON.stringify(m.data)));
      }
    });
    ws.on('error', (e) => {
      if (state < 2) reject(e);
    });
    ws.on('close', (code) => {
      if (state < 2) reject(new Error('closed before subscribed: ' + code));
      else if (onClose) onClose(code);
    });
  });
}

// bring one client online on CHANNEL: POST /connect then the websocket (channelstream), or
// the websocket then pusher:subscribe (Pusher)
async function subscribeClient(conn, username, channel, onMessage, onClose) {
  if (PROTO === 'pusher') return openPusher(channel, onMessage, onClose);
  const connId = await connectUser(conn, username, [channel]);
  return openWs(connId, onMessage, onClose);
}

// what a client sends as its keep-alive: channelstream's heartbeat, Pusher's pusher:ping
const CLIENT_HEARTBEAT = PROTO === 'pusher' ? '{"event":"pusher:ping","data":{}}' : '{"type":"heartbeat"}';

function round(v, d) {
  if (v === null || v === undefined || !isFinite(v)) return null;
  const m = Math.pow(10, d);
  return Math.round(v * m) / m;
}

async function waitDrain(tracker, expectedFn, idleS, maxS) {
  const start = nowS();
  let lastUnique = -1;
  let lastChange = nowS();
  for (;;) {
    await sleep(50);
    const exp = expectedFn();
    if (tracker.unique >= exp) return true;
    if (tracker.unique !== lastUnique) {
      lastUnique = tracker.unique;
      lastChange = nowS();
    }
    if (nowS() - lastChange > idleS || nowS() - start > maxS) return false;
  }
}

// ------------------------------------------------------------------------------------------
// publisher: POST /message batches, either as fast as the server answers (rate null) or at a
// fixed rate of messages per second.

async function publish(tracker, opts) {
  const { channels, rate, duration, maxMsgs, pubConns, batch, channelName } = opts;
  const conns = [];
  for (let k = 0; k < pubConns; k++) conns.push(new HttpConn(HOST, PORT));
  let seq = 0;
  let posts = 0;
  let postErrors = 0;
  const statuses = {};
  const postHist = new Hist();
  const t0 = nowS();
  const end = t0 + duration;

  async function postBatch(conn, n) {
    const items = [];
    const seqs = [];
    for (let k = 0; k < n && seq < maxMsgs; k++) {
      const s = seq++;
      const ch = s % channels;
      tracker.seqChannel[s] = ch;
      seqs.push(s);
      items.push({ channel: channelName(ch), text: messageText(s) });
    }
    if (!items.length) return;
    const started = nowUs();
    try {
      const r = await publishRequest(conn, items);
      statuses[r.status] = (statuses[r.status] || 0) + 1;
      if (r.status === 200) {
        for (const s of seqs) tracker.accepted[s] = 1;
        posts += 1;
        postHist.add(nowUs() - started);
      } else postErrors += 1;
    } catch (e) {
      postErrors += 1;
      statuses.error = (statuses.error || 0) + 1;
    }
  }

  if (!rate) {
    await Promise.all(
      conns.map(async (conn) => {
        while (nowS() < end && seq < maxMsgs) await postBatch(conn, batch);
      }),
    );
  } else {
    // one message per POST at t0 + k / rate, on whichever publisher connection is free
    const busy = new Array(conns.length).fill(false);
    const inflight = [];
    let late = 0;
    for (let k = 0; ; k++) {
      const due = t0 + k / rate;
      if (due >= end || seq >= maxMsgs) break;
      const wait = (due - nowS()) * 1000;
      if (wait > 0) await sleep(wait);
      let idx = busy.indexOf(false);
      if (idx < 0) {
        late += 1;
        while ((idx = busy.indexOf(false)) < 0) await sleep(1);
      }
      busy[idx] = true;
      inflight.push(postBatch(conns[idx], 1).then(() => (busy[idx] = false)));
    }
    await Promise.all(inflight);
    opts.late = late;
  }
  const t1 = nowS();
  for (const c of conns) c.close();
  return {
    t0,
    t1,
    published: seq,
    posts,
    postErrors,
    statuses,
    postsPerSec: round(posts / (t1 - t0), 1),
    postLatencyMs: postHist.summaryMs(),
    late: opts.late || 0,
  };
}

// ------------------------------------------------------------------------------------------
// scenarios

async function scenarioWsFanout(p) {
  // p: subs, channels, rate (null: as fast as accepted), duration, maxMsgs, pubConns, batch
  const subs = p.subs;
  const channels = p.channels;
  const channelName = (c) => (channels === 1 ? 'bench_fan' : 'bench_ch' + c);
  const subChannel = new Int32Array(subs);
  for (let i = 0; i < subs; i++) subChannel[i] = i % channels;
  const tracker = new Tracker(subs, p.maxMsgs, subChannel);
  const sampler = new ProcSampler(SERVER_PID);
  const rssStart = sampler.rssKiB();

  // connect every subscriber: POST /connect, then the WebSocket
  const setupConns = [];
  for (let k = 0; k < 16; k++) setupConns.push(new HttpConn(HOST, PORT));
  const sockets = new Array(subs);
  let closedEarly = 0;
  const tSetup = nowS();
  await runPool(subs, 16, async (i, w) => {
    sockets[i] = await subscribeClient(
      setupConns[w],
      'bench_sub' + i,
      channelName(subChannel[i]),
      (data) => tracker.scan(i, data),
      () => closedEarly++,
    );
  });
  for (const c of setupConns) c.close();
  const setupS = nowS() - tSetup;
  log('fanout: ' + subs + ' subscribers connected in ' + round(setupS, 2) + ' s');
  await sleep((p.settle || 1) * 1000);
  const framesBefore = tracker.frames;
  const hbBefore = tracker.heartbeats;
  const rssBefore = sampler.rssKiB();

  sampler.start(100);
  const pub = await publish(tracker, {
    channels,
    rate: p.rate,
    duration: p.duration,
    maxMsgs: p.maxMsgs,
    pubConns: p.pubConns,
    batch: p.batch || 1,
    channelName,
  });
  const expected = tracker.expected();
  const drained = await waitDrain(tracker, () => expected, p.drainIdle || 3, p.drainMax || 20);
  sampler.stop();

  const tStart = pub.t0;
  const tEnd = Math.max(tracker.lastRecvS, pub.t1);
  const s0 = sampler.before(tStart);
  const s1 = sampler.at(tEnd);
  const span = s1.t - s0.t;
  const cpu = s1.cpu - s0.cpu;
  const sched = s1.sched - s0.sched;
  const selfCpu = s1.self - s0.self;
  const lost = tracker.lost();
  for (const ws of sockets) if (ws) ws.terminate();
  const frames = tracker.frames - framesBefore - (tracker.heartbeats - hbBefore);
  return {
    subscribers: subs,
    channels,
    setup_s: round(setupS, 2),
    connects_per_s: round(subs / setupS, 1),
    publisher: pub,
    expected,
    delivered: tracker.unique,
    lost: lost.lost,
    lost_subscribers: lost.lostSubs,
    duplicated: tracker.dups,
    unexpected: tracker.unexpected,
    bad_frames: tracker.badFrames,
    drained,
    closed_early: closedEarly,
    window_s: round(span, 3),
    delivered_per_s: round(tracker.unique / span, 1),
    msgs_per_frame: round(tracker.received / Math.max(1, frames), 2),
    server_cpu_s: round(cpu, 3),
    server_cpu_util: round(cpu / span, 3),
    server_cpu_us_per_delivery: round((cpu * 1e6) / Math.max(1, tracker.unique), 3),
    server_sched_us_per_delivery: round((sched * 1e6) / Math.max(1, tracker.unique), 3),
    server_rss_kib_start: rssStart,
    server_rss_kib_connected: rssBefore,
    server_rss_kib_peak: sampler.peakRssKiB,
    latency_ms: tracker.hist.summaryMs(),
    loadgen_cpu_s: round(selfCpu, 3),
    loadgen_cpu_util: round(selfCpu / span, 3),
    loadgen_cpu_us_per_msg: round((selfCpu * 1e6) / Math.max(1, tracker.received), 3),
    loadgen_sys_us_per_msg: round(((s1.selfSys - s0.selfSys) * 1e6) / Math.max(1, tracker.received), 3),
    ...interference(s0, s1),
  };
}

async function scenarioLongPoll(p) {
  // p: clients, rate (null: as fast as accepted), duration, maxMsgs, pubConns
  const clients = p.clients;
  const subChannel = new Int32Array(clients); // all on channel 0
  const tracker = new Tracker(clients, p.maxMsgs, subChannel);
  const sampler = new ProcSampler(SERVER_PID);
  const setup = new HttpConn(HOST, PORT);
  const ids = [];
  const tSetup = nowS();
  for (let i = 0; i < clients; i++) ids.push(await connectUser(setup, 'bench_lp' + i, ['bench_lp']));
  setup.close();
  const setupS = nowS() - tSetup;
  let stop = false;
  let polls = 0;
  let pollErrors = 0;
  const pollStatuses = {};
  const conns = ids.map(() => new HttpConn(HOST, PORT));
  const loops = ids.map(async (id, i) => {
    const conn = conns[i];
    while (!stop) {
      try {
        const r = await conn.request('GET', '/listen?conn_id=' + id);
        if (stop) break;
        polls += 1;
        pollStatuses[r.status] = (pollStatuses[r.status] || 0) + 1;
        if (r.status === 200) tracker.scan(i, r.body);
        else {
          pollErrors += 1;
          await sleep(100);
        }
      } catch (e) {
        if (stop) break;
        pollErrors += 1;
        pollStatuses.error = (pollStatuses.error || 0) + 1;
        await sleep(100);
      }
    }
  });
  log('longpoll: ' + clients + ' clients connected in ' + round(setupS, 2) + ' s, polling');
  await sleep((p.settle || 1) * 1000);
  const pollsBefore = polls;
  sampler.start(100);
  const pub = await publish(tracker, {
    channels: 1,
    rate: p.rate,
    duration: p.duration,
    maxMsgs: p.maxMsgs,
    pubConns: p.pubConns,
    batch: p.batch || 1,
    channelName: () => 'bench_lp',
  });
  const expected = tracker.expected();
  const drained = await waitDrain(tracker, () => expected, p.drainIdle || 7, p.drainMax || 20);
  sampler.stop();
  stop = true;
  for (const c of conns) c.close();
  await Promise.all(loops);
  const tStart = pub.t0;
  const tEnd = Math.max(tracker.lastRecvS, pub.t1);
  const s0 = sampler.before(tStart);
  const s1 = sampler.at(tEnd);
  const span = s1.t - s0.t;
  const cpu = s1.cpu - s0.cpu;
  const selfCpu = s1.self - s0.self;
  const lost = tracker.lost();
  return {
    clients,
    setup_s: round(setupS, 2),
    publisher: pub,
    expected,
    delivered: tracker.unique,
    lost: lost.lost,
    lost_subscribers: lost.lostSubs,
    duplicated: tracker.dups,
    unexpected: tracker.unexpected,
    bad_frames: tracker.badFrames,
    drained,
    polls: polls - pollsBefore,
    poll_errors: pollErrors,
    poll_statuses: pollStatuses,
    window_s: round(span, 3),
    delivered_per_s: round(tracker.unique / span, 1),
    msgs_per_poll: round(tracker.received / Math.max(1, polls - pollsBefore), 2),
    server_cpu_s: round(cpu, 3),
    server_cpu_util: round(cpu / span, 3),
    server_cpu_us_per_delivery: round((cpu * 1e6) / Math.max(1, tracker.unique), 3),
    server_rss_kib_peak: sampler.peakRssKiB,
    latency_ms: tracker.hist.summaryMs(),
    loadgen_cpu_s: round(selfCpu, 3),
    loadgen_cpu_util: round(selfCpu / span, 3),
    loadgen_cpu_us_per_msg: round((selfCpu * 1e6) / Math.max(1, tracker.received), 3),
    loadgen_sys_us_per_msg: round(((s1.selfSys - s0.selfSys) * 1e6) / Math.max(1, tracker.received), 3),
    ...interference(s0, s1),
  };
}

async function scenarioIdle(p) {
  // p: conns, concurrency, idle (s), heartbeat (s, 0: none), settle (s)
  const n = p.conns;
  const sampler = new ProcSampler(SERVER_PID);
  const subChannel = new Int32Array(n);
  const tracker = new Tracker(n, 1, subChannel);
  await sleep(500);
  const rssBase = sampler.rssKiB();
  const c0 = sampler.sample();
  const sockets = new Array(n);
  let closed = 0;
  const closeCodes = {};
  const httpConns = [];
  for (let k = 0; k < p.concurrency; k++) httpConns.push(new HttpConn(HOST, PORT));
  let failures = 0;
  const t0 = nowS();
  await runPool(n, p.concurrency, async (i, w) => {
    try {
      sockets[i] = await subscribeClient(httpConns[w], 'bench_idle' + i, 'bench_idle' + (i % 1000), (data) => tracker.scan(i, data), (code) => {
        closed += 1;
        closeCodes[code] = (closeCodes[code] || 0) + 1;
      });
    } catch (e) {
      failures += 1;
      if (failures < 5) log('idle: connect failed: ' + e.message);
    }
  });
  const t1 = nowS();
  const c1 = sampler.sample();
  for (const c of httpConns) c.close();
  const opened = sockets.filter(Boolean).length;
  log('idle: ' + opened + ' websockets open in ' + round(t1 - t0, 2) + ' s');
  await sleep((p.settle || 2) * 1000);
  const rssConnected = sampler.rssKiB();

  // window 1: nothing but the server's own heartbeats
  const hb0 = tracker.heartbeats;
  const i0 = sampler.sample();
  await sleep(p.idle * 1000);
  const i1 = sampler.sample();
  const hb1 = tracker.heartbeats;
  const openAfterIdle = sockets.filter((ws) => ws && ws.readyState === WebSocket.OPEN).length;

  // window 2: each client also sends {"type": "heartbeat"} every p.heartbeat s, like the
  // JavaScript client (first ones spread over the interval)
  const timers = [];
  let h0 = i1;
  let h1 = i1;
  if (p.heartbeat) {
    for (const ws of sockets) {
      if (!ws) continue;
      const first = setTimeout(() => {
        const iv = setInterval(() => {
          if (ws.readyState === WebSocket.OPEN) ws.send(CLIENT_HEARTBEAT);
        }, p.heartbeat * 1000);
        timers.push(iv);
        if (ws.readyState === WebSocket.OPEN) ws.send(CLIENT_HEARTBEAT);
      }, Math.random() * p.heartbeat * 1000);
      timers.push(first);
    }
    h0 = sampler.sample();
    await sleep(p.heartbeat * 1000);
    h1 = sampler.sample();
  }
  const rssEnd = sampler.rssKiB();
  const stillOpen = sockets.filter((ws) => ws && ws.readyState === WebSocket.OPEN).length;
  for (const t of timers) clearTimeout(t);
  for (const ws of sockets) if (ws) ws.terminate();
  const idleSpan = i1.t - i0.t;
  const hbSpan = h1.t - h0.t;
  return {
    conns: n,
    opened,
    failures,
    open_after_idle: openAfterIdle,
    still_open: stillOpen,
    closed_during_test: closed,
    close_codes: closeCodes,
    connect_s: round(t1 - t0, 3),
    connects_per_s: round(opened / (t1 - t0), 1),
    connect_server_cpu_us_per_connect: round(((c1.cpu - c0.cpu) * 1e6) / Math.max(1, opened), 1),
    connect_server_cpu_util: round((c1.cpu - c0.cpu) / (t1 - t0), 3),
    connect_loadgen_cpu_util: round((c1.self - c0.self) / (t1 - t0), 3),
    connect_loadgen_cpu_us_per_connect: round(((c1.self - c0.self) * 1e6) / Math.max(1, opened), 1),
    server_rss_kib_base: rssBase,
    server_rss_kib_connected: rssConnected,
    server_rss_kib_end: rssEnd,
    rss_kib_per_conn: round((rssConnected - rssBase) / Math.max(1, opened), 2),
    idle_window_s: round(idleSpan, 2),
    idle_server_cpu_util: round((i1.cpu - i0.cpu) / idleSpan, 4),
    idle_server_sched_util: round((i1.sched - i0.sched) / idleSpan, 4),
    server_heartbeat_frames_in_window: hb1 - hb0,
    client_heartbeats_every_s: p.heartbeat,
    client_heartbeat_window_s: round(hbSpan, 2),
    idle_with_client_heartbeats_server_cpu_util: hbSpan > 0 ? round((h1.cpu - h0.cpu) / hbSpan, 4) : null,
    bad_frames: tracker.badFrames,
    loadgen_idle_cpu_util: round((i1.self - i0.self) / idleSpan, 4),
    ...interference(i0, i1),
  };
}

async function scenarioHttp(p) {
  // p: conns, duration, warmup, maxRequests: POST /connect and POST /message alternating on
  // each keep-alive connection.
  const sampler = new ProcSampler(SERVER_PID);
  const setup = new HttpConn(HOST, PORT);
  // one connection that never attaches keeps the target channel alive
  await connectUser(setup, 'bench_http_holder', ['bench_http']);
  setup.close();
  const conns = [];
  for (let k = 0; k < p.conns; k++) conns.push(new HttpConn(HOST, PORT));
  const hist = new Hist();
  const counts = { connect: 0, message: 0 };
  const statuses = {};
  let errors = 0;
  let total = 0;
  let measuring = false;
  let stop = false;
  let userN = 0;
  const bodyMsg = (k) =>
    JSON.stringify([{ channel: 'bench_http', user: 'bench_http_pub', message: { text: messageText(k) } }]);
  const workers = conns.map(async (conn, w) => {
    let k = 0;
    while (!stop && total < p.maxRequests) {
      const isConnect = k % 2 === 0;
      k++;
      const started = nowUs();
      try {
        const r = isConnect
          ? await apiPost(conn, '/connect', { username: 'bench_http_u' + (userN++ % 100), channels: ['bench_http_c'] })
          : await conn.request('POST', '/message', bodyMsg(k), signedHeaders());
        if (measuring) {
          total += 1;
          statuses[r.status] = (statuses[r.status] || 0) + 1;
          if (r.status === 200) {
            counts[isConnect ? 'connect' : 'message'] += 1;
            hist.add(nowUs() - started);
          } else errors += 1;
        }
      } catch (e) {
        if (measuring) {
          errors += 1;
          statuses.error = (statuses.error || 0) + 1;
        }
        await sleep(10);
      }
    }
  });
  await sleep((p.warmup || 0.5) * 1000);
  const s0 = sampler.sample();
  const ok0 = counts.connect + counts.message;
  measuring = true;
  await sleep(p.duration * 1000);
  measuring = false;
  const s1 = sampler.sample();
  const ok = counts.connect + counts.message - ok0;
  stop = true;
  for (const c of conns) c.close();
  await Promise.race([Promise.all(workers), sleep(3000)]);
  const span = s1.t - s0.t;
  const cpu = s1.cpu - s0.cpu;
  const selfCpu = s1.self - s0.self;
  return {
    conns: p.conns,
    window_s: round(span, 3),
    requests_ok: ok,
    by_endpoint: counts,
    errors,
    statuses,
    requests_per_s: round(ok / span, 1),
    latency_ms: hist.summaryMs(),
    server_cpu_s: round(cpu, 3),
    server_cpu_util: round(cpu / span, 3),
    server_cpu_us_per_request: round((cpu * 1e6) / Math.max(1, ok), 2),
    server_sched_us_per_request: round(((s1.sched - s0.sched) * 1e6) / Math.max(1, ok), 2),
    server_rss_kib_end: sampler.rssKiB(),
    loadgen_cpu_util: round(selfCpu / span, 3),
    loadgen_cpu_us_per_request: round((selfCpu * 1e6) / Math.max(1, ok), 2),
    ...interference(s0, s1),
  };
}

async function signOnly() {
  // for the signer check: print a signature made now
  process.stdout.write(itsdangerousSign(SECRET, PARAMS.value || 'channelstream', Math.floor(Date.now() / 1000)) + '\n');
}

const SCENARIOS = {
  ws_fanout: scenarioWsFanout,
  longpoll: scenarioLongPoll,
  idle: scenarioIdle,
  http: scenarioHttp,
  sign: signOnly,
};

async function main() {
  const fn = SCENARIOS[ARGS.scenario];
  if (!fn) throw new Error('unknown scenario ' + ARGS.scenario);
  // a hard stop so that a stuck run can never hang the benchmark
  const limit = setTimeout(() => {
    log('time limit reached, exiting');
    process.exit(3);
  }, (PARAMS.timeLimit || 180) * 1000);
  limit.unref();
  const result = await fn(PARAMS);
  if (result) process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}

main().catch((e) => {
  log('error: ' + (e && e.stack ? e.stack : e));
  process.stdout.write(JSON.stringify({ error: String(e && e.message ? e.message : e) }) + '\n');
  process.exit(2);
});
