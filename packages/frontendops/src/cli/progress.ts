/**
 * Renders deploy events for a person, in people's words (deploy/progress-words.ts): a progress bar
 * per copy group on a terminal, lines otherwise; with --verbose the engine's detail under each line.
 */
import cliProgress from 'cli-progress';
import type { DeployEvent } from '../deploy/apply.ts';
import { describeDeployEvent } from '../deploy/progress-words.ts';
import { type Output, printable } from './io.ts';

const GROUP_LABEL = { asset: 'hashed assets', other: 'other files', html: 'HTML (last)' } as const;

export function createProgressPrinter(
  stream: Output,
  options: { verbose?: boolean } = {},
): (event: DeployEvent) => void {
  let bar: cliProgress.SingleBar | null = null;
  let group: string | null = null;
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  const line = (event: DeployEvent) => {
    const words = describeDeployEvent(event);
    stream.write(`${printable(words.headline)}\n`);
    if (options.verbose) stream.write(`    ${printable(words.detail)}\n`);
  };
  return (event) => {
    if (event.type === 'plan') {
      line(event);
    } else if (event.type === 'copy') {
      if (group !== event.group) {
        stop();
        group = event.group;
        if (stream.isTTY) {
          bar = new cliProgress.SingleBar(
            {
              format: `  copying ${GROUP_LABEL[event.group].padEnd(13)} [{bar}] {value}/{total}`,
              stream: stream as NodeJS.WritableStream,
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(event.total, 0);
        } else {
          stream.write(`  copying ${GROUP_LABEL[event.group]}: ${event.total}\n`);
        }
      }
      bar?.update(event.done);
    } else {
      stop();
      line(event);
    }
  };
}
