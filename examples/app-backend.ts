// An app's backend handing its signed-in user a grant for Ferry's page (docs/operations.md, Access control).
// Run Ferry with FERRY_GRANT_SECRETS=app:$SECRET, then: FERRY_GRANT_SECRET=$SECRET npx tsx examples/app-backend.ts
import { createServer, type IncomingMessage } from 'node:http';
import { issueGrant } from 'ferry/grants';

const ferry = process.env.FERRY_URL ?? 'http://localhost:8080';
const secret = process.env.FERRY_GRANT_SECRET ?? ''; // shared with Ferry under the key id "app"
if (secret.length < 32) throw new Error('set FERRY_GRANT_SECRET to the secret Ferry verifies grants with');

const app = createServer(async (req, res) => {
  const user = signedInUser(req);
  if (!user) return void res.writeHead(401).end('sign in first');
  const grant = await issueGrant({
    kid: 'app', secret, identity: user, expiresIn: '30m',
    scope: { upload: { maxBytes: 5 * 1024 ** 3, maxFiles: 20 }, files: 'write' },
  });
  // A fragment never reaches a server's logs; the page keeps the grant in sessionStorage only.
  res.writeHead(303, { location: `${ferry}/#grant=${grant}` }).end();
});
app.listen(Number(process.env.PORT ?? 3000), () => console.log(`app on port ${(app.address() as { port: number }).port}`));

/** Stands in for the app's own session check (a cookie, a session store...). */
function signedInUser(req: IncomingMessage): string | undefined {
  return req.headers['x-demo-user']?.toString();
}
