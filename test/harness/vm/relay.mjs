// Run by a guest's user-mode NIC (QEMU's guestfwd `cmd:`) once per connection the guest opens:
// relays it (stdin/stdout) to the unix socket argv[2] — a storage host's NBD listener. It stands
// in for a storage network between guests and storage hosts; the bytes, TLS included, are the
// guest's own.

import { connect } from 'node:net';

const sock = connect(process.argv[2]);
process.stdin.pipe(sock);
sock.pipe(process.stdout);
sock.on('close', () => process.exit(0));
sock.on('error', () => process.exit(1));
