export declare const STALE_CHUNK_KEPT_MS: number;
export declare function retireOldChunks(
  outdir: string,
  keep: Set<string>,
  now?: number,
): Promise<{ kept: string[]; deleted: string[] }>;
