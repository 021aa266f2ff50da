/**
 * How long a preview link works, in whole hours, said once for every door that makes one (the CLI's
 * --hours, the preview_release tool, the console) and for the link's signing: by default, and at the
 * least and most. Previews are for reviewing a release, not a second site.
 */
export const PREVIEW_HOURS = { default: 24, min: 1, max: 7 * 24 } as const;

/** Seconds in an hour: a link's hours as the token's lifetime. */
export const previewSeconds = (hours: number): number => hours * 3600;
