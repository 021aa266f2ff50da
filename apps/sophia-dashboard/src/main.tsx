import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { buildCommit } from './build-info.ts';
import { installPreloadRecovery } from './preload-recovery.ts';
import './styles.css';

installPreloadRecovery({
  target: window,
  storage: window.sessionStorage,
  reload: () => window.location.reload(),
});

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App commit={buildCommit} />
  </StrictMode>,
);
