import type { Identity } from '../../../lib/identity.js';
import type { BlockDevice } from '../backend/block-device.js';

export interface ExportSummary {
  readonly name: string;
  readonly description?: string;
}

export interface NbdExport extends ExportSummary {
  readonly device: BlockDevice;
}

/**
 * Maps export names to devices. The volume store implements it so that a raft volume becomes
 * visible the moment this host holds a replica; `resolve` may be async for that reason.
 * The empty name is the "default" export; a resolver may alias it or leave it unknown.
 */
export interface ExportResolver {
  /**
   * `who`: the identity in the client's TLS certificate (undefined without TLS or without one); a
   * resolver answers as if exports the client may not use did not exist.
   */
  resolve(name: string, who?: Identity): NbdExport | undefined | Promise<NbdExport | undefined>;
  list(who?: Identity): readonly ExportSummary[] | Promise<readonly ExportSummary[]>;
}

/** A fixed name → device table, for tools and tests. */
export class StaticExportResolver implements ExportResolver {
  private readonly exports = new Map<string, NbdExport>();

  constructor(exports: readonly NbdExport[]) {
    for (const e of exports) {
      if (this.exports.has(e.name)) throw new Error(`duplicate export name ${JSON.stringify(e.name)}`);
      this.exports.set(e.name, e);
    }
  }

  resolve(name: string): NbdExport | undefined {
    return this.exports.get(name);
  }

  list(): readonly ExportSummary[] {
    return [...this.exports.values()].map(({ name, description }) => (description === undefined ? { name } : { name, description }));
  }
}
