/**
 * The most deployments one page of history holds, by who reads it. A person or a script (the CLI's
 * `history --limit`, the console's `?limit=`) may ask for a long page. A page that goes into a
 * model's context (the infra server's get_history, which the agent calls as well) is kept shorter:
 * every entry costs the model's context, and the next page is one call away.
 *
 * A module of its own, importing nothing: the agent's intents and the tool contract need the number,
 * not the history reader.
 */
export const HISTORY_PAGE_MAX = { reader: 500, model: 100 } as const;
