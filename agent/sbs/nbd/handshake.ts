// Option haggling as a state machine with no I/O: the server feeds it options and carries out the
// outcome (send replies, upgrade to TLS, enter transmission, or hang up).
import type { BlockDevice, BlockSizeConstraints } from '../backend/block-device.js';
import { decodeInfoRequest, decodeString, encodeExportNameReply, encodeInfo, encodeOptionReply, encodeServerEntry, encodeString } from './codec.js';
import type { Identity } from '../../../lib/identity.js';
import type { ExportResolver, NbdExport } from './exports.js';
import {
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_FLAG_CAN_MULTI_CONN,
  NBD_FLAG_HAS_FLAGS,
  NBD_FLAG_READ_ONLY,
  NBD_FLAG_SEND_FLUSH,
  NBD_FLAG_SEND_FUA,
  NBD_FLAG_SEND_TRIM,
  NBD_FLAG_SEND_WRITE_ZEROES,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_DESCRIPTION,
  NBD_INFO_EXPORT,
  NBD_INFO_NAME,
  NBD_OPT_ABORT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO,
  NBD_OPT_INFO,
  NBD_OPT_LIST,
  NBD_OPT_STARTTLS,
  NBD_REP_ACK,
  NBD_REP_ERR_INVALID,
  NBD_REP_ERR_POLICY,
  NBD_REP_ERR_TLS_REQD,
  NBD_REP_ERR_UNKNOWN,
  NBD_REP_ERR_UNSUP,
  NBD_REP_INFO,
  NBD_REP_SERVER,
} from './protocol.js';

/**
 * 'none': no TLS (STARTTLS answered with NBD_REP_ERR_POLICY).
 * 'optional': the client may upgrade (the protocol's SELECTIVETLS with no TLS-only export).
 * 'required': every option but STARTTLS and ABORT is refused until TLS is up (FORCEDTLS).
 */
export type TlsMode = 'none' | 'optional' | 'required';

export type NegotiationOutcome =
  /** Send the replies and wait for the next option. */
  | { readonly kind: 'continue'; readonly replies: readonly Buffer[] }
  /** Send the replies (an ACK), then run the TLS handshake as server. */
  | { readonly kind: 'starttls'; readonly replies: readonly Buffer[] }
  /** Send the replies, then switch to the transmission phase on this export. */
  | { readonly kind: 'transmit'; readonly replies: readonly Buffer[]; readonly export: NbdExport }
  /** Send the replies (if any), then close the connection. */
  | { readonly kind: 'close'; readonly replies: readonly Buffer[]; readonly reason: string };

/** Client flags the server understands; any other bit set means the client must be dropped. */
export const KNOWN_CLIENT_FLAGS = NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES;

export function transmissionFlags(device: BlockDevice): number {
  let flags = NBD_FLAG_HAS_FLAGS;
  if (device.readOnly) flags |= NBD_FLAG_READ_ONLY;
  if (device.flush) flags |= NBD_FLAG_SEND_FLUSH;
  if (device.fua && !device.readOnly) flags |= NBD_FLAG_SEND_FUA;
  if (device.trim && !device.readOnly) flags |= NBD_FLAG_SEND_TRIM;
  if (device.writeZeroes && !device.readOnly) flags |= NBD_FLAG_SEND_WRITE_ZEROES;
  if (device.multiConn) flags |= NBD_FLAG_CAN_MULTI_CONN;
  return flags;
}

/**
 * The device's constraints with the maximum payload capped by the server's own limit, which bounds
 * what one request may make the server hold in memory whatever the backend accepts.
 */
export function effectiveBlockSize(device: BlockDevice, maxPayload: number): BlockSizeConstraints {
  const { minimum, preferred, maximum } = device.blockSize;
  return { minimum, preferred, maximum: Math.min(maximum, maxPayload - (maxPayload % minimum)) };
}

export class Negotiation {
  private tlsActive = false;
  /** Who the client's TLS certificate says it is, once TLS is up. */
  private who: Identity | undefined;
  readonly noZeroes: boolean;

  /** Throws if the client flags carry bits this server did not offer (the spec requires a hang-up). */
  constructor(
    private readonly resolver: ExportResolver,
    private readonly tlsMode: TlsMode,
    clientFlags: number,
    private readonly maxPayload: number,
  ) {
    if ((clientFlags & ~KNOWN_CLIENT_FLAGS) !== 0) {
      throw new Error(`unknown client flags 0x${clientFlags.toString(16)}`);
    }
    this.noZeroes = (clientFlags & NBD_FLAG_C_NO_ZEROES) !== 0;
    // TLS requires fixed newstyle; a client without it can only be served in the clear.
    if ((clientFlags & NBD_FLAG_C_FIXED_NEWSTYLE) === 0 && tlsMode === 'required') {
      throw new Error('client does not speak fixed newstyle, but TLS is required');
    }
  }

  get tls(): boolean {
    return this.tlsActive;
  }

  /** Called by the server once the TLS handshake that followed a 'starttls' outcome succeeded. */
  tlsEstablished(who?: Identity): void {
    this.tlsActive = true;
    this.who = who;
  }

  async handle(option: number, data: Buffer): Promise<NegotiationOutcome> {
    const mustUpgrade = this.tlsMode === 'required' && !this.tlsActive;
    if (option === NBD_OPT_EXPORT_NAME) {
      // This option cannot carry an error, so every refusal is a hang-up.
      if (mustUpgrade) return close('NBD_OPT_EXPORT_NAME before STARTTLS while TLS is required');
      const name = decodeString(data);
      if (name === undefined) return close('export name is not a valid NBD string');
      const found = await this.resolver.resolve(name, this.who);
      if (!found) return close(`unknown export ${JSON.stringify(name)}`);
      const device = found.device;
      return {
        kind: 'transmit',
        replies: [encodeExportNameReply(device.size, transmissionFlags(device), this.noZeroes)],
        export: found,
      };
    }
    if (option === NBD_OPT_ABORT) {
      return { kind: 'close', replies: [encodeOptionReply(option, NBD_REP_ACK)], reason: 'client aborted' };
    }
    if (option === NBD_OPT_STARTTLS) return this.startTls(data);
    if (mustUpgrade) return reply(option, NBD_REP_ERR_TLS_REQD, 'TLS is required: send NBD_OPT_STARTTLS first');
    switch (option) {
      case NBD_OPT_LIST:
        return this.list(data);
      case NBD_OPT_INFO:
      case NBD_OPT_GO:
        return this.info(option, data);
      default:
        return reply(option, NBD_REP_ERR_UNSUP, `option ${option} is not supported`);
    }
  }

  private startTls(data: Buffer): NegotiationOutcome {
    if (this.tlsMode === 'none') return reply(NBD_OPT_STARTTLS, NBD_REP_ERR_POLICY, 'TLS is not configured');
    if (this.tlsActive) return reply(NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID, 'TLS is already active');
    if (data.length !== 0) return reply(NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID, 'STARTTLS takes no data');
    return { kind: 'starttls', replies: [encodeOptionReply(NBD_OPT_STARTTLS, NBD_REP_ACK)] };
  }

  private async list(data: Buffer): Promise<NegotiationOutcome> {
    if (data.length !== 0) return reply(NBD_OPT_LIST, NBD_REP_ERR_INVALID, 'NBD_OPT_LIST takes no data');
    const exports = await this.resolver.list(this.who);
    const replies = exports.map((e) => encodeOptionReply(NBD_OPT_LIST, NBD_REP_SERVER, encodeServerEntry(e.name, e.description)));
    replies.push(encodeOptionReply(NBD_OPT_LIST, NBD_REP_ACK));
    return { kind: 'continue', replies };
  }

  private async info(option: number, data: Buffer): Promise<NegotiationOutcome> {
    const request = decodeInfoRequest(data);
    if (typeof request === 'string') return reply(option, NBD_REP_ERR_INVALID, request);
    const found = await this.resolver.resolve(request.name, this.who);
    if (!found) return reply(option, NBD_REP_ERR_UNKNOWN, `unknown export ${JSON.stringify(request.name)}`);
    const { device } = found;
    const infos = [encodeInfo({ type: NBD_INFO_EXPORT, size: device.size, transmissionFlags: transmissionFlags(device) })];
    const wanted = new Set(request.infos);
    if (wanted.has(NBD_INFO_NAME)) infos.push(encodeInfo({ type: NBD_INFO_NAME, name: found.name }));
    if (wanted.has(NBD_INFO_DESCRIPTION) && found.description !== undefined) {
      infos.push(encodeInfo({ type: NBD_INFO_DESCRIPTION, description: found.description }));
    }
    if (wanted.has(NBD_INFO_BLOCK_SIZE)) {
      infos.push(encodeInfo({ type: NBD_INFO_BLOCK_SIZE, ...effectiveBlockSize(device, this.maxPayload) }));
    }
    const replies = infos.map((payload) => encodeOptionReply(option, NBD_REP_INFO, payload));
    replies.push(encodeOptionReply(option, NBD_REP_ACK));
    if (option === NBD_OPT_GO) return { kind: 'transmit', replies, export: found };
    return { kind: 'continue', replies };
  }
}

function reply(option: number, type: number, message: string): NegotiationOutcome {
  return { kind: 'continue', replies: [encodeOptionReply(option, type, encodeString(message))] };
}

function close(reason: string): NegotiationOutcome {
  return { kind: 'close', replies: [], reason };
}
