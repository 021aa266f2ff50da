/**
 * Writes a small Vite-like build: index.html referencing content-hashed JS/CSS chunks under assets/,
 * plus favicon.ico and robots.txt. `version` changes the entry chunk and the HTML; `shared` chunks
 * keep their names across versions, as unchanged code does in a real rebuild.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface FixtureBuild {
  dir: string;
  /** Site paths of the hashed assets index.html references. */
  assets: string[];
  files: Record<string, string>;
}

export async function writeFixtureBuild(
  dir: string,
  options: { version: string; shared?: number; robots?: string },
): Promise<FixtureBuild> {
  const files: Record<string, string> = {};
  const assets: string[] = [];
  const addAsset = (name: string, ext: string, content: string) => {
    const path = `/assets/${name}-${hashName(content)}.${ext}`;
    files[path] = content;
    assets.push(path);
    return path;
  };
  for (let i = 0; i < (options.shared ?? 3); i++)
    addAsset(`vendor${i}`, 'js', `export const vendor${i} = ${i};\n`);
  const entry = addAsset('index', 'js', `console.log(${JSON.stringify(options.version)});\n`);
  const css = addAsset('index', 'css', `body { --version: "${options.version}"; }\n`);
  const preload = assets
    .filter((a) => a !== entry && a !== css)
    .map((a) => `<link rel="modulepreload" href="${a}">`);
  files['/index.html'] = `<!doctype html><html><head><title>Sophia ${options.version}</title>
<script type="module" src="${entry}"></script><link rel="stylesheet" href="${css}">${preload.join('')}</head>
<body><div id="root"></div></body></html>\n`;
  files['/favicon.ico'] = 'icon';
  files['/robots.txt'] = options.robots ?? 'User-agent: *\n';
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    await mkdir(join(full, '..'), { recursive: true });
    await writeFile(full, content);
  }
  return { dir, assets, files };
}

/** Vite-style 8-character base64url hash of the content. */
function hashName(content: string): string {
  return `${createHash('sha256').update(content).digest('base64url').slice(0, 7)}Z`;
}

/** Site paths an HTML document references (src= and href= starting with "/"). */
export function referencedPaths(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1] ?? '');
}
