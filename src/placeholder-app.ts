/**
 * The application a web server runs when the user names none: a dependency-free Node.js
 * HTTP server that says which server answered and answers the health check. It lets
 * `{ database: { … } }` alone deploy a complete, serving stack.
 */

/** Where the placeholder's script is uploaded in the application container. */
export const PLACEHOLDER_APP_PATH = '/opt/cdktf-distributed-web/placeholder-app.js';

/** Renders the placeholder application's source. */
export function renderPlaceholderApp(): string {
  return `'use strict';
// Rendered by cdktf-distributed-web: the placeholder application. Replace it with your own
// through the 'app' prop of the web servers.
const http = require('http');
const os = require('os');
const port = Number(process.env.PORT || 3000);
const server = process.env.SERVER_NAME || os.hostname();
const database = {
  primaryHost: process.env.DB_PRIMARY_HOST || null,
  readHost: process.env.DB_READ_HOST || null,
  name: process.env.DB_NAME || null,
};
const httpServer = http.createServer((req, res) => {
  const body = req.url === '/healthz'
    ? { status: 'ok', server: server }
    : { server: server, hostname: os.hostname(), path: req.url, database: database };
  res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': server });
  res.end(JSON.stringify(body) + '\\n');
});
httpServer.listen(port, () => console.log('placeholder app of ' + server + ' listening on ' + port));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    httpServer.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref();
  });
}
`;
}
