// Every status change of the signed-in user's commands, from
// `GET /beta/me/events` (DESIGN 2), handed to whoever subscribed: the
// command list and the rate chart. Subscribers get every event, even when
// several arrive in one turn (state updates would be batched into one).

import { useEffect, useMemo, useState } from 'preact/hooks';
import { followEvents } from './sse.js';

export function createHub() {
  const listeners = new Set();
  return {
    /** @returns the unsubscribe function (an effect's cleanup) */
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    emit(change) {
      for (const listener of listeners) listener(change);
    },
  };
}

/** Follows the user's event stream while mounted; returns the hub and the stream's state for display. */
export function useUserEvents(api) {
  const hub = useMemo(createHub, [api]);
  const [state, setState] = useState('connecting');

  useEffect(() => {
    const controller = new AbortController();
    followEvents('/beta/me/events', { token: api.token, signal: controller.signal, onEvent: hub.emit, onState: setState }).catch((error) =>
      setState(`stopped: ${error.message}`),
    );
    return () => controller.abort();
  }, [api, hub]);

  return { hub, state };
}
