import { lazy, Suspense } from 'react';
import { Footer } from './components/Footer.tsx';
import { RouteErrorBoundary } from './components/RouteErrorBoundary.tsx';
import { NavLink, usePathname } from './router.tsx';

// Each page is its own content-hashed chunk, so an open tab of an old release really does fetch
// assets after a deploy (what the deploy's retention and the preload-error reload protect).
const ROUTES = [
  { path: '/', label: 'Overview', page: lazy(() => import('./routes/OverviewPage.tsx')) },
  { path: '/accounts', label: 'Accounts', page: lazy(() => import('./routes/AccountsPage.tsx')) },
  { path: '/quality', label: 'Quality', page: lazy(() => import('./routes/QualityPage.tsx')) },
] as const;

export function App(props: { commit: string }) {
  const pathname = usePathname();
  const route = ROUTES.find((r) => r.path === normalize(pathname));
  const Page = route?.page;
  return (
    <div className="shell">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            S
          </span>
          Sophia Dashboard
        </div>
        <nav aria-label="Pages">
          {ROUTES.map((r) => (
            <NavLink key={r.path} to={r.path} current={normalize(pathname)}>
              {r.label}
            </NavLink>
          ))}
        </nav>
      </header>
      <main>
        <h1>{route?.label ?? 'Page not found'}</h1>
        <RouteErrorBoundary key={route?.path ?? 'none'}>
          <Suspense fallback={<p className="muted">Loading…</p>}>
            {Page ? <Page /> : <p>There is no page at {pathname}.</p>}
          </Suspense>
        </RouteErrorBoundary>
      </main>
      <Footer commit={props.commit} />
    </div>
  );
}

const normalize = (pathname: string) => (pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname);
