// A tiny RESP2 client over node:net for tests that act as a backplane node themselves: commands
// are answered in order; once SUBSCRIBEd, published messages go to `onMessage(channel, payload)`.
// Payloads are returned as UTF-8 strings (the backplane's envelopes are JSON text).

import net from 'node:net';

export class RespClient {
  static connect(url) {
    const [host, port] = url.split(',')[0].split(':');
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port || 6379), host || '127.0.0.1');
      socket.once('connect', () => resolve(new RespClient(socket)));
      socket.once('error', reject);
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    this.pending = [];
    this.onMessage = () => {};
    socket.on('data', (data) => {
      this.buffer = Buffer.concat([this.buffer, data]);
      for (;;) {
        const parsed = parse(this.buffer, 0);
        if (!parsed) break;
        this.buffer = this.buffer.subarray(parsed.end);
        this.dispatch(parsed.value);
      }
    });
  }

  dispatch(value) {
    if (Array.isArray(value) && value[0] === 'message') return this.onMessage(value[1], value[2]);
    const waiter = this.pending.shift();
    if (!waiter) return;
    if (value instanceof Error) waiter.reject(value);
    else waiter.resolve(value);
  }

  command(...args) {
    const parts = [`*${args.length}\r\n`];
    for (const a of args) {
      const s = String(a);
      parts.push(`$${Buffer.byteLength(s)}\r\n${s}\r\n`);
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(parts.join(''));
    });
  }

  close() {
    this.socket.destroy();
  }
}

// One RESP2 value starting at `at`; null when the buffer does not hold all of it yet.
function parse(buf, at) {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[at]);
  const line = buf.toString('utf8', at + 1, eol);
  switch (type) {
    case '+': return { value: line, end: eol + 2 };
    case '-': return { value: new Error(line), end: eol + 2 };
    case ':': return { value: Number(line), end: eol + 2 };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, end: eol + 2 };
      if (buf.length < eol + 2 + n + 2) return null;
      return { value: buf.toString('utf8', eol + 2, eol + 2 + n), end: eol + 2 + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: eol + 2 };
      const items = [];
      let end = eol + 2;
      for (let i = 0; i < n; i++) {
        const item = parse(buf, end);
        if (!item) return null;
        items.push(item.value);
        end = item.end;
      }
      return { value: items, end };
    }
    default: throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}
