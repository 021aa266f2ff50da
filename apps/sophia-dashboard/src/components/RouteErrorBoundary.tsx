import { Component, type ReactNode } from 'react';

type State = { error: Error | null };

/** Shown when a page's chunk cannot load even after the one guarded reload. */
export class RouteErrorBoundary extends Component<{ children: ReactNode }, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  override render() {
    if (this.state.error === null) return this.props.children;
    return (
      <section className="card notice" role="alert">
        <h2>This page could not be loaded</h2>
        <p>A newer version of the dashboard may have been released. Reload to get it.</p>
        <button type="button" onClick={() => window.location.reload()}>
          Reload
        </button>
      </section>
    );
  }
}
