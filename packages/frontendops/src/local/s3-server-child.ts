/**
 * Child process running the embedded S3 server (s3rver). It runs in its own process because s3rver
 * signs ListObjectsV2 continuation tokens with DES, which Node 20's OpenSSL 3 only offers with
 * --openssl-legacy-provider — a flag we keep away from the rest of the program. A second process
 * also gives the server its own core, as a real S3 endpoint would have.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';
// @ts-expect-error s3rver ships no types for its account model
import { DUMMY_ACCOUNT } from 's3rver/lib/models/account.js';
// @ts-expect-error nor for its object model
import S3Object from 's3rver/lib/models/object.js';
import type { PauseRule, S3RequestRecord } from './s3-server.ts';
import { makePutObjectAtomic, serializePerKey } from './s3-server-atomic.ts';
import { answerCopyChecksums } from './s3-server-checksums.ts';
import { honourConditionalWrites } from './s3-server-conditional.ts';
import { guardS3Server } from './s3-server-guard.ts';
import {
  type LeanApp,
  makeS3rverLean,
  type ObjectMetadataStore,
  rememberObjectMetadata,
} from './s3-server-lean.ts';
import { type ListedStore, makeListingIndexed } from './s3-server-listing.ts';
import { type WritingStore, watchWrites } from './s3-server-writes.ts';

interface StartMessage {
  type: 'start';
  /** Names this server among those the process runs one after another; its messages carry it. */
  session: number;
  directory: string;
  host: string;
  port: number;
  buckets: string[];
  credentials: { accessKeyId: string; secretAccessKey: string };
  record: boolean;
  conditionalWrites: boolean;
}

type ControlMessage =
  | StartMessage
  | { type: 'stop'; session: number }
  | { type: 'flush'; session: number; id: number }
  | { type: 'pause-after'; session: number; rule: PauseRule }
  | { type: 'resume'; session: number };

interface Session {
  id: number;
  onMessage(message: ControlMessage): void;
  stop(): Promise<void>;
}

const send = (message: unknown) => process.send?.(message);

// s3rver knows one account, with the well-known key S3RVER/S3RVER: only a server's own key is let in.
DUMMY_ACCOUNT.revokeAccessKey('S3RVER');

/**
 * The process serves one server at a time. A test run reuses the process for the next server (new
 * directory, buckets, key and port) once the last one has stopped: the process's start-up — loading
 * s3rver and its dependencies, about 0.3 s of CPU — is then paid once, not once per test file.
 */
let current: Session | null = null;
process.on('message', (message: ControlMessage) => {
  if (message.type === 'start') {
    if (current) {
      send({
        type: 'failed',
        session: message.session,
        error: 'a server is already running in this process',
      });
      return;
    }
    startSession(message).then(
      (session) => {
        current = session;
      },
      (error: unknown) => send({ type: 'failed', session: message.session, error: String(error) }),
    );
  } else if (message.type === 'stop') {
    const session = current;
    if (session?.id !== message.session) {
      send({ type: 'stopped', session: message.session });
      return;
    }
    current = null;
    session.stop().then(() => send({ type: 'stopped', session: message.session }));
  } else if (current?.id === message.session) {
    current.onMessage(message);
  }
});
process.on('disconnect', () => process.exit(0));

async function startSession(message: StartMessage): Promise<Session> {
  const s3rver = new S3rver({
    directory: message.directory,
    silent: true,
    vhostBuckets: false,
    configureBuckets: message.buckets.map((name) => ({ name, configs: [] })),
  });
  await s3rver.configureBuckets();
  DUMMY_ACCOUNT.createKeyPair(message.credentials.accessKeyId, message.credentials.secretAccessKey);
  const { store } = s3rver as unknown as {
    store: Parameters<typeof makePutObjectAtomic>[0] & ListedStore & ObjectMetadataStore & WritingStore;
  };
  makePutObjectAtomic(store);
  // After the atomic putObject, which replaces s3rver's: the caches hear of the write that happens.
  watchWrites(store, [
    makeS3rverLean(s3rver as unknown as LeanApp),
    rememberObjectMetadata(store),
    makeListingIndexed(store, S3Object),
  ]);
  // s3rver itself takes anonymous requests and any SigV4 signature: only what the guard lets in reaches it.
  // The write conditions are checked inside the per-key queue: the check and the write are one step.
  // Copies answer the SHA-256 of what they copied when asked, as S3 does (s3-server-checksums.ts).
  const copies = answerCopyChecksums(store, s3rver.callback());
  const serveS3 = message.conditionalWrites ? honourConditionalWrites(store, copies) : copies;
  const handle = serializePerKey(guardS3Server({ credentials: message.credentials }, serveS3));
  const session = message.session;
  let inFlight = 0;
  let flushWaiters: number[] = [];
  const settle = () => {
    if (inFlight > 0) return;
    for (const id of flushWaiters) send({ type: 'flushed', session, id });
    flushWaiters = [];
  };
  // Fault injection for crash tests: after the nth request matching a rule, hold every further
  // request until told to resume, so a client can be killed at an exact point of its work.
  let pauseRule: PauseRule | null = null;
  let held: Array<() => void> = [];
  const serve = (req: IncomingMessage, res: ServerResponse) => {
    // A request held while paused whose client died (kill -9) will never close again: drop it.
    if (req.socket.destroyed) return;
    inFlight++;
    const deleted =
      req.method === 'POST' && /(^|[?&])delete(=|&|$)/.test(req.url?.split('?')[1] ?? '')
        ? captureDeletedKeys(res)
        : null;
    res.on('close', () => {
      const record = describe(req, res.statusCode);
      if (deleted) record.deletedKeys = deleted();
      if (message.record) send({ type: 'request', session, record });
      if (pauseRule && matches(pauseRule, record) && --pauseRule.nth <= 0) {
        pauseRule = null;
        paused = true;
        send({ type: 'paused', session });
      }
      inFlight--;
      settle();
    });
    handle(req, res);
  };
  let paused = false;
  const server = createServer((req, res) => {
    if (paused) held.push(() => serve(req, res));
    else serve(req, res);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(message.port, message.host, () => resolve());
  });
  send({ type: 'ready', session, port: (server.address() as AddressInfo).port });
  return {
    id: session,
    onMessage(m) {
      if (m.type === 'pause-after') pauseRule = { ...m.rule };
      if (m.type === 'resume') {
        paused = false;
        const waiting = held;
        held = [];
        for (const run of waiting) run();
        // (requests whose client went away while held are dropped by `serve`)
      }
      // A flush is answered once no request is in flight: every finished request has been reported.
      if (m.type === 'flush') {
        flushWaiters.push(m.id);
        settle();
      }
    },
    async stop() {
      // As a process's end would: connections cut, held requests dropped, the key no longer known.
      held = [];
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      DUMMY_ACCOUNT.revokeAccessKey(message.credentials.accessKeyId);
    },
  };
}

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

function matches(rule: PauseRule, record: S3RequestRecord): boolean {
  return (
    (rule.bucket === undefined || rule.bucket === record.bucket) &&
    (rule.method === undefined || rule.method === record.method) &&
    (rule.keySuffix === undefined || record.key.endsWith(rule.keySuffix)) &&
    (rule.query === undefined || record.query.includes(rule.query)) &&
    (rule.copy === undefined || rule.copy === (record.copySource !== undefined))
  );
}

/** DeleteObjects answers with the keys it deleted (s3rver lists them even when Quiet): keep them. */
function captureDeletedKeys(res: ServerResponse): () => string[] {
  const chunks: Buffer[] = [];
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((...args: unknown[]) => {
    const [chunk] = args;
    if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) chunks.push(Buffer.from(chunk));
    return end(...args);
  }) as typeof res.end;
  return () =>
    [
      ...Buffer.concat(chunks)
        .toString('utf8')
        .matchAll(/<Key>([^<]*)<\/Key>/g),
    ].map((m) =>
      (m[1] ?? '')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&amp;/g, '&'),
    );
}
