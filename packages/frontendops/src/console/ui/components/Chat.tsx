import { type FormEvent, useEffect, useRef, useState } from 'react';
import type { ChatReply, ConsoleEvent } from '../../types.ts';
import { newRunId, postJson } from '../api.ts';

interface Turn {
  runId: string;
  /** The words sent, to send again when approved. */
  words: string;
  text: string;
  reply: ChatReply | null;
  error: string | null;
  /** Its declined approvals were confirmed: the words went again, approved. */
  approvedAgain?: boolean;
}

/**
 * A chat with the agent. Its progress streams in while it works. When it asked for an approval the
 * request did not carry, a button offers to send the same words again, approved: only that click
 * approves.
 */
export function Chat(props: { stack: string; enabled: boolean; events: ConsoleEvent[]; onDone: () => void }) {
  const [turns, setTurns] = useState<Turn[]>([]);
  const [text, setText] = useState('');
  const busy = turns.some((t) => !t.reply && !t.error);
  const log = useRef<HTMLOListElement>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll whenever turns or progress change.
  useEffect(() => {
    log.current?.scrollTo({ top: log.current.scrollHeight });
  }, [turns, props.events]);

  const send = async (words: string, approve: boolean) => {
    const runId = newRunId();
    setTurns((all) => [
      ...all,
      { runId, words, text: approve ? `${words} (approved)` : words, reply: null, error: null },
    ]);
    try {
      const reply = await postJson<ChatReply>('/api/chat', {
        text: words,
        approve,
        runId,
        stack: props.stack,
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
    void send(words, false);
  };

  return (
    <section className="card chat" aria-label="Chat with the agent">
      <h2>Ask the agent</h2>
      {!props.enabled && <p className="muted">The agent is not available in this console.</p>}
      <ol className="turns" role="log" ref={log}>
        {turns.map((turn) => {
          const progress = props.events.filter(
            (e) => e.source === 'chat' && e.runId === turn.runId && e.event.type === 'agent',
          );
          const declined = turn.reply?.approvals.filter((a) => !a.approved) ?? [];
          return (
            <li key={turn.runId} className="turn">
              <p className="said">{turn.text}</p>
              {progress.length > 0 && (
                <ul className="agent-steps">
                  {progress.map((e, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: events are append-only.
                    <li key={i}>{e.event.type === 'agent' ? e.event.detail : ''}</li>
                  ))}
                </ul>
              )}
              {!turn.reply && !turn.error && <p className="muted">working…</p>}
              {turn.reply && (
                <p className={`answer${turn.reply.ok ? '' : ' warn-text'}`} data-testid="chat-answer">
                  {turn.reply.answer}
                </p>
              )}
              {turn.error && <p className="error-text">{turn.error}</p>}
              {declined.length > 0 && (
                <div className="approval">
                  {declined.map((a) => (
                    <p key={a.summary}>
                      Needs your approval ({a.action} on {a.stack}): {a.summary}
                    </p>
                  ))}
                  {turn.approvedAgain ? (
                    <p className="muted">Approved: sent again below.</p>
                  ) : (
                    <button
                      type="button"
                      className="primary"
                      disabled={busy}
                      onClick={() => {
                        setTurns((all) =>
                          all.map((t) => (t.runId === turn.runId ? { ...t, approvedAgain: true } : t)),
                        );
                        void send(turn.words, true);
                      }}
                    >
                      Approve and run
                    </button>
                  )}
                </div>
              )}
            </li>
          );
        })}
      </ol>
      <form className="chat-form" onSubmit={submit}>
        <input
          aria-label="Message to the agent"
          placeholder="e.g. what's live?  ·  deploy the latest dashboard"
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
