/** The console page: environments, the selected one's plan and actions, its history, and the chat. */
import { useCallback, useEffect, useState } from 'react';
import type { AuditStatusView, HistoryItem, PlanView, SessionView, StatusView } from '../types.ts';
import { ApiFailure, getJson, stackPath } from './api.ts';
import { AuditBadge } from './components/AuditBadge.tsx';
import { Chat } from './components/Chat.tsx';
import { DetailsDrawer } from './components/DetailsDrawer.tsx';
import { Environments } from './components/Environments.tsx';
import { History } from './components/History.tsx';
import { Progress } from './components/Progress.tsx';
import { Refused } from './components/Refused.tsx';
import { ReleaseActions } from './components/ReleaseActions.tsx';
import { useEventStream } from './use-event-stream.ts';

const REFRESH_MS = 15_000;

interface StackData {
  history: HistoryItem[];
  audit: AuditStatusView | null;
  plan: PlanView | null;
  planError: string | null;
}

export function App() {
  const [session, setSession] = useState<SessionView | null>(null);
  const [refused, setRefused] = useState<string | null>(null);
  const [stack, setStack] = useState<string | null>(null);
  const [statuses, setStatuses] = useState<Record<string, StatusView | string>>({});
  const [data, setData] = useState<StackData | null>(null);
  const [openDeployId, setOpenDeployId] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const refresh = useCallback(() => setVersion((v) => v + 1), []);
  const events = useEventStream(session !== null, refresh);

  // Deploys made elsewhere (the CLI, CI, another console) show up without a reload.
  useEffect(() => {
    if (!session) return;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') refresh();
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [session, refresh]);

  useEffect(() => {
    getJson<SessionView>('/api/session').then(
      (s) => {
        setSession(s);
        setStack(s.stacks[0] ?? null);
      },
      (error: unknown) => setRefused(error instanceof ApiFailure ? error.message : String(error)),
    );
  }, []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `version` is the refresh trigger.
  useEffect(() => {
    if (!session) return;
    for (const name of session.stacks) {
      getJson<StatusView>(stackPath(name, 'status')).then(
        (status) => setStatuses((all) => ({ ...all, [name]: status })),
        (error: unknown) => setStatuses((all) => ({ ...all, [name]: String((error as Error).message) })),
      );
    }
  }, [session, version]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `version` is the refresh trigger.
  useEffect(() => {
    if (!stack) return;
    let current = true;
    const plan = getJson<PlanView>(`${stackPath(stack, 'plan')}?action=deploy-latest`).then(
      (p) => ({ plan: p, planError: null }),
      (error: unknown) => ({ plan: null, planError: (error as Error).message }),
    );
    Promise.all([
      getJson<{ deployments: HistoryItem[] }>(stackPath(stack, 'history')),
      getJson<AuditStatusView>(stackPath(stack, 'audit')).catch(() => null),
      plan,
    ]).then(
      ([history, audit, planned]) => {
        if (current) setData({ history: history.deployments, audit, ...planned });
      },
      (error: unknown) => {
        if (current) setData({ history: [], audit: null, plan: null, planError: (error as Error).message });
      },
    );
    return () => {
      current = false;
    };
  }, [stack, version]);

  if (refused) return <Refused message={refused} />;
  if (!session || !stack) return <p className="loading">Loading the console…</p>;
  const status = statuses[stack];

  return (
    <div className="page">
      <header className="topbar">
        <h1>FrontendOps console</h1>
        <span className="who">signed in as {session.actor}</span>
        <AuditBadge audit={data?.audit ?? null} />
      </header>
      <div className="layout">
        <Environments statuses={statuses} stacks={session.stacks} selected={stack} onSelect={setStack} />
        <main className="main">
          <ReleaseActions
            stack={stack}
            plan={data?.plan ?? null}
            planError={data?.planError ?? null}
            canRollBack={typeof status === 'object' && status.releases.length > 1}
            onDone={refresh}
          />
          <Progress events={events} />
          <History items={data?.history ?? []} onOpen={setOpenDeployId} />
        </main>
        <Chat stack={stack} enabled={session.chat} events={events} onDone={refresh} />
      </div>
      {openDeployId && (
        <DetailsDrawer stack={stack} deployId={openDeployId} onClose={() => setOpenDeployId(null)} />
      )}
    </div>
  );
}
