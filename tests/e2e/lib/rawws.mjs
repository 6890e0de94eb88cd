// A bare WebSocket client over a raw TCP socket, for the tests a normal client cannot
// do: a slow reader that performs the handshake and then stops reading, half-closed
// sockets, hand-made frames. See lib/relay.mjs for the overview of the helper library.
import net from 'node:net';
import { randomBytes } from 'node:crypto';

/** Encodes one masked client frame (opcode 1 text, 2 binary, 8 close, 9 ping). */
export function encodeFrame(payload, opcode = 1, fin = true) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  const len = data.length;
  const head = [(fin ? 0x80 : 0) | opcode];
  if (len < 126) head.push(0x80 | len);
  else if (len < 65536) head.push(0x80 | 126, len >> 8, len & 255);
  else {
    head.push(0x80 | 127);
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(len));
    head.push(...b);
  }
  const mask = randomBytes(4);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = data[i] ^ mask[i & 3];
  return Buffer.concat([Buffer.from(head), mask, body]);
}

/**
 * Connects to 127.0.0.1:port, performs the WebSocket handshake and resolves once the
 * 101 response headers are read. Returns {socket, stats (bytesAfterHandshake, ended,
 * closed), messages (text messages received, decoded from the frames), closeFrame,
 * sendText(s), sendBinary(buf), sendFrame(buf), resume(), waitClosed(ms)}.
 * With {pauseAfterHandshake: true} the socket stops reading right after the handshake
 * (the kernel buffers fill, the relay's output queue grows): call resume() to drain.
 */
export function rawWebSocket(port, { host = '127.0.0.1', path = '/', timeout = 5000, pauseAfterHandshake = false } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const key = randomBytes(16).toString('base64');
    let head = Buffer.alloc(0);
    const stats = { bytesAfterHandshake: 0, ended: false, closed: false, error: null };
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('raw websocket handshake timeout')); }, timeout);
    socket.on('error', (e) => { stats.error = e; clearTimeout(timer); reject(e); });
    socket.on('end', () => { stats.ended = true; });
    socket.on('close', () => { stats.closed = true; });
    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    let upgraded = false;
    const api = {
      socket, stats,
      sendFrame: (buf) => socket.write(buf),
      sendText: (s) => socket.write(encodeFrame(s, 1)),
      sendBinary: (b) => socket.write(encodeFrame(b, 2)),
      resume: () => socket.resume(),
      /** Resolves when the peer closed the connection (true) or after ms (false). */
      waitClosed: (ms) => new Promise((r) => {
        if (stats.closed || stats.ended) return r(true);
        const t = setTimeout(() => r(false), ms);
        const done = () => { clearTimeout(t); r(true); };
        socket.once('end', done);
        socket.once('close', done);
      }),
    };
    // Decoder of the server's (unmasked) frames: complete text messages go to api.messages.
    api.messages = [];
    let buf = Buffer.alloc(0);
    let partial = [];
    const decode = (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      for (;;) {
        if (buf.length < 2) return;
        const fin = buf[0] & 0x80, op = buf[0] & 0x0f;
        let len = buf[1] & 0x7f, off = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
        else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
        if (buf[1] & 0x80) off += 4; // a server must not mask; skip the key if it does
        if (buf.length < off + len) return;
        const payload = buf.subarray(off, off + len);
        buf = buf.subarray(off + len);
        if (op === 0 || op === 1 || op === 2) {
          partial.push(Buffer.from(payload));
          if (fin) { api.messages.push(Buffer.concat(partial).toString('utf8')); partial = []; }
        } else if (op === 8) api.closeFrame = Buffer.from(payload);
      }
    };
    socket.on('data', (chunk) => {
      if (upgraded) { stats.bytesAfterHandshake += chunk.length; decode(chunk); return; }
      head = Buffer.concat([head, chunk]);
      const endIdx = head.indexOf('\r\n\r\n');
      if (endIdx < 0) { if (head.length > 16384) { socket.destroy(); reject(new Error('handshake too long')); } return; }
      const headers = head.subarray(0, endIdx).toString('latin1');
      if (!/^HTTP\/1\.1 101/.test(headers)) { socket.destroy(); clearTimeout(timer); reject(new Error(`handshake refused: ${headers.split('\r\n')[0]}`)); return; }
      upgraded = true;
      stats.bytesAfterHandshake += head.length - endIdx - 4;
      if (head.length > endIdx + 4) decode(Buffer.from(head.subarray(endIdx + 4)));
      clearTimeout(timer);
      if (pauseAfterHandshake) socket.pause();
      resolve(api);
    });
  });
}
