// A helloworld.Greeter server in Node.js with amqplib, written from
// docs/amqp-protocol.md alone: it shows that document is enough to serve
// svcclient's AMQP clients from another language. interop_test.go starts it
// and calls it with the generated Go client.
//
// Environment: AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/),
// QUEUE (default helloworld.Greeter). It prints "ready" once it consumes,
// and stops on SIGTERM or SIGINT after answering what it holds.
'use strict';

const amqp = require('amqplib');

const url = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672/';
const queue = process.env.QUEUE || 'helloworld.Greeter';
const maxBody = 4 << 20;

// gRPC status codes (section 6.3).
const Code = {
  OK: 0, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12, INTERNAL: 13,
};

class RpcError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// Codecs (section 5). HelloRequest and HelloReply each have one string
// field numbered 1, so the protobuf encoding is written by hand here.
const codecs = {
  json: {
    contentType: 'application/json',
    decode(body) {
      if (body.length === 0) return {};
      const v = JSON.parse(body.toString('utf8'));
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
      return { name: v.name === undefined ? '' : String(v.name) };
    },
    encode(reply) {
      return Buffer.from(JSON.stringify(reply.message ? { message: reply.message } : {}));
    },
  },
  proto: {
    contentType: 'application/proto',
    decode(body) {
      const out = { name: '' };
      let i = 0;
      const varint = () => {
        let n = 0, shift = 0;
        for (;;) {
          if (i >= body.length) throw new Error('truncated varint');
          const b = body[i++];
          n += (b & 0x7f) * 2 ** shift;
          if (b < 0x80) return n;
          shift += 7;
          if (shift > 63) throw new Error('varint too long');
        }
      };
      while (i < body.length) {
        const key = varint();
        const field = Math.floor(key / 8), wire = key % 8;
        if (field === 0) throw new Error('field number 0');
        if (wire === 0) varint();
        else if (wire === 1) i += 8;
        else if (wire === 5) i += 4;
        else if (wire === 2) {
          const len = varint();
          if (i + len > body.length) throw new Error('truncated field');
          if (field === 1) out.name = body.toString('utf8', i, i + len);
          i += len;
        } else throw new Error(`unsupported wire type ${wire}`);
        if (i > body.length) throw new Error('truncated field');
      }
      return out;
    },
    encode(reply) {
      if (!reply.message) return Buffer.alloc(0);
      const s = Buffer.from(reply.message, 'utf8');
      const len = [];
      for (let n = s.length; ; n = Math.floor(n / 128)) {
        if (n < 128) { len.push(n); break; }
        len.push((n % 128) | 0x80);
      }
      return Buffer.concat([Buffer.from([0x0a, ...len]), s]);
    },
  },
};

function codecFor(contentType) {
  if (!contentType) return codecs.proto; // absent: protobuf binary
  const mediaType = contentType.split(';')[0].trim().toLowerCase();
  switch (mediaType) {
    case 'application/proto': case 'application/protobuf':
    case 'application/x-protobuf': case 'application/vnd.google.protobuf':
      return codecs.proto;
    case 'application/json':
      return codecs.json;
  }
  throw new RpcError(Code.INVALID_ARGUMENT, `unsupported content_type ${JSON.stringify(contentType)}`);
}

// Reads an integer header value of any AMQP integer type, or a decimal string.
function headerInt(v) {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) return Number(v);
  return undefined;
}

// Headers other than rpc-* are metadata (section 4.2), lower-cased.
function incomingMetadata(headers) {
  const md = {};
  for (const [k, v] of Object.entries(headers || {})) {
    const key = k.toLowerCase();
    if (key.startsWith('rpc-')) continue;
    const values = Array.isArray(v) ? v : [v];
    for (const value of values) {
      let s;
      if (Buffer.isBuffer(value)) s = key.endsWith('-bin') ? value : value.toString('utf8');
      else if (typeof value === 'string') s = key.endsWith('-bin') ? Buffer.from(value, 'base64') : value;
      else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') s = String(value);
      else continue;
      (md[key] = md[key] || []).push(s);
    }
  }
  return md;
}

// The method: SayHello. It sees the deadline and the metadata, and returns
// the reply with header and trailer metadata.
function sayHello(req, md) {
  if (req.name === '') {
    throw new RpcError(Code.INVALID_ARGUMENT, 'name must not be empty');
  }
  if (req.name === 'crash') {
    throw new Error('told to crash');
  }
  const header = {};
  if (md['x-request-id']) header['x-request-id'] = md['x-request-id'];
  return {
    reply: { message: `Hello ${req.name} from node` },
    header,
    trailer: { 'x-served-by': ['node'] },
  };
}

// Writes metadata as headers: one value as a string, several as an array,
// -bin values base64 (section 4.2).
function putMetadata(headers, prefix, md) {
  for (const [key, values] of Object.entries(md)) {
    const enc = values.map((v) => (key.endsWith('-bin') ? Buffer.from(v).toString('base64') : String(v)));
    headers[prefix + key] = enc.length === 1 ? enc[0] : enc;
  }
}

async function main() {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  // Replies go out on a connection of their own, on a channel in confirm
  // mode: a request is acked only once the broker confirmed its reply
  // (sections 6.2 and 9).
  const replyConn = await amqp.connect(url);
  const replyCh = await replyConn.createConfirmChannel();
  // Section 1: the declaration every server makes, argument for argument
  // (RabbitMQ refuses a different one with 406). x-expires is sent as a
  // signed 32-bit integer, as the Go server sends it.
  await ch.assertQueue(queue, {
    durable: true, autoDelete: false, exclusive: false,
    arguments: { 'x-expires': { '!': 'int32', value: 86400000 } },
  });
  await ch.prefetch(16);

  let inFlight = 0;
  let stopping = false;
  const { consumerTag } = await ch.consume(queue, (msg) => {
    if (msg === null) return; // the broker cancelled the consumer
    inFlight++;
    try {
      serve(msg, () => { inFlight--; });
    } catch (e) {
      inFlight--;
      throw e;
    }
  }, { noAck: false });

  function serve(msg, done) {
    const p = msg.properties;
    // Section 6.2, step by step.
    if (!p.replyTo) {
      console.error('dropping a request without reply_to');
      ch.ack(msg);
      done();
      return;
    }
    // Reserved rpc-* header names are read in any case (section 4).
    const headers = {};
    for (const [k, v] of Object.entries(p.headers || {})) {
      const key = k.toLowerCase();
      headers[key.startsWith('rpc-') ? key : k] = v;
    }
    const reply = { correlationId: p.correlationId, headers: {} };
    let deadline;
    let body = Buffer.alloc(0);
    try {
      if (headers['rpc-deadline'] !== undefined) {
        deadline = headerInt(headers['rpc-deadline']);
        if (deadline === undefined) throw new RpcError(Code.INVALID_ARGUMENT, 'rpc-deadline is not an integer');
        reply.expiration = String(Math.max(1, deadline - Date.now()));
      }
      // Section 3: without a correlation_id nobody could match the reply,
      // so the method does not run.
      if (!p.correlationId) throw new RpcError(Code.INVALID_ARGUMENT, 'request without correlation_id');
      const method = p.type;
      if (!method) throw new RpcError(Code.INVALID_ARGUMENT, 'request names no method: set the type property');
      // The three forms of section 3: /pkg.Service/Method, pkg.Service/Method, Method.
      if (!['/helloworld.Greeter/SayHello', 'helloworld.Greeter/SayHello', 'SayHello'].includes(method)) {
        throw new RpcError(Code.UNIMPLEMENTED, `unknown method ${method} for service helloworld.Greeter`);
      }
      if (deadline !== undefined && Date.now() >= deadline) {
        throw new RpcError(Code.DEADLINE_EXCEEDED, 'deadline passed before the request was served');
      }
      if (msg.content.length > maxBody) {
        throw new RpcError(Code.RESOURCE_EXHAUSTED, `request of ${msg.content.length} bytes is larger than the limit of ${maxBody}`);
      }
      if (p.contentEncoding && p.contentEncoding.toLowerCase() !== 'identity') {
        throw new RpcError(Code.INVALID_ARGUMENT, `unsupported content_encoding ${p.contentEncoding}`);
      }
      const codec = codecFor(p.contentType);
      let req;
      try {
        req = codec.decode(msg.content);
      } catch (e) {
        throw new RpcError(Code.INVALID_ARGUMENT, `decoding the request: ${e.message}`);
      }
      let out;
      try {
        out = sayHello(req, incomingMetadata(headers));
      } catch (e) {
        if (e instanceof RpcError) throw e;
        throw new RpcError(Code.INTERNAL, `SayHello threw: ${e.message}`);
      }
      body = codec.encode(out.reply);
      if (body.length > maxBody) throw new RpcError(Code.RESOURCE_EXHAUSTED, 'reply too large');
      putMetadata(reply.headers, '', out.header);
      putMetadata(reply.headers, 'rpc-trailer-', out.trailer);
      reply.contentType = p.contentType || codec.contentType;
    } catch (e) {
      const err = e instanceof RpcError ? e : new RpcError(Code.INTERNAL, String(e && e.message));
      body = Buffer.alloc(0);
      reply.headers['rpc-status'] = { '!': 'int', value: err.code };
      reply.headers['rpc-message'] = err.message;
      delete reply.contentType;
    }
    // Publish the reply, wait for the broker's confirm, then ack.
    replyCh.sendToQueue(p.replyTo, body, reply, (err) => {
      if (err) console.error('the broker did not confirm a reply', err);
      ch.ack(msg);
      done();
    });
  }

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await ch.cancel(consumerTag);
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 10));
    await ch.close();
    await conn.close();
    await replyCh.close();
    await replyConn.close();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  console.log('ready');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
