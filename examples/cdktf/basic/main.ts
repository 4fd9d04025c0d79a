// examples/hcl/basic as a CDKTF stack: a VPC with two subnets across the compute hosts, and a NIC
// per subnet on two hosts. Synthesize, then apply the JSON with terraform against a lab:
//
//   node dist/examples/cdktf/basic/main.js /run/vxcloud/labs/vxlab/lab.json [OUTDIR]
//   cd OUTDIR/stacks/basic && terraform init && terraform apply      (OUTDIR defaults to cdktf.out)
//
// The lab file may also come from VXCLOUD_LAB_FILE; NICs' namespaces are prefixed with
// VXCLOUD_NAMESPACE_PREFIX (default vxlab: use the lab's name, so `lab down` removes leftovers).
// Outside this repository the bindings are imported from `vxcloud/cdktf`.

import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Fn, LocalBackend, TerraformOutput, TerraformStack, Token } from 'cdktf';
import type { Construct } from 'constructs';
import { dataVxcloudHosts, nic, provider, subnet, vpc } from '../../../provider/cdktf/index.js';

// README: begin (the README's CDKTF section shows this part verbatim)
export interface BasicOptions {
  /** Lab file written by `vxctl lab up`. */
  readonly labFile: string;
  /** Prefix of the NICs' network namespaces. */
  readonly namespacePrefix: string;
}

export const STACK = 'basic';

export class BasicStack extends TerraformStack {
  constructor(scope: Construct, id: string, opts: BasicOptions) {
    super(scope, id);
    // State next to the synthesized JSON, not under the directory the app ran in.
    new LocalBackend(this, { path: 'terraform.tfstate' });
    new provider.VxcloudProvider(this, 'vxcloud', { labFile: opts.labFile });

    const compute = new dataVxcloudHosts.DataVxcloudHosts(this, 'compute', { role: 'compute' });
    const demo = new vpc.Vpc(this, 'demo', { name: 'demo', tenant: 'acme', cidr: '198.18.0.0/16' });
    const subnets = {
      web: new subnet.Subnet(this, 'web', { vpcId: demo.id, name: 'web', cidr: '198.18.1.0/24' }),
      db: new subnet.Subnet(this, 'db', { vpcId: demo.id, name: 'db', cidr: '198.18.2.0/24' }),
    };
    for (const [name, s] of Object.entries(subnets)) {
      const nics = [0, 1].map((i) => {
        const namespace = `${opts.namespacePrefix}-${name}${i}`;
        const n = new nic.Nic(this, `${name}${i}`, { subnetId: s.id, host: Token.asString(Fn.element(compute.names, i)), namespace });
        return [namespace, { host: n.host, ip: n.ip, mac: n.mac }] as const;
      });
      // Named and shaped like the HCL example's outputs (namespace → { host, ip, mac }); the
      // construct id differs because the subnet already has the id `name` in this scope.
      new TerraformOutput(this, `${name}-nics`, { value: Object.fromEntries(nics) }).overrideLogicalId(name);
    }
  }
}

// README: end

/** Synthesizes the stack into `outdir`; returns the path of its Terraform JSON. */
export function synthBasic(outdir: string, opts: BasicOptions): string {
  const app = new App({ outdir });
  new BasicStack(app, STACK, opts);
  app.synth();
  return join(outdir, 'stacks', STACK, 'cdk.tf.json');
}

const entry = process.argv[1];
if (entry && realpathSync(entry) === fileURLToPath(import.meta.url)) {
  const labFile = process.argv[2] ?? process.env.VXCLOUD_LAB_FILE;
  if (!labFile) {
    process.stderr.write('usage: main.js LAB_FILE [OUTDIR]   (or VXCLOUD_LAB_FILE=LAB_FILE)\n');
    process.exit(2);
  }
  const out = synthBasic(process.argv[3] ?? 'cdktf.out', { labFile, namespacePrefix: process.env.VXCLOUD_NAMESPACE_PREFIX ?? 'vxlab' });
  process.stdout.write(`${out}\n`);
}
