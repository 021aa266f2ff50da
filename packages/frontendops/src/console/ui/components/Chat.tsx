import { type FormEvent, useEffect, useRef, useState } from 'react';
import type { ChatReply, ConsoleEvent } from '../../types.ts';
import { newRunId, postJson } from '../api.ts';

interface Turn {
  runId: string;
  /** The words sent, to send again with a confirmation. */
  words: string;
  text: string;
  reply: ChatReply | null;
  error: string | null;
  /** Its plan was confirmed: the words went again with that plan's deploy id. */
  confirmed?: boolean;
}

/**
 * A chat with the agent. Its progress streams in while it works, in people's words. When it needs a
 * confirmation, the reply shows the plan (its deploy id) and one button that approves exactly that
 * plan. A button works once, and only on the newest reply: any later request replaces it.
 */
export function Chat(props: {
  stack: string;
  enabled: boolean;
  reason: string | null;
  events: ConsoleEvent[];
  onDone: () => void;
}) {
  const [turns, setTurns] = useState<Turn[]>([]);
  const [text, setText] = useState('');
  const busy = turns.some((t) => !t.reply && !t.error);
  const log = useRef<HTMLOListElement>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll whenever turns or progress change.
  useEffect(() => {
    log.current?.scrollTo({ top: log.current.scrollHeight });
  }, [turns, props.events]);

  const send = async (words: string, confirm?: { deployId: string }) => {
    const runId = newRunId();
    setTurns((all) => [
      ...all,
      {
        runId,
        words,
        text: confirm ? `${words} (confirmed plan ${confirm.deployId})` : words,
        reply: null,
        error: null,
      },
    ]);
    try {
      const reply = await postJson<ChatReply>('/api/chat', {
        text: words,
        runId,
        stack: props.stack,
        ...(confirm ? { confirm } : {}),
      });
      setTurns((all) => all.map((t) => (t.runId === runId ? { ...t, reply } : t)));
    } catch (error) {
      setTurns((all) => all.map((t) => (t.runId === runId ? { ...t, error: (error as Error).message } : t)));
    } finally {
      props.onDone();
    }
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const words = text.trim();
    if (!words || busy) return;
    setText('');
    void send(words);
  };

  return (
    <section className="card chat" aria-label="Chat with the agent">
      <h2>Ask the agent</h2>
      {!props.enabled && props.reason && (
        <p className="muted" role="note">
          {props.reason}
        </p>
      )}
      <ol className="turns" role="log" ref={log}>
        {turns.map((turn, index) => {
          const progress = props.events.flatMap((e) =>
            e.source === 'chat' && e.runId === turn.runId && e.event.type === 'agent' ? [e.event] : [],
          );
          const confirm = turn.reply?.confirm ?? null;
          const newest = index === turns.length - 1;
          return (
            <li key={turn.runId} className="turn">
              <p className="said">{turn.text}</p>
              {progress.length > 0 && (
                <>
                  <ul className="agent-steps">
                    {progress.map((e, i) =>
                      e.headline === '' ? null : (
                        // biome-ignore lint/suspicious/noArrayIndexKey: events are append-only.
                        <li key={i}>{e.headline ?? e.detail}</li>
                      ),
                    )}
                  </ul>
                  <details className="engine-detail">
                    <summary>Tool calls</summary>
                    <ul className="agent-steps">
                      {progress.map((e, i) => (
                        // biome-ignore lint/suspicious/noArrayIndexKey: events are append-only.
                        <li key={i}>{e.detail}</li>
                      ))}
                    </ul>
                  </details>
                </>
              )}
              {!turn.reply && !turn.error && <p className="muted">working…</p>}
              {turn.reply && (
                <p className={`answer${turn.reply.ok ? '' : ' warn-text'}`} data-testid="chat-answer">
                  {turn.reply.answer}
                </p>
              )}
              {turn.error && <p className="error-text">{turn.error}</p>}
              {confirm && (
                <fieldset className="approval" aria-label="Confirmation">
                  <p>
                    Needs your confirmation ({confirm.action} on {confirm.stack}):
                  </p>
                  <p className="plan-description">{confirm.summary}</p>
                  <p className="muted">
                    Plan <code>{confirm.deployId}</code>
                  </p>
                  {turn.confirmed ? (
                    <p className="muted">Confirmed: sent again below.</p>
                  ) : (
                    <>
                      <button
                        type="button"
                        className="primary"
                        disabled={busy || !newest || !props.enabled}
                        onClick={() => {
                          setTurns((all) =>
                            all.map((t) => (t.runId === turn.runId ? { ...t, confirmed: true } : t)),
                          );
                          void send(turn.words, { deployId: confirm.deployId });
                        }}
                      >
                        Confirm and run
                      </button>
                      {!newest && <p className="muted">Replaced by a newer request: ask again to confirm.</p>}
                    </>
                  )}
                </fieldset>
              )}
            </li>
          );
        })}
      </ol>
      <form className="chat-form" onSubmit={submit}>
        <input
          aria-label="Message to the agent"
          placeholder="e.g. what's live?  ·  promote the latest"
          value={text}
          disabled={!props.enabled}
          onChange={(e) => setText(e.target.value)}
        />
        <button type="submit" disabled={!props.enabled || busy || text.trim() === ''}>
          Send
        </button>
      </form>
    </section>
  );
}
