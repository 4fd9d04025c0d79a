// Runs inside a test VM as its /init's last step: starts the agent, and serves the test one
// JSON request per line on TCP 7000 (forwarded to the host's loopback only):
//   {"op":"exec","argv":[...],"timeoutMs":N} -> {"code","stdout","stderr"}   (argv, never a shell)
//   {"op":"agent","config":"/vx/x.yaml"}     -> {"ok":true}  stops the agent by its PID, starts it again
// Plain JavaScript: the guest runs node straight from the host's read-only /usr, with no build step.

import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let agent;

function startAgent(config) {
  agent = spawn(process.execPath, [`${cfg.repo}/dist/agent/main.js`, '--config', config], { stdio: ['ignore', 'inherit', 'inherit'] });
  agent.on('exit', (code, signal) => console.log(`vx-guest: agent exited (${code ?? signal})`));
}

function stopAgent() {
  return new Promise((resolve) => {
    if (!agent || agent.exitCode !== null || agent.signalCode !== null) return resolve();
    const kill = setTimeout(() => agent.kill('SIGKILL'), 10_000);
    agent.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    agent.kill('SIGTERM');
  });
}

function exec(req) {
  return new Promise((resolve) => {
    execFile(req.argv[0], req.argv.slice(1), { timeout: req.timeoutMs ?? 20_000 }, (err, stdout, stderr) => {
      resolve({
        code: err ? (typeof err.code === 'number' ? err.code : -1) : 0,
        stdout,
        stderr: stderr || (err && typeof err.code !== 'number' ? String(err.message) : ''),
      });
    });
  });
}

async function handle(line) {
  const req = JSON.parse(line);
  if (req.op === 'exec') return exec(req);
  if (req.op === 'agent') {
    await stopAgent();
    startAgent(req.config);
    return { ok: true };
  }
  return { error: `unknown op ${req.op}` };
}

startAgent(cfg.config);
createServer((sock) => {
  let buf = '';
  sock.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      handle(line)
        .catch((e) => ({ error: String(e) }))
        .then((reply) => sock.write(`${JSON.stringify(reply)}\n`));
    }
  });
  sock.on('error', () => undefined);
}).listen(7000, () => console.log('vx-guest: ready'));
