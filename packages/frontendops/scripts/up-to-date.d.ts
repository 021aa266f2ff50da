export declare function modifiedAt(file: string): Promise<number>;
export declare function writeBundleStamp(
  stampFile: string,
  bundle: {
    root: string;
    alsoInputs: string[];
    metafile: { inputs: Record<string, unknown> };
    files: string[];
    startedAt: number;
  },
): Promise<void>;
export declare function currentBundle(
  stampFile: string,
  options: { root: string; outdir: string; alsoInputs: string[] },
): Promise<string[] | null>;
