/** The server-sent event stream (`/api/events`): the latest progress events of every run. */
import { useEffect, useState } from 'react';
import type { ConsoleEvent } from '../types.ts';

const KEEP = 300;

export function useEventStream(enabled: boolean, onFinished: () => void): ConsoleEvent[] {
  const [events, setEvents] = useState<ConsoleEvent[]>([]);
  useEffect(() => {
    if (!enabled) return;
    const source = new EventSource('/api/events');
    source.onmessage = (message) => {
      const event = JSON.parse(message.data as string) as ConsoleEvent;
      setEvents((all) => [...all.slice(-KEEP + 1), event]);
      if (event.event.type === 'done' || event.event.type === 'error') onFinished();
    };
    return () => source.close();
  }, [enabled, onFinished]);
  return events;
}
