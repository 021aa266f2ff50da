/**
 * CloudFront Function (viewer-request, cloudfront-js-2.0) for the single-page app: a path whose last
 * segment has no file extension is an app route and gets /index.html; everything else goes to S3
 * unchanged, so a missing /assets/x.js stays a 404 and is never answered with HTML (which a
 * 403/404 custom error response would do, breaking open tabs with a confusing MIME error).
 */
export const SPA_REWRITE_CODE = `function handler(event) {
  var request = event.request;
  var uri = request.uri;
  var last = uri.substring(uri.lastIndexOf('/') + 1);
  if (last.indexOf('.') === -1) {
    request.uri = '/index.html';
  }
  return request;
}
`;
