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
 * 101 response headers are read. Returns {socket, received (bytes after the headers so
 * far), sendText(s), sendBinary(buf), sendFrame(buf), stats}.
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
    socket.on('data', (chunk) => {
      if (upgraded) { stats.bytesAfterHandshake += chunk.length; return; }
      head = Buffer.concat([head, chunk]);
      const endIdx = head.indexOf('\r\n\r\n');
      if (endIdx < 0) { if (head.length > 16384) { socket.destroy(); reject(new Error('handshake too long')); } return; }
      const headers = head.subarray(0, endIdx).toString('latin1');
      if (!/^HTTP\/1\.1 101/.test(headers)) { socket.destroy(); clearTimeout(timer); reject(new Error(`handshake refused: ${headers.split('\r\n')[0]}`)); return; }
      upgraded = true;
      stats.bytesAfterHandshake += head.length - endIdx - 4;
      clearTimeout(timer);
      if (pauseAfterHandshake) socket.pause();
      resolve(api);
    });
  });
}
