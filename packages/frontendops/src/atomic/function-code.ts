/**
 * Where the viewer-request CloudFront Function's source is. One plain-JS file serves both the Pulumi
 * program (as the function code, through the package export `frontendops/cloudfront-function.js`)
 * and the local edge's sandbox; the build copies it next to this module in dist/.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const VIEWER_REQUEST_FUNCTION_FILE = fileURLToPath(new URL('./viewer-request.js', import.meta.url));

export const readViewerRequestFunction = () => readFile(VIEWER_REQUEST_FUNCTION_FILE, 'utf8');
