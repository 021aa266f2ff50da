import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { adoptSession } from './api.ts';
import './styles.css';

// Before anything else: the spent sign-in code out of the address, a new session into sessionStorage.
adoptSession();

const root = document.getElementById('root');
if (root)
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
