/**
 * Child process running the embedded S3 server (s3rver). It runs in its own process because s3rver
 * signs ListObjectsV2 continuation tokens with DES, which Node 20's OpenSSL 3 only offers with
 * --openssl-legacy-provider — a flag we keep away from the rest of the program. A second process
 * also gives the server its own core, as a real S3 endpoint would have.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';
import type { S3RequestRecord } from './s3-server.ts';

interface StartMessage {
  type: 'start';
  directory: string;
  host: string;
  port: number;
  buckets: string[];
  record: boolean;
}

const send = (message: unknown) => process.send?.(message);

process.once('message', async (message: StartMessage) => {
  const s3rver = new S3rver({
    directory: message.directory,
    silent: true,
    vhostBuckets: false,
    configureBuckets: message.buckets.map((name) => ({ name, configs: [] })),
  });
  await s3rver.configureBuckets();
  const handle = s3rver.callback();
  let inFlight = 0;
  let flushWaiters: number[] = [];
  const settle = () => {
    if (inFlight > 0) return;
    for (const id of flushWaiters) send({ type: 'flushed', id });
    flushWaiters = [];
  };
  const server = createServer((req, res) => {
    inFlight++;
    res.on('close', () => {
      if (message.record) send({ type: 'request', record: describe(req, res.statusCode) });
      inFlight--;
      settle();
    });
    handle(req, res);
  });
  // A flush is answered once no request is in flight: every finished request has been reported.
  process.on('message', (m: { type: string; id: number }) => {
    if (m.type !== 'flush') return;
    flushWaiters.push(m.id);
    settle();
  });
  server.keepAliveTimeout = 30_000;
  server.listen(message.port, message.host, () => {
    send({ type: 'ready', port: (server.address() as AddressInfo).port });
  });
  process.on('disconnect', () => process.exit(0));
});

function describe(req: IncomingMessage, status: number): S3RequestRecord {
  const url = new URL(req.url ?? '/', 'http://local');
  const [, bucket = '', ...rest] = url.pathname.split('/');
  const copySource = req.headers['x-amz-copy-source'];
  return {
    method: req.method ?? 'GET',
    bucket: decodeURIComponent(bucket),
    key: decodeURIComponent(rest.join('/')),
    query: url.search.replace(/^\?/, ''),
    status,
    ...(typeof copySource === 'string' ? { copySource: decodeURIComponent(copySource) } : {}),
    at: Date.now(),
  };
}
