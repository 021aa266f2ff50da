/** Renders deploy events for a person: a progress bar per copy group on a terminal, lines otherwise. */
import cliProgress from 'cli-progress';
import type { DeployEvent } from '../deploy/apply.ts';
import type { Output } from './io.ts';

const GROUP_LABEL = { asset: 'hashed assets', other: 'other files', html: 'HTML' } as const;

export function createProgressPrinter(stream: Output): (event: DeployEvent) => void {
  let bar: cliProgress.SingleBar | null = null;
  let group: string | null = null;
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  return (event) => {
    if (event.type === 'plan') {
      const p = event.plan;
      stream.write(
        `plan ${p.deployId}: ${p.copies.length} to copy, ${p.unchanged} unchanged, ${p.prune.length} to prune, ${p.invalidationPaths.length} path(s) to invalidate${p.noop ? ' — already live, nothing to do' : ''}\n`,
      );
    } else if (event.type === 'copy') {
      if (group !== event.group) {
        stop();
        group = event.group;
        if (stream.isTTY) {
          bar = new cliProgress.SingleBar(
            {
              format: `  copy ${GROUP_LABEL[event.group].padEnd(13)} [{bar}] {value}/{total}`,
              stream: stream as NodeJS.WritableStream,
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(event.total, 0);
        } else {
          stream.write(`  copy ${GROUP_LABEL[event.group]}: ${event.total}\n`);
        }
      }
      bar?.update(event.done);
    } else {
      stop();
      stream.write(`  ${event.step}: ${event.detail}\n`);
    }
  };
}
