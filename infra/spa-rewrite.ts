import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * The distribution's viewer-request CloudFront Function (cloudfront-js-2.0). It was a small SPA
 * rewrite; atomic releases made it FrontendOps' release router, which still does that job (a path
 * whose last segment has no file extension is an app route and gets the app's index.html; a missing
 * /assets/x.js stays a 404, never HTML) and also reads the live and canary release from the
 * KeyValueStore and rewrites every other path into that release's /_releases/<id>/ prefix.
 *
 * Its source is the tool's one plain-JS file, exported as frontendops/cloudfront-function.js, so
 * the code deployed here is the code the local edge runs and the tool's tests check.
 */
export const VIEWER_REQUEST_FUNCTION_FILE = createRequire(import.meta.url).resolve(
  'frontendops/cloudfront-function.js',
);

export const VIEWER_REQUEST_CODE = readFileSync(VIEWER_REQUEST_FUNCTION_FILE, 'utf8');
