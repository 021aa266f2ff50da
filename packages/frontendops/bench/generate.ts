/**
 * Writes a Vite-like production build for the benchmark: index.html referencing content-hashed
 * chunks (assets/<name>-<8 chars>.js/.css), images, fonts, favicon, robots.txt — about 800 files
 * and 40 MB — and a rebuild of it where a fraction of the assets changed (so they get new hashed
 * names) along with index.html. Contents come from a seeded generator: every run measures the
 * same bytes.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface BuildShape {
  /** Total file count, root files included. */
  files: number;
  /** Approximate total size in bytes. */
  bytes: number;
  /** Fraction of the hashed assets that change in the rebuild. */
  changedFraction: number;
  seed: number;
}

export const DEFAULT_SHAPE: BuildShape = {
  files: 800,
  bytes: 40 * 1024 * 1024,
  changedFraction: 0.05,
  seed: 20_26,
};

export interface GeneratedBuild {
  dir: string;
  files: number;
  bytes: number;
  /** Site paths of the hashed assets ("/assets/index-AbC123xY.js"). */
  assets: string[];
}

export interface GeneratedPair {
  base: GeneratedBuild;
  rebuild: GeneratedBuild;
  /** Hashed assets of the base replaced by new ones in the rebuild. */
  changedAssets: number;
}

interface AssetSpec {
  name: string;
  ext: string;
  size: number;
  /** Content generation: a different variant is a different file content (and name). */
  variant: number;
}

// The mix of a typical Vite dashboard build: mostly JS chunks, some CSS, images and fonts.
const KINDS = [
  { ext: 'js', share: 0.7, min: 2_000, max: 200_000, names: ['index', 'vendor', 'route', 'chart', 'table'] },
  { ext: 'css', share: 0.11, min: 1_000, max: 60_000, names: ['index', 'route', 'theme'] },
  { ext: 'png', share: 0.08, min: 5_000, max: 400_000, names: ['hero', 'avatar', 'chart-bg'] },
  { ext: 'webp', share: 0.05, min: 5_000, max: 300_000, names: ['photo', 'banner'] },
  { ext: 'svg', share: 0.05, min: 500, max: 20_000, names: ['icon', 'logo'] },
  { ext: 'woff2', share: 0.01, min: 20_000, max: 120_000, names: ['inter', 'mono'] },
] as const;

const ROOT_FILES = ['index.html', 'favicon.ico', 'robots.txt', 'site.webmanifest'];

export async function generateBuilds(
  root: string,
  shape: BuildShape = DEFAULT_SHAPE,
): Promise<GeneratedPair> {
  const random = mulberry32(shape.seed);
  const specs = planAssets(shape, random);
  const changeCount = Math.max(1, Math.round(specs.length * shape.changedFraction));
  const changed = new Set(pickIndexes(specs.length, changeCount, random));
  const rebuildSpecs = specs.map((spec, i) =>
    changed.has(i) ? { ...spec, variant: spec.variant + 1 } : spec,
  );
  const base = await writeBuild(join(root, 'base'), specs, 'v1');
  const rebuild = await writeBuild(join(root, 'rebuild'), rebuildSpecs, 'v1');
  return { base, rebuild, changedAssets: changeCount };
}

function planAssets(shape: BuildShape, random: () => number): AssetSpec[] {
  const count = shape.files - ROOT_FILES.length;
  const specs: AssetSpec[] = [];
  for (const kind of KINDS) {
    const n =
      kind === KINDS[0]
        ? count - KINDS.slice(1).reduce((s, k) => s + Math.round(count * k.share), 0)
        : Math.round(count * kind.share);
    for (let i = 0; i < n; i++) {
      // Log-uniform sizes: many small chunks, a few large ones, as bundlers produce.
      const size = Math.round(kind.min * (kind.max / kind.min) ** random());
      const base = kind.names[i % kind.names.length] ?? 'chunk';
      specs.push({ name: i < kind.names.length ? base : `${base}${i}`, ext: kind.ext, size, variant: 0 });
    }
  }
  const total = specs.reduce((s, a) => s + a.size, 0);
  const scale = (shape.bytes - 60_000) / total;
  return specs.map((s) => ({ ...s, size: Math.max(200, Math.round(s.size * scale)) }));
}

async function writeBuild(dir: string, specs: AssetSpec[], version: string): Promise<GeneratedBuild> {
  const files = new Map<string, Buffer>();
  const assets: string[] = [];
  for (const spec of specs) {
    const body = contentOf(spec);
    const hash = createHash('sha256').update(body).digest('base64url').slice(0, 8);
    const path = `/assets/${spec.name}-${hash}.${spec.ext}`;
    assets.push(path);
    files.set(path, body);
  }
  files.set('/index.html', Buffer.from(indexHtml(assets, version)));
  files.set('/favicon.ico', contentOf({ name: 'favicon', ext: 'ico', size: 15_086, variant: 0 }));
  files.set('/robots.txt', Buffer.from('User-agent: *\nAllow: /\n'));
  files.set(
    '/site.webmanifest',
    Buffer.from(JSON.stringify({ name: 'Sophia dashboard', icons: [{ src: '/favicon.ico' }] })),
  );
  for (const [path, body] of files) {
    const file = join(dir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, body);
  }
  const bytes = [...files.values()].reduce((s, b) => s + b.length, 0);
  return { dir, files: files.size, bytes, assets };
}

/** index.html as Vite writes it: the entry module, its CSS, and preloads of the other chunks. */
function indexHtml(assets: string[], version: string): string {
  const js = assets.filter((a) => a.endsWith('.js'));
  const css = assets.filter((a) => a.endsWith('.css'));
  const [entry, ...chunks] = js;
  return [
    '<!doctype html>',
    '<html lang="en">',
    '  <head>',
    '    <meta charset="UTF-8" />',
    '    <link rel="icon" href="/favicon.ico" />',
    `    <meta name="version" content="${version}" />`,
    '    <title>Sophia dashboard</title>',
    `    <script type="module" crossorigin src="${entry}"></script>`,
    ...chunks.map((c) => `    <link rel="modulepreload" crossorigin href="${c}">`),
    ...css.map((c) => `    <link rel="stylesheet" crossorigin href="${c}">`),
    '  </head>',
    '  <body><div id="root"></div></body>',
    '</html>',
    '',
  ].join('\n');
}

/** Deterministic bytes for an asset: text for JS/CSS/SVG, binary noise for images and fonts. */
function contentOf(spec: AssetSpec): Buffer {
  const seed = createHash('sha256')
    .update(`${spec.name}.${spec.ext}#${spec.variant}`)
    .digest()
    .readUInt32LE(0);
  const random = mulberry32(seed);
  const words = new Uint32Array(Math.ceil(spec.size / 4));
  for (let i = 0; i < words.length; i++) words[i] = random() * 4294967296;
  const bytes = Buffer.from(words.buffer, 0, spec.size);
  if (spec.ext === 'js' || spec.ext === 'css' || spec.ext === 'svg') {
    const text = bytes.toString('base64').slice(0, spec.size - 40);
    const body =
      spec.ext === 'js'
        ? `export const d=${JSON.stringify(text)};\n`
        : spec.ext === 'css'
          ? `.c{content:"${text}"}\n`
          : `<svg xmlns="http://www.w3.org/2000/svg"><desc>${text}</desc></svg>\n`;
    return Buffer.from(body);
  }
  return bytes;
}

function pickIndexes(length: number, count: number, random: () => number): number[] {
  const indexes = Array.from({ length }, (_, i) => i);
  for (let i = length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [indexes[i], indexes[j]] = [indexes[j] as number, indexes[i] as number];
  }
  return indexes.slice(0, count);
}

/** A small, fast, seeded PRNG (mulberry32): the same seed gives the same build. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
