/** Whether a path is inside a directory: said once for the build, the console's files and shown paths. */
import { isAbsolute, relative, sep } from 'node:path';

/**
 * Whether `child` is `parent` or below it, both absolute. Decided by the path from one to the other:
 * `..` or one starting `../` leaves (a name such as `..data` does not), and so does an absolute one
 * (another drive).
 */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}
