// Runs inside a test VM as its /init's last step: starts the agent (a VM host's config names
// one), and serves the test one JSON request per line — a VM host's on TCP 7000 (forwarded to the
// host's loopback only), a guest's on its virtio serial port `vx` (a guest's only NIC is its
// tenant's, which must not carry test traffic):
//   {"op":"exec","argv":[...],"timeoutMs":N} -> {"code","stdout","stderr"}   (argv, never a shell)
//   {"op":"spawn","argv":[...]}              -> {"pid"}  starts a server and leaves it running
//   {"op":"agent","config":"/vx/x.yaml"}     -> {"ok":true}  stops the agent by its PID, starts it again
// Plain JavaScript: the guest runs node straight from the host's read-only /usr, with no build step.

import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync, read, readdirSync, readFileSync, writeSync } from 'node:fs';
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
  if (req.op === 'spawn') return { pid: spawn(req.argv[0], req.argv.slice(1), { stdio: 'ignore' }).pid };
  if (req.op === 'agent') {
    await stopAgent();
    startAgent(req.config);
    return { ok: true };
  }
  return { error: `unknown op ${req.op}` };
}

/** Feeds whole lines to handle(); replies go to `write` in the order their requests came. */
function lineServer(write) {
  let buf = '';
  let queue = Promise.resolve();
  return (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      queue = queue.then(() => handle(line).catch((e) => ({ error: String(e) }))).then((reply) => write(`${JSON.stringify(reply)}\n`));
    }
  };
}

/** The virtio serial port named `name`; reads return 0 while the host side has no client. */
function serveVirtioPort(name) {
  const port = readdirSync('/sys/class/virtio-ports').find((p) => readFileSync(`/sys/class/virtio-ports/${p}/name`, 'utf8').trim() === name);
  if (!port) throw new Error(`no virtio port ${name}`);
  const fd = openSync(`/dev/${port}`, 'r+');
  const feed = lineServer((s) => writeSync(fd, s));
  const buf = Buffer.alloc(65536);
  const next = () =>
    read(fd, buf, 0, buf.length, null, (err, n) => {
      if (err) {
        closeSync(fd);
        throw err;
      }
      if (n > 0) feed(buf.toString('utf8', 0, n));
      setTimeout(next, n > 0 ? 0 : 100);
    });
  next();
  console.log('vx-guest: ready');
}

if (cfg.config) startAgent(cfg.config);
if (cfg.channel) serveVirtioPort(cfg.channel);
else
  createServer((sock) => {
    sock.on(
      'data',
      lineServer((s) => sock.write(s)),
    );
    sock.on('error', () => undefined);
  }).listen(7000, () => console.log('vx-guest: ready'));
