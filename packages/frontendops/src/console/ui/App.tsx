/** The console page: environments, the selected one's release actions, its history, and the chat. */
import { useCallback, useEffect, useState } from 'react';
import type {
  AuditStatusView,
  HistoryItem,
  PlanView,
  PolicyChangeItem,
  SessionView,
  StatusView,
} from '../types.ts';
import type { Asked, Outcome } from './actions.ts';
import { ApiFailure, getJson, signOut, stackPath, visible } from './api.ts';
import { AuditBadge, type AuditState } from './components/AuditBadge.tsx';
import { Chat } from './components/Chat.tsx';
import { ConfirmAction } from './components/ConfirmAction.tsx';
import { DetailsDrawer } from './components/DetailsDrawer.tsx';
import { Environments } from './components/Environments.tsx';
import { History } from './components/History.tsx';
import { Progress } from './components/Progress.tsx';
import { Refused } from './components/Refused.tsx';
import { ReleaseActions } from './components/ReleaseActions.tsx';
import { Unreachable } from './components/Unreachable.tsx';
import { sessionLifetime } from './format.ts';
import { useEventStream } from './use-event-stream.ts';

const REFRESH_MS = 15_000;

interface StackData {
  history: HistoryItem[];
  /** Changes of who approves the stack's changes in the time the history spans. */
  policyChanges: PolicyChangeItem[];
  /** Rows of the page left out: their records are not what the audit log records. */
  historyUnrecorded: number;
  historyError: string | null;
  audit: AuditState;
  plan: PlanView | null;
  planError: string | null;
}

export function App() {
  const [session, setSession] = useState<SessionView | null>(null);
  const [refused, setRefused] = useState<string | null>(null);
  /** Null while signed in; once signed out, whether the server was told (the id is refused now). */
  const [signedOut, setSignedOut] = useState<{ told: boolean } | null>(null);
  const [stack, setStack] = useState<string | null>(null);
  const [statuses, setStatuses] = useState<Record<string, StatusView | string>>({});
  const [data, setData] = useState<StackData | null>(null);
  const [openDeployId, setOpenDeployId] = useState<string | null>(null);
  const [asked, setAsked] = useState<Asked | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
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
    // The stack references go back to the server in addresses and bodies: kept as they were given.
    getJson<SessionView>('/api/session', { asSent: true }).then(
      (s) => {
        setSession({ ...visible(s), stacks: s.stacks });
        setStack(s.stacks[0] ?? null);
      },
      (error: unknown) => setRefused(error instanceof ApiFailure ? error.message : String(error)),
    );
  }, []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `version` is the refresh trigger.
  useEffect(() => {
    if (!session) return;
    // An answer to an older refresh that arrives after a newer one's is not shown over it.
    let current = true;
    const show = (name: string, status: StatusView | string) => {
      if (current) setStatuses((all) => ({ ...all, [name]: status }));
    };
    for (const name of session.stacks) {
      getJson<StatusView>(stackPath(name, 'status')).then(
        (status) => show(name, status),
        (error: unknown) => show(name, String((error as Error).message)),
      );
    }
    return () => {
      current = false;
    };
  }, [session, version]);

  const status = stack ? statuses[stack] : undefined;
  const reachable = typeof status === 'object';

  // biome-ignore lint/correctness/useExhaustiveDependencies: `version` is the refresh trigger.
  useEffect(() => {
    // An unreachable stack has one message (on the page, once): nothing else is asked of it.
    if (!stack || !reachable) return;
    let current = true;
    const settle = <T,>(p: Promise<T>) =>
      p.then(
        (value) => ({ value, error: null }),
        (error: unknown) => ({ value: null, error: (error as Error).message }),
      );
    Promise.all([
      settle(
        getJson<{ deployments: HistoryItem[]; policyChanges?: PolicyChangeItem[]; unrecorded?: number }>(
          stackPath(stack, 'history'),
        ),
      ),
      settle(getJson<AuditStatusView>(stackPath(stack, 'audit'))),
      settle(getJson<PlanView>(`${stackPath(stack, 'plan')}?action=deploy-latest`)),
    ]).then(([history, audit, plan]) => {
      if (!current) return;
      setData({
        history: history.value?.deployments ?? [],
        policyChanges: history.value?.policyChanges ?? [],
        historyUnrecorded: history.value?.unrecorded ?? 0,
        historyError: history.error,
        audit: audit.value
          ? { state: 'checked', audit: audit.value }
          : { state: 'failed', message: audit.error ?? '' },
        plan: plan.value,
        planError: plan.error,
      });
    });
    return () => {
      current = false;
    };
  }, [stack, version, reachable]);

  if (signedOut)
    return (
      <main className="refused" role="status">
        <h1>Signed out</h1>
        <p>
          {signedOut.told ? (
            "This tab's session has ended: its id is refused from now on, wherever it was seen."
          ) : (
            <>
              This tab forgot its session, but the console could not be told: it ends within{' '}
              {sessionLifetime()} of signing in, when the console stops, or when every session is ended (
              <code>frontendops console --sign-out-all</code> for the console <code>npm start</code> serves).
            </>
          )}
        </p>
        <p>
          To sign in again, open a new sign-in address: <code>frontendops console</code> prints one.
        </p>
      </main>
    );
  if (refused) return <Refused message={refused} />;
  if (!session || !stack) return <p className="loading">Loading the console…</p>;

  return (
    <div className="page">
      <header className="topbar">
        <h1>FrontendOps console</h1>
        <span className="who">signed in as {session.actor}</span>
        <button
          type="button"
          className="sign-out"
          onClick={() => {
            setSession(null);
            signOut().then(
              () => setSignedOut({ told: true }),
              () => setSignedOut({ told: false }),
            );
          }}
        >
          Sign out
        </button>
        <AuditBadge
          state={
            typeof status === 'string'
              ? { state: 'failed', message: 'the stack cannot be reached' }
              : (data?.audit ?? { state: 'loading' })
          }
        />
      </header>
      <div className="layout">
        <Environments statuses={statuses} stacks={session.stacks} selected={stack} onSelect={setStack} />
        <main className="main">
          {typeof status === 'string' ? (
            <Unreachable stack={stack} message={status} onRetry={refresh} />
          ) : (
            <>
              <ReleaseActions
                status={status ?? null}
                plan={data?.plan ?? null}
                planError={data?.planError ?? null}
                outcome={outcome}
                busy={asked !== null}
                onAsk={setAsked}
              />
              <Progress events={events} />
              <History
                // A preview link belongs to the stack it was made for: another stack starts afresh.
                key={stack}
                stack={stack}
                status={status ?? null}
                items={data?.history ?? []}
                policyChanges={data?.policyChanges ?? []}
                unrecorded={data?.historyUnrecorded ?? 0}
                error={data?.historyError ?? null}
                loaded={data !== null}
                busy={asked !== null}
                onOpen={setOpenDeployId}
                onAsk={setAsked}
              />
            </>
          )}
        </main>
        <Chat
          stack={stack}
          enabled={session.chat && reachable}
          reason={
            !session.chat
              ? (session.chatReason ?? 'The agent is not available in this console.')
              : typeof status === 'string'
                ? `The chat needs ${stack}, which cannot be reached.`
                : null
          }
          events={events}
          onDone={refresh}
        />
      </div>
      {openDeployId && (
        <DetailsDrawer stack={stack} deployId={openDeployId} onClose={() => setOpenDeployId(null)} />
      )}
      {asked && (
        <ConfirmAction
          stack={stack}
          status={reachable ? status : null}
          asked={asked}
          onClose={() => setAsked(null)}
          onDone={(result) => {
            setOutcome(result);
            setAsked(null);
            refresh();
          }}
        />
      )}
    </div>
  );
}
