import { shortCommit } from '../build-info.ts';

export function Footer(props: { commit: string }) {
  return (
    <footer className="footer">
      <span>Sophia Dashboard · sample data</span>
      <span>
        Build{' '}
        <code data-testid="build-commit" title={props.commit}>
          {shortCommit(props.commit)}
        </code>
      </span>
    </footer>
  );
}
