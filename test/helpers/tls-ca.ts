// A throw-away certificate authority and a server certificate it signed for 127.0.0.1 and localhost,
// made with the openssl command (Node cannot sign certificates). Clients trust it through
// NODE_EXTRA_CA_CERTS=caPath (a spawned CLI) or a `ca` option (in process).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCa {
  /** The CA certificate (PEM file), for NODE_EXTRA_CA_CERTS. */
  caPath: string;
  ca: string;
  /** The server's certificate and key (PEM), signed by the CA. */
  cert: string;
  key: string;
  cleanup(): Promise<void>;
}

/** Why certificates cannot be made here (no openssl), or null. */
export async function opensslMissing(): Promise<string | null> {
  return run('openssl', ['version']).then(
    () => null,
    () => 'the openssl command is not installed (it makes the test CA)',
  );
}

export async function makeTestCa(): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-tls-'));
  const at = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    await run('openssl', ['req', '-x509', ...ec, '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '2', '-subj', '/CN=Ferry test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    await run('openssl', ['req', ...ec, '-keyout', at('server.key'), '-out', at('server.csr'), '-subj', '/CN=127.0.0.1']);
    await writeFile(at('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
    await run('openssl', ['x509', '-req', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial',
      '-out', at('server.pem'), '-days', '2', '-extfile', at('ext.cnf')]);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    caPath: at('ca.pem'),
    ca: await readFile(at('ca.pem'), 'utf8'),
    cert: await readFile(at('server.pem'), 'utf8'),
    key: await readFile(at('server.key'), 'utf8'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
