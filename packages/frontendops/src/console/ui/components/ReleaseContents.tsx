import { OTHER_WAY } from '../../../read/contents-text.ts';
import type { PlanContents, ReleaseCommits } from '../../types.ts';
import { plural, shortSha } from '../format.ts';

const GROUPS = [
  ['html', 'HTML'],
  ['asset', 'Hashed assets'],
  ['other', 'Other files'],
] as const;

const HEADING: Record<ReleaseCommits['direction'], (n: number, more: boolean) => string> = {
  forward: (n, more) => `What this release adds: ${plural(n, 'commit')}${more ? ' and more' : ''}`,
  back: (n, more) => `What leaves with this rollback: ${plural(n, 'commit')}${more ? ' and more' : ''}`,
  first: () => 'The first release of this stack',
  same: () => 'This commit is live already',
  unknown: () => 'Commits',
};

/** What is in a release: its commits (subject, author), the files by kind, and the CDN refresh in words. */
export function ReleaseContents(props: {
  commits?: ReleaseCommits | undefined;
  contents?: PlanContents | undefined;
}) {
  const { commits, contents } = props;
  return (
    <div className="contents">
      {commits && (
        <section className="contents-commits" aria-label="Commits">
          <h3>{HEADING[commits.direction](commits.commits.length, commits.truncated)}</h3>
          {commits.commits.length > 0 ? (
            <CommitList commits={commits.commits} />
          ) : (
            commits.note && <p className="muted">Not shown: {commits.note}.</p>
          )}
          {commits.otherWay && (
            <>
              <h3>
                {OTHER_WAY[commits.direction === 'back' ? 'back' : 'forward']}:{' '}
                {plural(commits.otherWay.commits.length, 'commit')}
                {commits.otherWay.truncated ? ' and more' : ''}
              </h3>
              <CommitList commits={commits.otherWay.commits} />
            </>
          )}
        </section>
      )}
      {contents && (
        <section className="contents-files" aria-label="Changed files">
          <h3>Changed files</h3>
          <table className="file-groups">
            <tbody>
              {GROUPS.map(([key, label]) => {
                const group = contents.files[key];
                const parts = [
                  group.added && `${group.added} added`,
                  group.changed && `${group.changed} changed`,
                  group.removed && `${group.removed} removed`,
                ].filter(Boolean);
                const paths = [
                  ...group.paths.added.map((p) => `+ ${p}`),
                  ...group.paths.changed.map((p) => `~ ${p}`),
                  ...group.paths.removed.map((p) => `− ${p}`),
                ];
                return (
                  <tr key={key}>
                    <th scope="row">{label}</th>
                    <td>
                      {parts.length ? parts.join(', ') : <span className="muted">no change</span>}
                      {paths.length > 0 && (
                        <details>
                          <summary>files</summary>
                          <ul className="files">
                            {paths.map((p) => (
                              <li key={p}>
                                <code>{p}</code>
                              </li>
                            ))}
                          </ul>
                        </details>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <p className="cdn-words">{contents.invalidation}</p>
        </section>
      )}
    </div>
  );
}

function CommitList(props: { commits: ReleaseCommits['commits'] }) {
  return (
    <ul className="commits">
      {props.commits.map((c) => (
        <li key={c.sha}>
          <code>{shortSha(c.sha)}</code> <span className="subject">{c.message.split('\n')[0]}</span>{' '}
          <span className="muted">
            — {c.author}
            {c.date && `, ${c.date.slice(0, 10)}`}
          </span>
        </li>
      ))}
    </ul>
  );
}
