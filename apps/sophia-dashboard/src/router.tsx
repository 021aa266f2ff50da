import { type MouseEvent, type ReactNode, useEffect, useState } from 'react';

// A path switch over the History API is all three routes need; the CDN's SPA fallback serves
// index.html for extension-less paths, so deep links work too.
const NAVIGATE_EVENT = 'sophia:navigate';

export function usePathname(): string {
  const [pathname, setPathname] = useState(() => window.location.pathname);
  useEffect(() => {
    const update = () => setPathname(window.location.pathname);
    window.addEventListener('popstate', update);
    window.addEventListener(NAVIGATE_EVENT, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(NAVIGATE_EVENT, update);
    };
  }, []);
  return pathname;
}

export function navigate(to: string): void {
  if (to === window.location.pathname) return;
  window.history.pushState(null, '', to);
  window.dispatchEvent(new Event(NAVIGATE_EVENT));
}

export function NavLink(props: { to: string; current: string; children: ReactNode }) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    // Let the browser handle new-tab and modified clicks.
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(props.to);
  };
  const active = props.current === props.to;
  return (
    <a href={props.to} onClick={onClick} aria-current={active ? 'page' : undefined} className="nav-link">
      {props.children}
    </a>
  );
}
