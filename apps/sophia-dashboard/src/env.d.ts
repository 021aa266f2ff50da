/// <reference types="vite/client" />

/** The commit this build was made from; replaced at build time by Vite's `define`. */
declare const __SOPHIA_COMMIT__: string | undefined;
