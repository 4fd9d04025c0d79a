// The client side of lab/vm/guest.mjs, the helper in every VM: one JSON request per line, one
// reply per line, over a loopback port (VM hosts) or a unix socket (tests' guests).

import { connect } from 'node:net';

/** Where a VM's helper listens. */
export type HelperChannel = { port: number } | { path: string };

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One request on its own connection; rejects after `timeoutMs`. */
export function helperRequest<T>(channel: HelperChannel, req: object, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const sock = 'port' in channel ? connect(channel.port, '127.0.0.1') : connect(channel.path);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`the VM's helper did not answer ${JSON.stringify(req)} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('data', (d) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i < 0) return;
      clearTimeout(timer);
      sock.end();
      resolve(JSON.parse(buf.slice(0, i)) as T);
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.write(`${JSON.stringify(req)}\n`);
  });
}

/** Runs argv in the VM (never a shell). */
export const helperExec = (channel: HelperChannel, argv: string[], timeoutMs = 20_000): Promise<ExecResult> =>
  helperRequest(channel, { op: 'exec', argv, timeoutMs }, timeoutMs + 10_000);
