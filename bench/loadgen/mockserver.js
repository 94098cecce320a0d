'use strict';
// A deliberately small stand-in server for calibrating the load generator (bench/run.py
// --calibrate): just enough of the wire contract for the ws_fanout scenario (POST /connect,
// GET /ws, POST /message to channels), each published message encoded once and sent as its
// own frame (no coalescing, the worst case for the receiver). It does not check signatures.
// Usage: node mockserver.js PORT

const http = require('http');
const crypto = require('crypto');
const WebSocket = require('ws');

const port = parseInt(process.argv[2], 10);
const conns = new Map(); // conn_id -> {channels, ws}
const channels = new Map(); // name -> Set of conn records

function readBody(req) {
  return new Promise((resolve) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
  });
}

function answer(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer(async (req, res) => {
  const path = req.url.split('?')[0];
  if (req.method === 'POST' && path === '/connect') {
    const body = JSON.parse(await readBody(req));
    const id = crypto.randomUUID();
    const rec = { id, user: body.username, ws: null };
    conns.set(id, rec);
    for (const name of body.channels || []) {
      if (!channels.has(name)) channels.set(name, new Set());
      channels.get(name).add(rec);
    }
    return answer(res, 200, { conn_id: id, username: body.username, channels: body.channels || [] });
  }
  if (req.method === 'POST' && path === '/message') {
    const items = JSON.parse(await readBody(req));
    const out = [];
    for (const m of items) {
      const msg = {
        type: 'message',
        channel: m.channel,
        user: m.user,
        message: m.message,
        uuid: crypto.randomUUID(),
        timestamp: new Date().toISOString().slice(0, -1),
        catchup: false,
        edited: null,
      };
      out.push(msg);
      const frame = JSON.stringify([msg]);
      const members = channels.get(m.channel);
      if (members) for (const rec of members) if (rec.ws) rec.ws.send(frame);
    }
    return answer(res, 200, out);
  }
  return answer(res, 404, { error: 'not found' });
});

const wss = new WebSocket.Server({ noServer: true, perMessageDeflate: false });
server.on('upgrade', (req, socket, head) => {
  const id = new URL(req.url, 'http://x').searchParams.get('conn_id');
  const rec = conns.get(id);
  if (!rec) {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    rec.ws = ws;
    ws.on('close', () => (rec.ws = null));
  });
});

server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1', () => process.stderr.write('mockserver on 127.0.0.1:' + port + '\n'));
